"""Where framing signal is, on the default-model build's cached views and features (issue 9 diagnosis).

  PYTHONPATH=models/mmlq /usr/bin/python3 models/mmlq/tools/framing_probe.py [--data models/.cache/mmlq-build/data]

1. Linear probe: a pairwise logistic ranker on the frozen features (each token group's mean and std,
   the global groups as they are), trained on the training photos' (whole photo, its tilt / crop) pairs,
   scored on the held-out pairs: is framing linearly visible in what the head sees? With `--layout grid`
   also each spatial group's means over a 3x3 grid of its token map: what the features say about WHERE
   things are, which the head's cross-attention (no positions on the image tokens) cannot use.
2. Levelness: one hand-defined statistic of the pixels, the share of gradient energy (squared
   central differences of luminance) whose direction lies within 2 degrees of horizontal or vertical;
   does the original beat its tilts and crops on it, and does a mirror leave it alone?
3. With `--curve`: the probe trained on random subsets of the training photos (a quarter, half, three
   quarters, all; 8 draws each): does held-out accuracy still climb with more photos (data-limited)?
"""
import argparse
import json
import os

import numpy as np


def pooled(data, split, idx, layout, per, grid=False):
    f = np.memmap(os.path.join(data, split, "feats.f32"), dtype=np.float32, mode="r").reshape(-1, per)
    order = np.argsort(idx)
    x = np.empty((len(idx), per), np.float32)
    x[order] = f[np.asarray(idx)[order]]
    out, o = [], 0
    for n, d in layout.values():
        g = x[:, o:o + n * d].reshape(len(idx), n, d)
        o += n * d
        out.append(g.mean(1))
        if n > 1:
            out.append(g.std(1))
        if grid and n > 1:
            s = int(round(np.sqrt(n)))
            m = g.reshape(len(idx), s, s, d)
            thirds = np.array_split(np.arange(s), 3)
            out += [m[:, r][:, :, c].mean((1, 2)) for r in thirds for c in thirds]
    return np.concatenate(out, 1)


def fit_ranker(fa, fb, l2):
    """Pairwise logistic ranker on feature differences (first beats second); returns weights and scale."""
    sd = fa.std(0) + 1e-6
    x = np.concatenate([(fa - fb) / sd, (fb - fa) / sd])
    y = np.concatenate([np.ones(len(fa)), np.zeros(len(fa))])
    w = np.zeros(x.shape[1])
    for _ in range(300):
        p = 1 / (1 + np.exp(-x @ w))
        w -= 0.1 * (x.T @ (p - y) / len(y) + l2 * w)
    return w, sd


def levelness(img):
    lum = img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    gx = lum[1:-1, 2:] - lum[1:-1, :-2]
    gy = lum[2:, 1:-1] - lum[:-2, 1:-1]
    energy = gx ** 2 + gy ** 2
    angle = np.degrees(np.arctan2(gy, gx)) % 90
    near = np.minimum(angle, 90 - angle) < 2.0
    return float((energy * near).sum() / (energy.sum() + 1e-6))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="models/.cache/mmlq-build/data")
    ap.add_argument("--l2", type=float, default=0.01)
    ap.add_argument("--layout", choices=("pooled", "grid"), default="pooled",
                    help="grid: add each token map's 3x3 grid of means (where things are)")
    ap.add_argument("--curve", action="store_true",
                    help="also fit on subsets of the training photos: held-out accuracy against their number")
    a = ap.parse_args()
    layout = {k: tuple(v) for k, v in json.load(open(os.path.join(a.data, "layout.json"))).items()}
    per = sum(n * d for n, d in layout.values())
    train = json.load(open(os.path.join(a.data, "train", "meta.json")))["views"]
    val = json.load(open(os.path.join(a.data, "val", "meta.json")))["views"]
    groups = {}
    for i, v in enumerate(train):
        if not v.get("whole"):
            continue
        g = groups.setdefault(v["crop"], {"orig": None, "tilt": [], "crop": []})
        kinds = [s[0] for s in v["sevs"]]
        if not kinds and v["style"] is None:
            g["orig"] = i
        elif kinds in (["tilt"], ["crop"]):
            g[kinds[0]].append(i)
    by = {}
    for i, v in enumerate(val):
        by.setdefault(v["crop"], {}).setdefault(v["kind"], []).append(i)
    grid = a.layout == "grid"
    print("1. linear probe on the frozen features (pairwise logistic, L2 %g, %s)" % (a.l2, a.layout))
    for kind in ("tilt", "crop"):
        pairs = [(g["orig"], d) for g in groups.values() if g["orig"] is not None for d in g[kind]]
        held = [(d["original"][0], j) for d in by.values() if "original" in d and "tilt" in d for j in d.get(kind, [])]
        fa = pooled(a.data, "train", [p[0] for p in pairs], layout, per, grid)
        fb = pooled(a.data, "train", [p[1] for p in pairs], layout, per, grid)
        ha = pooled(a.data, "val", [p[0] for p in held], layout, per, grid)
        hb = pooled(a.data, "val", [p[1] for p in held], layout, per, grid)
        w, sd = fit_ranker(fa, fb, a.l2)
        print(f"   {kind}: training pairs {len(pairs)} accuracy {np.mean((fa - fb) / sd @ w > 0):.3f}; "
              f"held-out pairs {len(held)} accuracy {np.mean((ha - hb) / sd @ w > 0):.3f}")
        if a.curve:
            photo = np.array([p[0] for p in pairs])
            photos = np.unique(photo)
            rng = np.random.default_rng(0)
            for share in (0.25, 0.5, 0.75, 1.0):
                n = max(2, int(round(share * len(photos))))
                accs = []
                for _ in range(8 if share < 1 else 1):
                    keep = np.isin(photo, rng.choice(photos, n, replace=False))
                    w, sd = fit_ranker(fa[keep], fb[keep], a.l2)
                    accs.append(np.mean((ha - hb) / sd @ w > 0))
                print(f"      {n:3d} training photos: held-out {np.mean(accs):.3f} "
                      f"(draws {min(accs):.3f}-{max(accs):.3f})")
    views = np.memmap(os.path.join(a.data, "val", "views.u8"), dtype=np.uint8, mode="r").reshape(-1, 448, 448, 3)
    print("2. levelness (held-out whole photos): original above the damaged view")
    rows = {}
    for d in by.values():
        if "original" not in d or "tilt" not in d:
            continue
        o = levelness(views[d["original"][0]])
        for kind in ("tilt", "crop", "squeeze"):
            for j in d.get(kind, []):
                key = f"{kind} {val[j]['level'].split(':')[0]}" if kind == "tilt" else kind
                rows.setdefault(kind, []).append(o > levelness(views[j]))
                if kind == "tilt":
                    rows.setdefault(key, []).append(o > levelness(views[j]))
        for j in d.get("neutral:mirror", []):
            rows.setdefault("mirror |delta|", []).append(abs(o - levelness(views[j])))
    for k, xs in rows.items():
        print(f"   {k}: {np.mean(xs):.3f} ({len(xs)})")


if __name__ == "__main__":
    main()
