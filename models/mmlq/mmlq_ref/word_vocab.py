"""The ``word-vocab`` tokenizer (docs/MODEL_FORMAT.md): the default model's text tokenisation.

layers/core/src/tokenizer.ts implements the same rules for serving.
"""
from __future__ import annotations

import unicodedata
from typing import List, Optional, Sequence, Tuple

import torch


class WordVocabTokenizer:
    """NFKC -> lower-case -> maximal runs of L*/N* code points -> vocab line number (else unknownId)."""

    def __init__(self, vocab: List[str], lowercase: bool = True, pad_id: int = 0, unknown_id: int = 1,
                 max_tokens: int = 48):
        if vocab[pad_id] != "<pad>" or vocab[unknown_id] != "<unk>":
            raise ValueError("vocab line padId must be <pad> and line unknownId <unk>")
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        if len(self.index) != len(self.vocab):
            raise ValueError("duplicate vocab entries")
        self.lowercase = lowercase
        self.pad_id = pad_id
        self.unknown_id = unknown_id
        self.max_tokens = max_tokens

    @staticmethod
    def load(path: str, **kw) -> "WordVocabTokenizer":
        with open(path, "r", encoding="utf-8") as f:
            vocab = f.read().split("\n")
        if vocab and vocab[-1] == "":
            vocab.pop()
        return WordVocabTokenizer(vocab, **kw)

    @staticmethod
    def words(text: str, lowercase: bool = True) -> List[str]:
        t = unicodedata.normalize("NFKC", text)
        if lowercase:
            t = t.lower()
        out: List[str] = []
        cur: List[str] = []
        for ch in t:
            if unicodedata.category(ch)[0] in ("L", "N"):
                cur.append(ch)
            elif cur:
                out.append("".join(cur))
                cur = []
        if cur:
            out.append("".join(cur))
        return out

    def ids(self, text: str) -> List[int]:
        return [self.index.get(w, self.unknown_id) for w in self.words(text, self.lowercase)]

    def encode(self, text: Optional[str]) -> Tuple[List[int], List[int]]:
        ids = self.ids(text)[: self.max_tokens] if text else []
        mask = [1] * len(ids) + [0] * (self.max_tokens - len(ids))
        ids = ids + [self.pad_id] * (self.max_tokens - len(ids))
        return ids, mask

    def batch(self, texts: Sequence[Optional[str]]) -> Tuple[torch.Tensor, torch.Tensor]:
        enc = [self.encode(t) for t in texts]
        return (torch.tensor([e[0] for e in enc], dtype=torch.int64),
                torch.tensor([e[1] for e in enc], dtype=torch.int64))
