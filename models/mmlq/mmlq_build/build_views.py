"""Build the 448x448 training / validation views (uint8, raw NHWC) and their metadata.

  python3 -m mmlq_build.build_views --out /work/scratch/h2/data [--crops-photo 55 --crops-art 25] [--smoke]

Writes <out>/<split>/views.u8 (N x 448 x 448 x 3) and <out>/<split>/meta.json.
Train views are grouped by crop: the original (S = 0), sometimes a legit style of it (S = 0), and
three damaged versions (one kind, or two kinds 25% of the time; severities skewed towards mild).
Validation views: for each held-out photo, 4 crops (the first is exactly the serving view: short
side 448, centre crop), each with the original, blur / exposure / JPEG / noise at the three fixed
levels, the legit styles, and every other damage kind at s = 0.8.
"""
from __future__ import annotations

import argparse
import json
import math
import os
from multiprocessing import Pool

import numpy as np
from PIL import Image

from mmlq_build import degrade as D
from mmlq_build.sources import all_sources, split

S = 448
LEVELS = {
    "gblur": [("mild", 1.2), ("medium", 3.0), ("strong", 6.0)],
    "under": [("mild", 0.6), ("medium", 0.4), ("strong", 0.25)],
    "jpeg": [("mild", 25), ("medium", 10), ("strong", 4)],
    "noise": [("mild", 15), ("medium", 35), ("strong", 70)],
}
OTHER_KINDS = ["defocus", "motion", "over", "contrast", "cast", "faded", "oversat", "pixelate", "upscale",
               "posterize", "tilt"]


def load_source(path: str, max_short: int = 3 * S) -> np.ndarray:
    im = Image.open(path)
    im.load()
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    im = im.convert("RGB")
    w, h = im.size
    sh = min(w, h)
    if sh > max_short:
        f = max_short / sh
        im = im.resize((max(S, round(w * f)), max(S, round(h * f))), Image.LANCZOS)
    return np.asarray(im, dtype=np.uint8)


def crop_view(src: np.ndarray, rng: np.random.Generator, full_frame: bool, centre: bool = False) -> np.ndarray:
    h, w, _ = src.shape
    sh = min(h, w)
    if full_frame or sh <= S:
        t = S
    else:
        t = int(round(S * 2.0 ** (rng.uniform(0, 1) * math.log2(sh / S))))
    f = t / sh
    nw, nh = max(S, round(w * f)), max(S, round(h * f))
    im = Image.fromarray(src).resize((nw, nh), Image.BICUBIC if f > 1 else Image.LANCZOS)
    if centre:
        x0, y0 = (nw - S) // 2, (nh - S) // 2
    else:
        x0, y0 = int(rng.integers(0, nw - S + 1)), int(rng.integers(0, nh - S + 1))
    v = np.asarray(im.crop((x0, y0, x0 + S, y0 + S)), dtype=np.float32) / 255.0
    if not centre and rng.random() < 0.5:
        v = v[:, ::-1].copy()
    return v


def _sample_sev(rng):
    return float(np.clip(rng.uniform(0, 1) ** 1.35, 0.04, 1.0))


def _train_crop(args):
    key, path, n_crops, seed = args
    rng = np.random.default_rng(seed)
    src = load_source(path)
    kinds = list(D.KIND_P)
    p = np.array([D.KIND_P[k] for k in kinds])
    p = p / p.sum()
    views, metas = [], []
    for c in range(n_crops):
        cid = f"{key}#{c}"
        base = crop_view(src, rng, full_frame=(c % 4 == 0))
        views.append(D.to_u8(base))
        metas.append({"crop": cid, "source": key, "sevs": [], "style": None})
        styled = None
        if rng.random() < 0.8:
            st = str(rng.choice(D.STYLES, p=[0.25, 0.25, 0.2, 0.3]))
            styled = D.style(st, base, rng)
            views.append(D.to_u8(styled))
            metas.append({"crop": cid, "source": key, "sevs": [], "style": st})
        for _ in range(3):
            b = styled if (styled is not None and rng.random() < 0.3) else base
            nk = 2 if rng.random() < 0.25 else 1
            ks = list(rng.choice(kinds, size=nk, replace=False, p=p))
            sevs = []
            x = b
            for k in ks:
                s = _sample_sev(rng)
                x = D.apply(str(k), x, s, rng)
                sevs.append((str(k), s))
            views.append(D.to_u8(x))
            metas.append({"crop": cid, "source": key, "sevs": sevs, "style": metas[-1]["style"] if b is styled else None})
    return np.stack(views), metas


def _val_crop(args):
    key, path, n_crops, seed = args
    rng = np.random.default_rng(seed)
    src = load_source(path)
    views, metas = [], []
    for c in range(n_crops):
        cid = f"{key}#{c}"
        base = crop_view(src, rng, full_frame=(c == 0), centre=(c == 0))
        views.append(D.to_u8(base))
        metas.append({"crop": cid, "source": key, "kind": "original", "level": "none", "sevs": []})
        for kind, lv in LEVELS.items():
            for name, val in lv:
                kw = {"gblur": {"sigma": val}, "under": {"factor": val}, "jpeg": {"quality": val},
                      "noise": {"sigma": val, "mode": "colour"}}[kind]
                s = D.sev_for(kind, val)
                views.append(D.to_u8(D.apply(kind, base, s, rng, **kw)))
                metas.append({"crop": cid, "source": key, "kind": kind, "level": name, "value": val, "sevs": [(kind, s)]})
        for st in D.STYLES:
            views.append(D.to_u8(D.style(st, base, rng)))
            metas.append({"crop": cid, "source": key, "kind": "style:" + st, "level": "none", "sevs": []})
        for kind in OTHER_KINDS:
            views.append(D.to_u8(D.apply(kind, base, 0.8, rng)))
            metas.append({"crop": cid, "source": key, "kind": kind, "level": "strong", "sevs": [(kind, 0.8)]})
    return np.stack(views), metas


def build(out: str, which: str, keys, n_crops_fn, seed: int, workers: int = 2):
    srcs = all_sources()
    d = os.path.join(out, which)
    os.makedirs(d, exist_ok=True)
    jobs = [(k, srcs[k]["path"], n_crops_fn(srcs[k]), seed * 1000 + i) for i, k in enumerate(keys)]
    fn = _train_crop if which == "train" else _val_crop
    metas = []
    n = 0
    with open(os.path.join(d, "views.u8"), "wb") as f, Pool(workers) as pool:
        for v, m in pool.imap(fn, jobs):
            f.write(v.tobytes())
            metas.extend(m)
            n += len(v)
            print(f"[{which}] {m[0]['source']}: {len(v)} views (total {n})", flush=True)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"size": S, "n": n, "views": metas}, f)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--crops-photo", type=int, default=70)
    ap.add_argument("--crops-art", type=int, default=25)
    ap.add_argument("--val-crops", type=int, default=4)
    ap.add_argument("--smoke", action="store_true", help="a few crops of a few sources")
    ap.add_argument("--only", choices=["train", "val"], default=None)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    sp = split()
    tr, va = sp["train"], sp["val"]
    if a.smoke:
        tr, va = tr[:3], va[:2]
        a.crops_photo, a.crops_art, a.val_crops = 2, 2, 1
    if a.only in (None, "train"):
        build(a.out, "train", tr, lambda s: a.crops_photo if s["kind"] == "photo" else a.crops_art, a.seed)
    if a.only in (None, "val"):
        build(a.out, "val", va, lambda s: a.val_crops, a.seed + 7)


if __name__ == "__main__":
    main()
