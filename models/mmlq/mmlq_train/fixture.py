"""A synthetic data set in AVA's format, made from the free-licence photos of mmlq_build.sources and
known damages of mmlq_build.degrade (for CI and the small-scale proofs; never shipped).

  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_train.fixture --out DIR [--n 360] [--size 128] [--seed 0]

Writes, like the AVA release:
  DIR/AVA.txt                                   index, id, 10 vote counts, 2 tag ids (0), challenge id (0)
  DIR/images/<id>.jpg                           size x size JPEG (quality 95)
  DIR/aesthetics_image_lists/generic_ls_train.jpgl, generic_test.jpgl   test = the held-out source photos
  DIR/comments.jsonl                            {"image_id", "comments": [...]} from mmlq_build.text templates
  DIR/truth.json                                per id: source, damages [(kind, severity)], combined severity
  DIR/README.txt                                what it is, the photos' licences

Each image is a random crop (30-100% of the shorter side) of one source photo, resized to size x size;
20% stay clean, the rest get one damage (15% two) of a known kind with severity s ~ U(0.05, 0.95) applied
at that size.  The vote distribution: degrade.target_distribution(combined severity) with a per-image
shift N(0, 0.25) of its mean (taste), then 60-250 votes drawn from it (multinomial).  Comments: none for
10% of the images, else 2-5 from mmlq_build.text.sample_text (polarity correlated with the severity, 8% flipped, 30% neutral).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

from mmlq_build import degrade as D
from mmlq_train import photos as P
from mmlq_build import sources as S
from mmlq_build import text as T

# the damage kinds of degrade.py this fixture uses (an explicit list: new kinds there do not change it)
FIXTURE_KINDS = ["gblur", "defocus", "motion", "noise", "jpeg", "under", "over", "contrast", "cast", "faded",
                 "oversat", "pixelate", "upscale", "posterize", "tilt"]
KIND_W = np.array([3, 1.5, 1.5, 3, 3, 2.5, 2, 1.5, 1, 1, 0.7, 1, 1.5, 0.7, 1.0])


def load_sources(max_side: int = 640) -> Dict[str, Tuple[np.ndarray, dict]]:
    """Every source photo of mmlq_build.sources, shorter side reduced to <= max_side (float32 RGB)."""
    out = {}
    for key, info in sorted(S.all_sources().items()):
        im = Image.open(info["path"])
        im.draft("RGB", (max_side * 2, max_side * 2))  # JPEG: decode at a reduced scale (fast)
        im = im.convert("RGB")
        f = max_side / min(im.size)
        if f < 1:
            im = im.resize((max(1, round(im.size[0] * f)), max(1, round(im.size[1] * f))), Image.BICUBIC)
        out[key] = (np.asarray(im, dtype=np.float32) / 255.0, info)
    if not out:
        sys.exit("no source photos found (mmlq_build.sources: KDE / MATE wallpapers, skimage data)")
    return out


def random_crop(x: np.ndarray, size: int, rng: np.random.Generator, lo: float = 0.3) -> np.ndarray:
    h, w, _ = x.shape
    c = int(min(h, w) * rng.uniform(lo, 1.0))
    y0, x0 = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
    return D.resize(x[y0:y0 + c, x0:x0 + c], size, size)


def damage(x: np.ndarray, rng: np.random.Generator, p_clean: float = 0.2, p_two: float = 0.15):
    sevs: List[Tuple[str, float]] = []
    if rng.random() >= p_clean:
        n = 2 if rng.random() < p_two else 1
        kinds = rng.choice(FIXTURE_KINDS, size=n, replace=False, p=KIND_W / KIND_W.sum())
        for k in kinds:
            s = float(rng.uniform(0.05, 0.95))
            x = np.clip(P.apply(str(k), x, s, rng), 0, 1).astype(np.float32)
            sevs.append((str(k), round(s, 4)))
    return x, sevs


def build(out: str, n: int, size: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    src = load_sources()
    holdout = set(S.split()["val"])
    train_keys = [k for k in src if k not in holdout]
    test_keys = [k for k in src if k in holdout]
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    os.makedirs(os.path.join(out, "aesthetics_image_lists"), exist_ok=True)
    n_test = max(2, int(round(n * 0.2)))
    rows, comments, truth, ids_train, ids_test = [], [], {}, [], []
    for i in range(n):
        is_test = i >= n - n_test
        key = test_keys[i % len(test_keys)] if is_test else train_keys[int(rng.integers(len(train_keys)))]
        x = random_crop(src[key][0], size, rng)
        x, sevs = damage(x, rng)
        Sv = D.combined_severity(sevs)
        taste = float(rng.normal(0, 0.25))
        p = D.target_distribution(Sv, polarity=taste / D.TEXT_SHIFT)
        p = p.astype(np.float64)
        votes = rng.multinomial(int(rng.integers(60, 251)), p / p.sum())
        iid = str(100000 + i)
        Image.fromarray(D.to_u8(x)).save(os.path.join(out, "images", iid + ".jpg"), quality=95)
        rows.append(" ".join([str(i + 1), iid] + [str(int(v)) for v in votes] + ["0", "0", "0"]))
        worst = max(sevs, key=lambda t: t[1]) if sevs else (None, 0.0)
        attr_kind = (D.KINDS[worst[0]][0] if worst[0] else None, worst[0])
        cs = []
        for _ in range(0 if rng.random() < 0.1 else int(rng.integers(2, 6))):
            t, _pol = T.sample_text(rng, Sv, attr_kind, p_text=1.0)
            cs.append(t)
        comments.append({"image_id": iid, "comments": cs})
        truth[iid] = {"source": key, "damages": sevs, "severity": round(Sv, 4), "split": "test" if is_test else "train"}
        (ids_test if is_test else ids_train).append(iid)
    with open(os.path.join(out, "AVA.txt"), "w") as f:
        f.write("\n".join(rows) + "\n")
    with open(os.path.join(out, "aesthetics_image_lists", "generic_ls_train.jpgl"), "w") as f:
        f.write("\n".join(ids_train) + "\n")
    with open(os.path.join(out, "aesthetics_image_lists", "generic_test.jpgl"), "w") as f:
        f.write("\n".join(ids_test) + "\n")
    with open(os.path.join(out, "comments.jsonl"), "w") as f:
        for c in comments:
            f.write(json.dumps(c) + "\n")
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=0)
    lic = sorted({src[k][1]["licence"] for k in src})
    with open(os.path.join(out, "README.txt"), "w") as f:
        f.write("Synthetic AVA-format data set written by models/mmlq/mmlq_train/fixture.py "
                f"(n={n}, size={size}, seed={seed}). Images are damaged crops of free-licence photos; vote counts "
                "and comments are synthetic (see the module docstring).\nPhoto licences: " + "; ".join(lic) + "\n"
                f"Test images come from the held-out photos: {', '.join(sorted(holdout))}\n")
    return {"n": n, "train": len(ids_train), "test": len(ids_test), "licences": lic}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=360)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    r = build(a.out, a.n, a.size, a.seed)
    print(f"fixture: {r['train']} train + {r['test']} test images in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
