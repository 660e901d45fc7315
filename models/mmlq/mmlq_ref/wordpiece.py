"""Minimal BERT WordPiece tokenizer read from a Hugging Face ``tokenizer.json`` (parity fixtures only).

The runtime tokenizes with ``@huggingface/tokenizers`` (tokenizers.js) on the same tokenizer.json; this
module reproduces that pipeline so the exporter can write input ids for the parity fixtures and
``parity/tokenizer_cases.json`` (which the TypeScript test compares with tokenizers.js):

1. added tokens (the specials, ``normalized: false``) are split out of the raw text first;
2. BertNormalizer: clean text (drop U+0000, U+FFFD and control characters Cc/Cf/Co/Cs except
   \\t \\n \\r; whitespace -> " "), spaces around CJK ideographs, lower-case, strip accents (NFD,
   drop Mn) when ``strip_accents`` is true or null-with-lowercase;
3. BertPreTokenizer: trim, split on whitespace, every punctuation character (Unicode P* or ASCII
   !-/ :-@ [-` {-~) is a word of its own;
4. WordPiece: greedy longest-match-first with the ``##`` continuing prefix; a word longer than
   ``max_input_chars_per_word`` code points, or one that cannot be pieced, is a single [UNK];
5. ``[CLS] ... [SEP]``, truncated to ``max_tokens`` keeping the final [SEP], padded with [PAD].

Whitespace is JavaScript's ``\\s`` set (what tokenizers.js uses).  Empty, None or whitespace-only
text is the image-only mode: all-[PAD] ids and an all-zero attention mask (the runtime does the same).
Known difference from tokenizers.js 0.2.0: it tests CJK ideographs per UTF-16 code unit, so
ideographs outside the BMP (CJK extension B+) are not spaced there; here (and in Rust tokenizers /
original BERT) they are.  Unicode tables: Python's unicodedata vs Node's ICU (versions may differ
for recently assigned characters).
"""
from __future__ import annotations

import json
import re
import unicodedata
from typing import Dict, List, Optional, Sequence, Tuple

# JavaScript \s (ECMAScript WhiteSpace + LineTerminator)
JS_WHITESPACE = frozenset("\t\n\x0b\x0c\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
                          + "".join(chr(c) for c in range(0x2000, 0x200B)))
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def is_js_whitespace(ch: str) -> bool:
    return ch in JS_WHITESPACE


def js_trim(text: str) -> str:
    i, j = 0, len(text)
    while i < j and text[i] in JS_WHITESPACE:
        i += 1
    while j > i and text[j - 1] in JS_WHITESPACE:
        j -= 1
    return text[i:j]


def is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 0x21 <= cp <= 0x2F or 0x3A <= cp <= 0x40 or 0x5B <= cp <= 0x60 or 0x7B <= cp <= 0x7E:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(a <= cp <= b for a, b in _CJK_RANGES)


class WordPieceTokenizer:
    def __init__(self, vocab: Dict[str, int], *, unk_token: str = "[UNK]", cls_token: str = "[CLS]",
                 sep_token: str = "[SEP]", pad_token: str = "[PAD]", prefix: str = "##",
                 max_input_chars_per_word: int = 100, lowercase: bool = True, strip_accents: Optional[bool] = None,
                 clean_text: bool = True, handle_chinese_chars: bool = True,
                 added_tokens: Sequence[str] = (), max_tokens: int = 64):
        self.vocab = dict(vocab)
        for t in (unk_token, cls_token, sep_token, pad_token):
            if t not in self.vocab:
                raise ValueError(f"special token {t} is not in the vocabulary")
        self.unk_token, self.prefix = unk_token, prefix
        self.unk_id = self.vocab[unk_token]
        self.cls_id, self.sep_id, self.pad_id = self.vocab[cls_token], self.vocab[sep_token], self.vocab[pad_token]
        self.max_chars = max_input_chars_per_word
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.clean_text = clean_text
        self.handle_chinese_chars = handle_chinese_chars
        self.added = [t for t in added_tokens if t]
        self._added_rx = (re.compile("|".join(re.escape(t) for t in sorted(self.added, key=len, reverse=True)))
                          if self.added else None)
        if max_tokens < 2:
            raise ValueError("max_tokens must be at least 2 ([CLS] and [SEP])")
        self.max_tokens = max_tokens

    @property
    def vocab_size(self) -> int:
        return max(self.vocab.values()) + 1

    @staticmethod
    def from_tokenizer_json(path: str, max_tokens: int = 64) -> "WordPieceTokenizer":
        with open(path, "r", encoding="utf-8") as f:
            tj = json.load(f)
        model = tj.get("model") or {}
        if model.get("type") != "WordPiece":
            raise ValueError(f"{path}: model.type is {model.get('type')!r}, expected WordPiece (a BERT tokenizer)")
        norm = tj.get("normalizer") or {}
        if norm and norm.get("type") != "BertNormalizer":
            raise ValueError(f"{path}: normalizer {norm.get('type')!r} is not supported (BertNormalizer only)")
        pre = tj.get("pre_tokenizer") or {}
        if pre.get("type") != "BertPreTokenizer":
            raise ValueError(f"{path}: pre_tokenizer {pre.get('type')!r} is not supported (BertPreTokenizer only)")
        vocab = dict(model["vocab"])
        added = []
        for t in tj.get("added_tokens") or []:
            vocab.setdefault(t["content"], t["id"])
            if vocab[t["content"]] != t["id"]:
                raise ValueError(f"{path}: added token {t['content']} has id {t['id']} but vocab id {vocab[t['content']]}")
            if not t.get("normalized", False):
                added.append(t["content"])
        return WordPieceTokenizer(
            vocab, unk_token=model.get("unk_token", "[UNK]"),
            prefix=model.get("continuing_subword_prefix", "##"),
            max_input_chars_per_word=model.get("max_input_chars_per_word", 100),
            lowercase=bool(norm.get("lowercase", False)), strip_accents=norm.get("strip_accents"),
            clean_text=bool(norm.get("clean_text", False)),
            handle_chinese_chars=bool(norm.get("handle_chinese_chars", False)),
            added_tokens=added, max_tokens=max_tokens)

    # -- pipeline ---------------------------------------------------------------------------------
    def normalize(self, text: str) -> str:
        if self.clean_text:
            text = "".join(" " if ch in JS_WHITESPACE else ch for ch in text
                           if ch not in ("\x00", "\ufffd") and not is_control(ch))
        if self.handle_chinese_chars:
            text = "".join(f" {ch} " if is_cjk(ch) else ch for ch in text)
        if self.lowercase:
            text = text.lower()
        if self.strip_accents:
            text = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")
        return text

    @staticmethod
    def pre_tokenize(text: str) -> List[str]:
        out: List[str] = []
        cur: List[str] = []
        for ch in js_trim(text):
            if ch in JS_WHITESPACE or is_punctuation(ch):
                if cur:
                    out.append("".join(cur))
                    cur = []
                if ch not in JS_WHITESPACE:
                    out.append(ch)
            else:
                cur.append(ch)
        if cur:
            out.append("".join(cur))
        return out

    def wordpiece(self, word: str) -> List[str]:
        if len(word) > self.max_chars:
            return [self.unk_token]
        pieces: List[str] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                sub = word[start:end]
                if start > 0:
                    sub = self.prefix + sub
                if sub in self.vocab:
                    found = sub
                    break
                end -= 1
            if found is None:
                return [self.unk_token]
            pieces.append(found)
            start = end
        return pieces

    def tokenize(self, text: str) -> List[str]:
        """Word pieces of text (no [CLS]/[SEP]); added (special) tokens in the text are kept whole."""
        sections = [text]
        if self._added_rx is not None:
            sections, pos = [], 0
            for m in self._added_rx.finditer(text):
                sections += [text[pos:m.start()], m.group(0)]
                pos = m.end()
            sections.append(text[pos:])
        toks: List[str] = []
        for s in sections:
            if not s:
                continue
            if s in self.added:
                toks.append(s)
                continue
            for w in self.pre_tokenize(self.normalize(s)):
                toks += self.wordpiece(w)
        return toks

    def ids(self, text: str) -> List[int]:
        """[CLS] pieces [SEP] ids, not truncated."""
        return [self.cls_id] + [self.vocab.get(t, self.unk_id) for t in self.tokenize(text)] + [self.sep_id]

    @staticmethod
    def is_image_only(text: Optional[str]) -> bool:
        return text is None or js_trim(text) == ""

    def encode(self, text: Optional[str]) -> Tuple[List[int], List[int]]:
        """(input_ids, attention_mask), each max_tokens long; image-only text -> all [PAD], all 0."""
        n = self.max_tokens
        if self.is_image_only(text):
            return [self.pad_id] * n, [0] * n
        ids = self.ids(text)
        if len(ids) > n:
            ids = ids[: n - 1] + [self.sep_id]
        mask = [1] * len(ids) + [0] * (n - len(ids))
        return ids + [self.pad_id] * (n - len(ids)), mask

    def batch(self, texts: Sequence[Optional[str]]):
        import torch

        enc = [self.encode(t) for t in texts]
        return (torch.tensor([e[0] for e in enc], dtype=torch.int64),
                torch.tensor([e[1] for e in enc], dtype=torch.int64))
