"""Helpers shared by the exporters that write a servable model folder (export.py, export_paper.py):
file hashes, the manifest's image preprocessing, calibration percentile points, manifest writing."""
from __future__ import annotations

import hashlib
import json
import os
from typing import List, Optional, Sequence

import numpy as np
from PIL import Image

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
# skimage astronaut (NASA, public domain) and coffee (CC0): the two parity images
PARITY_IMAGES = ("astronaut.png", "coffee.png")
CALIBRATION_PERCENTILES = (0, 1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99, 100)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def preprocess(path: str, size: int, mean: Optional[Sequence[float]] = None,
               std: Optional[Sequence[float]] = None) -> np.ndarray:
    """Manifest preprocessing: shortest-edge resize to size (bicubic), centre crop, /255, NCHW;
    then (x - mean) / std per channel when mean / std are given (float32 [3, size, size])."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    f = size / min(w, h)
    nw, nh = max(size, round(w * f)), max(size, round(h * f))
    im = im.resize((nw, nh), Image.BICUBIC)
    x0, y0 = (nw - size) // 2, (nh - size) // 2
    a = np.asarray(im.crop((x0, y0, x0 + size, y0 + size)), dtype=np.float32) / 255.0
    a = a.transpose(2, 0, 1).copy()
    if mean is not None or std is not None:
        m = np.asarray(mean if mean is not None else (0.0, 0.0, 0.0), dtype=np.float32).reshape(3, 1, 1)
        s = np.asarray(std if std is not None else (1.0, 1.0, 1.0), dtype=np.float32).reshape(3, 1, 1)
        a = ((a - m) / s).astype(np.float32)
    return a


def parity_pixels(size: int, mean: Optional[Sequence[float]] = None,
                  std: Optional[Sequence[float]] = None) -> np.ndarray:
    """The two parity images preprocessed as the manifest says: float32 [2, 3, size, size]."""
    return np.stack([preprocess(os.path.join(SKIMAGE_DATA, n), size, mean, std) for n in PARITY_IMAGES])


def percentile_points(scores: Sequence[float], percentiles: Sequence[float] = CALIBRATION_PERCENTILES,
                      decimals: int = 4) -> List[list]:
    """[[score, percentile], ...] of the scores, rounded, keeping only strictly increasing pairs."""
    vals = np.percentile(np.asarray(scores), list(percentiles))
    pts: List[list] = []
    for p, v in zip(percentiles, vals):
        v = round(float(v), decimals)
        if not pts or (v > pts[-1][0] and p > pts[-1][1]):
            pts.append([v, p])
    return pts


def write_manifest(out: str, manifest: dict) -> str:
    path = os.path.join(out, "manifest.json")
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return path


def folder_size(out: str) -> int:
    return sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out) for fn in fns)


# Texts for the tokenizer parity fixtures (TypeScript vs Python): scripts, normalisation traps, truncation.
TOKENIZER_CASES = [
    "A crisp, lovely photo.",
    "blurry and TOO dark!!!",
    "",
    "   ",
    "Café crème brûlée at the Musée d'Orsay",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ ａｎｄ １２３",
    "ﬁne ﬂowers (ligatures)",
    "Straße GROSS groß",
    "İstanbul at night",
    "Ωμέγα Σίσυφος ΣΟΦΟΣ",
    "東京の夜景 とても綺麗",
    "emoji 📷✨ between words🙂ok",
    "𝐁𝐨𝐥𝐝 math letters 𝟙𝟚𝟛",
    "numbers 2019, 3.14, 1/250s f/2.8 ISO-3200",
    "snake_case and kebab-case and dot.separated",
    "don't can't it's o'clock",
    "tabs\tand\nnewlines\r\nmixed",
    "zero\u200bwidth\u00a0nbsp soft\u00adhyphen",
    "combining e\u0301 vs precomposed é",
    "Ⅻ roman numeral ½ fraction ² superscript",
    "unknownwordxyzzy qwertyuiop blorptastic",
    "HTML <b>bold</b> &amp; entities &#39;",
    "https://example.com/path?q=sunset&lang=en",
    "email@example.com #hashtag @mention",
    "Arabic: صورة جميلة جدا",
    "Hindi: बहुत सुंदर तस्वीर",
    "Korean: 아름다운 사진",
    "splendid magnificent dreadful lousy",
    "x" * 5 + " " + " ".join(["word"] * 60),
    "\n".join(["first comment: sharp", "second comment: noisy", "caption: my cat"]),
    " ".join(f"w{i}" for i in range(80)),
]
