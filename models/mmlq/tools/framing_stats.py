"""Hand-defined framing statistics of the pixels, measured on whole held-out photos (issue 9 probe).

  PYTHONPATH=models/mmlq nice -n 15 /usr/bin/python3 models/mmlq/tools/framing_stats.py \
      [--data models/.cache/mmlq-build/data] [--cache /tmp/framing_stats] [--md OUT.md]

Each statistic is a number computed from one 448x448 uint8 view with numpy in a few ms (no learning).
For every statistic and every framing damage (tilt, crop, squeeze) the direction (is "higher" or
"lower" the original framing?) is chosen on the TRAINING photos' whole-photo pairs (original, that
damage) only; the held-out (val) figures then use that direction unchanged:

  acc     share of held-out (original, damaged) pairs where the original ranks strictly higher
  neutral mean |delta| of the held-out neutral views (mirror, tight 90/85 % crops, black-and-white,
          low-key, high-key, shallow depth of field) against their original, in units of the
          statistic's standard deviation over the training originals (z units); the model's own
          0.15 gate is on its score scale, so these are only comparable between statistics

Directions, selections and weights use the training pairs in the held-out range only (tilts >= 2.5
degrees, crops to <= 0.70 of the side, squeezes >= 1.2x; training also holds milder ones).
Then a tiny combination: a pairwise logistic ranker over at most 4 standardised statistics, the
statistics chosen greedily and the weights fitted on the training pairs only (tilt and crop pairs
weighted equally, a penalty on the training neutral pairs' squared delta).  Its neutral figure is the
mean |delta| relative to the mean (original - damaged) delta of the held-out tilt and crop pairs.

The statistics of each view are cached in --cache (one .npz per split, recomputed when the list of
statistics changes); views are read through a memmap, one at a time.
"""
import argparse
import json
import os
import time

import numpy as np

S = 448
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _pool2(x):
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    x = x[:h, :w]
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def _central(l):
    return l[1:-1, 2:] - l[1:-1, :-2], l[2:, 1:-1] - l[:-2, 1:-1]


def _sobel(l):
    gx = l[:, 2:] - l[:, :-2]
    gx = gx[:-2] + 2 * gx[1:-1] + gx[2:]
    gy = l[2:] - l[:-2]
    gy = gy[:, :-2] + 2 * gy[:, 1:-1] + gy[:, 2:]
    return gx, gy


def _dev(gx, gy):
    """Signed deviation (degrees, [-45, 45)) of each gradient direction from the nearest axis."""
    return (np.degrees(np.arctan2(gy, gx)) + 45.0) % 90.0 - 45.0


def _share(d, e, w):
    return float(e[np.abs(d) < w].sum() / (e.sum() + 1e-12))


def _peak(d, e):
    """Angle histogram of the energy (0.5 degree bins over +-15, smoothed): |offset| of its peak from
    the axis, and the axis bin's prominence over the strongest off-axis bin (log ratio)."""
    m = np.abs(d) < 15
    h, _ = np.histogram(d[m], bins=60, range=(-15, 15), weights=e[m])
    h = np.convolve(h, [1, 2, 3, 2, 1], mode="same")
    centres = np.arange(60) * 0.5 - 14.75
    off = float(abs(centres[int(np.argmax(h))]))
    on = h[np.abs(centres) < 1].max()
    offmax = h[np.abs(centres) > 1.5].max()
    return off, float(np.log((on + 1e-9) / (offmax + 1e-9)))


def _blocks(e, n):
    """Sum an energy map over an n x n grid of equal blocks (the ragged edge dropped)."""
    b = e.shape[0] // n
    return e[:n * b, :n * b].reshape(n, b, n, b).sum((1, 3))


def _spectral_saliency(l):
    """Spectral-residual saliency (Hou & Zhang 2007) of a 64x64 luminance thumbnail."""
    t = l
    while t.shape[0] > 64:
        t = _pool2(t)
    f = np.fft.fft2(t)
    la = np.log(np.abs(f) + 1e-6)
    k = np.ones(3) / 3
    avg = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 0, la)
    avg = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 1, avg)
    s = np.abs(np.fft.ifft2(np.exp(la - avg + 1j * np.angle(f)))) ** 2
    g = np.array([1, 4, 6, 4, 1], np.float64) / 16
    for ax in (0, 1):
        s = np.apply_along_axis(lambda r: np.convolve(r, g, mode="same"), ax, s)
    return s


def _layout(w):
    """Centroid distance from the centre, distance to the nearest rule-of-thirds point, left-right +
    top-bottom imbalance, and spatial spread of a non-negative weight map (coordinates in [-0.5, 0.5])."""
    n = w.shape[0]
    c = (np.arange(n) + 0.5) / n - 0.5
    tot = w.sum() + 1e-12
    cy, cx = (w.sum(1) @ c) / tot, (w.sum(0) @ c) / tot
    dist = float(np.hypot(cx, cy))
    thirds = float(min(np.hypot(cx - a, cy - b) for a in (-1 / 6, 1 / 6) for b in (-1 / 6, 1 / 6)))
    h = n // 2
    imb = float((abs(w[:, :h].sum() - w[:, n - h:].sum()) + abs(w[:h].sum() - w[n - h:].sum())) / tot)
    spread = float(np.sqrt((w.sum(0) @ (c - cx) ** 2 + w.sum(1) @ (c - cy) ** 2) / tot))
    return dist, thirds, imb, spread


def statistics(img):
    """All candidate statistics of one 448x448x3 uint8 view -> {name: float}."""
    l1 = (img.astype(np.float32) @ LUMA) / 255.0
    l2 = _pool2(l1)
    l4 = _pool2(l2)
    out = {}
    # --- levelness: share of gradient energy near the axes (per-pixel directions)
    gx, gy = _central(l1)
    e1 = gx * gx + gy * gy
    d1 = _dev(gx, gy)
    for w in (1, 2, 3):
        out[f"lev{w}_s1"] = _share(d1, e1, w)
    for name, l in (("s2", l2), ("s4", l4)):
        x, y = _central(l)
        e, d = x * x + y * y, _dev(x, y)
        for w in (1, 2, 3):
            out[f"lev{w}_{name}"] = _share(d, e, w)
    mag = np.sqrt(e1)
    live = mag > 0.02
    out["lev2_count"] = float((np.abs(d1[live]) < 2).mean()) if live.any() else 0.0
    strong = mag >= np.quantile(mag, 0.9)
    out["lev2_top10"] = _share(d1[strong], e1[strong], 2)
    out["lev2_mag"] = _share(d1, mag, 2)  # weighted by magnitude, not energy
    sx, sy = _sobel(l1)
    es, ds = sx * sx + sy * sy, _dev(sx, sy)
    out["lev2_sobel"] = _share(ds, es, 2)
    off, prom = _peak(ds, es)
    out["peak_off"], out["peak_prom"] = off, prom
    # --- levelness of coherent structure: structure tensor over 8x8 blocks (orientation of lines)
    n = sx.shape[0] // 8
    jxx, jyy, jxy = (_blocks(sx * sx, n), _blocks(sy * sy, n), _blocks(sx * sy, n))
    tr = jxx + jyy + 1e-12
    coh = np.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2) / tr
    dst = (np.degrees(0.5 * np.arctan2(2 * jxy, jxx - jyy)) + 45.0) % 90.0 - 45.0
    wst = tr * coh ** 2
    for w in (1, 2, 3):
        out[f"st_lev{w}"] = _share(dst, wst, w)
    out["st_peak_off"], out["st_peak_prom"] = _peak(dst.ravel(), wst.ravel())
    # --- scale / zoom: fine-to-coarse gradient energy (a crop magnifies)
    en = [float(e1.mean())]
    for l in (l2, l4):
        x, y = _central(l)
        en.append(float((x * x + y * y).mean()))
    out["zoom12"] = float(np.log((en[0] + 1e-9) / (en[1] + 1e-9)))
    out["zoom24"] = float(np.log((en[1] + 1e-9) / (en[2] + 1e-9)))
    # --- where the energy lies: border bands vs interior, centroid, balance, spread
    b = _blocks(e1, 28)  # 16-px blocks
    m = b.mean() + 1e-12
    sides = np.array([b[0].mean(), b[-1].mean(), b[:, 0].mean(), b[:, -1].mean()]) / m
    out["border_mean"] = float(sides.mean())
    out["border_max"] = float(sides.max())
    out["border_min"] = float(sides.min())
    out["border_sorted2"] = float(np.sort(sides)[-2])  # second busiest side (a corner crop cuts two)
    out["e_dist"], out["e_thirds"], out["e_imb"], out["e_spread"] = _layout(b)
    out["e2_dist"], out["e2_thirds"], out["e2_imb"], out["e2_spread"] = _layout(b * b)
    sal = _spectral_saliency(l1)
    out["sal_dist"], out["sal_thirds"], out["sal_imb"], out["sal_spread"] = _layout(sal)
    k = sal.shape[0] // 8
    ring = np.ones_like(sal, bool)
    ring[k:-k, k:-k] = False
    out["sal_border"] = float(sal[ring].sum() / (sal.sum() + 1e-12))
    out["sal_border_peak"] = float(sal[ring].max() / (sal.max() + 1e-12))
    # --- does the frame cut through things? edges crossing the border band, border vs centre content
    bw_ = 8
    cross = ((gx[:bw_] ** 2).sum() + (gx[-bw_:] ** 2).sum() + (gy[:, :bw_] ** 2).sum() + (gy[:, -bw_:] ** 2).sum())
    out["border_cross"] = float(cross / (4 * bw_ * gx.shape[0] * (e1.mean() + 1e-12)))
    q = (img[::4, ::4] // 64).astype(np.int32)
    code = q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]
    n4 = code.shape[0]
    r8 = n4 // 8
    ringm = np.ones_like(code, bool)
    ringm[r8:-r8, r8:-r8] = False
    hr = np.bincount(code[ringm], minlength=64) / ringm.sum()
    hc = np.bincount(code[n4 // 4:-n4 // 4, n4 // 4:-n4 // 4].ravel(), minlength=64) / (n4 // 2) ** 2
    out["ring_centre_chi2"] = float(0.5 * ((hr - hc) ** 2 / (hr + hc + 1e-9)).sum())
    ls = l4
    r = ls.shape[0] // 8
    ringl = np.ones_like(ls, bool)
    ringl[r:-r, r:-r] = False
    out["ring_centre_lum"] = float(ls[ringl].mean() - ls[2 * r:-2 * r, 2 * r:-2 * r].mean())
    cb = ls.shape[0] // 8  # lens fall-off: the four corners' luminance against the centre's
    corners = [ls[:cb, :cb].mean(), ls[:cb, -cb:].mean(), ls[-cb:, :cb].mean(), ls[-cb:, -cb:].mean()]
    centre = ls[3 * cb:-3 * cb, 3 * cb:-3 * cb].mean()
    out["corner_lum"] = float(np.mean(corners) - centre)
    out["corner_spread"] = float(np.max(corners) - np.min(corners))
    out["ring_centre_std"] = float(np.log((ls[ringl].std() + 1e-4) / (ls[2 * r:-2 * r, 2 * r:-2 * r].std() + 1e-4)))
    # --- squeeze: anisotropy of gradient energy
    for name, l in (("s1", l1), ("s4", l4)):
        x, y = _central(l)
        out[f"aniso_{name}"] = float(np.log(((x * x).mean() + 1e-9) / ((y * y).mean() + 1e-9)))
    out["aniso_abs_s1"] = abs(out["aniso_s1"])
    out["aniso_abs_s4"] = abs(out["aniso_s4"])
    out["aniso_fine_vs_coarse"] = abs(out["aniso_s1"] - out["aniso_s4"])
    return out


NAMES = list(statistics(np.zeros((S, S, 3), np.uint8) + np.arange(S, dtype=np.uint8)[:, None, None]).keys())


def compute(data, split, idx, cache):
    """Statistics of views idx of a split -> (len(idx) x len(NAMES)) array, cached per split."""
    path = os.path.join(cache, f"{split}.npz") if cache else None
    have = {}
    if path and os.path.exists(path):
        z = np.load(path, allow_pickle=False)
        if list(z["names"]) == NAMES:
            have = {int(i): r for i, r in zip(z["idx"], z["x"])}
    views = np.memmap(os.path.join(data, split, "views.u8"), dtype=np.uint8, mode="r").reshape(-1, S, S, 3)
    times = []
    todo = sorted(set(int(i) for i in idx) - set(have))
    for i in todo:
        t = time.perf_counter()
        s = statistics(np.asarray(views[i]))
        times.append(time.perf_counter() - t)
        have[i] = np.array([s[k] for k in NAMES])
    if path and todo:
        os.makedirs(cache, exist_ok=True)
        keys = sorted(have)
        np.savez(path, names=np.array(NAMES), idx=np.array(keys), x=np.stack([have[i] for i in keys]))
    return np.stack([have[int(i)] for i in idx]), times


def train_pairs(meta):
    """Training whole-photo groups -> {kind: [(orig, other)]}, kinds tilt/crop/squeeze/neutral."""
    groups = {}
    for i, v in enumerate(meta):
        if not v.get("whole"):
            continue
        g = groups.setdefault(v["crop"], {"orig": None, "tilt": [], "crop": [], "squeeze": [], "neutral": []})
        kinds = [s[0] for s in v["sevs"]]
        if not kinds and v["style"] is None:
            g["orig"] = i
        elif not kinds:
            g["neutral"].append(i)
        elif kinds in (["tilt"], ["crop"], ["squeeze"]):
            g[kinds[0]].append(i)
            prm = v.get("params", {})
            if (kinds[0] == "tilt" and abs(prm.get("angle", 0)) >= 2.5) or (
                    kinds[0] == "crop" and prm.get("f", 1) <= 0.7) or (
                    kinds[0] == "squeeze" and prm.get("ratio", 1) >= 1.2):
                g.setdefault(kinds[0] + "_big", []).append(i)
    out = {}
    for g in groups.values():
        if g["orig"] is None:
            continue
        for k in ("tilt", "crop", "squeeze", "neutral", "tilt_big", "crop_big", "squeeze_big"):
            out.setdefault(k, []).extend((g["orig"], j) for j in g.get(k, []))
    return out


def val_pairs(meta):
    """Held-out whole photos -> {(kind, level-group): [(orig, other)]}."""
    by = {}
    for i, v in enumerate(meta):
        by.setdefault(v["crop"], {}).setdefault(v["kind"], []).append(i)
    out = {}
    for d in by.values():
        if "original" not in d or "tilt" not in d:
            continue
        o = d["original"][0]
        for kind, js in d.items():
            for j in js:
                lv = meta[j]["level"]
                if kind == "tilt":
                    sub = lv.rstrip("+-")
                elif kind == "crop":
                    size, pos = lv.split(":")
                    sub = size + (" centre" if pos == "c" else " edge" if len(pos) == 1 else " corner")
                elif kind == "squeeze":
                    sub = lv
                elif kind.startswith("neutral:") or kind.startswith("style:"):
                    out.setdefault(("neutral", kind.split(":")[1]), []).append((o, j))
                    continue
                else:
                    continue
                out.setdefault((kind, "all"), []).append((o, j))
                out.setdefault((kind, sub), []).append((o, j))
    return out


def fit_rank(da, dn, l2=0.01, lam=1.0, steps=400):
    """Pairwise logistic ranker: da = standardised (orig - damaged) differences with weights in the
    last column, dn = neutral differences (penalised towards 0)."""
    x, wt = da[:, :-1], da[:, -1]
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        g = -(x.T @ (wt * (1 - p))) / wt.sum() + l2 * w
        if len(dn):
            g += lam * 2 * dn.T @ (dn @ w) / len(dn)
        w -= 0.5 * g
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="models/.cache/mmlq-build/data")
    ap.add_argument("--cache", default="/tmp/framing_stats", help="per-view statistics cache ('' = none)")
    ap.add_argument("--md", default="", help="also write the markdown tables to this file")
    ap.add_argument("--max-stats", type=int, default=4)
    a = ap.parse_args()
    tmeta = json.load(open(os.path.join(a.data, "train", "meta.json")))["views"]
    vmeta = json.load(open(os.path.join(a.data, "val", "meta.json")))["views"]
    tp, vp = train_pairs(tmeta), val_pairs(vmeta)
    tidx = sorted({i for ps in tp.values() for p in ps for i in p})
    vidx = sorted({i for ps in vp.values() for p in ps for i in p})
    t0 = time.time()
    xt, _ = compute(a.data, "train", tidx, a.cache)
    xv, times = compute(a.data, "val", vidx, a.cache)
    if not times:  # all cached: time a few views afresh
        views = np.memmap(os.path.join(a.data, "val", "views.u8"), dtype=np.uint8, mode="r").reshape(-1, S, S, 3)
        for i in vidx[:20]:
            img = np.asarray(views[i])
            t = time.perf_counter()
            statistics(img)
            times.append(time.perf_counter() - t)
    tpos, vpos = {i: r for r, i in enumerate(tidx)}, {i: r for r, i in enumerate(vidx)}
    T = lambda ps: (xt[[tpos[p[0]] for p in ps]], xt[[tpos[p[1]] for p in ps]])
    V = lambda ps: (xv[[vpos[p[0]] for p in ps]], xv[[vpos[p[1]] for p in ps]])
    origs = xt[[tpos[i] for i in sorted({p[0] for p in tp["tilt"]})]]
    sd = origs.std(0) + 1e-12
    lines = []
    pr = lambda s="": (print(s), lines.append(s))
    pr(f"## Hand-defined framing statistics (probe): {len(set(v['source'] for v in vmeta))} held-out photos")
    pr()
    pr(f"Training pairs (held-out range / all): tilt {len(tp['tilt_big'])}/{len(tp['tilt'])}, crop "
       f"{len(tp['crop_big'])}/{len(tp['crop'])}, squeeze {len(tp['squeeze_big'])}/{len(tp['squeeze'])}, "
       f"neutral {len(tp['neutral'])}. Held-out pairs: tilt {len(vp[('tilt', 'all')])}, "
       f"crop {len(vp[('crop', 'all')])}, squeeze {len(vp[('squeeze', 'all')])}. Per-view time (all statistics "
       f"together, numpy, 1 core, under load): median {1000 * np.median(times):.1f} ms, "
       f"max {1000 * np.max(times):.1f} ms ({len(times)} views); statistics pass {time.time() - t0:.0f} s.")
    pr()
    neutral_kinds = sorted(k[1] for k in vp if k[0] == "neutral")
    sign = {}
    pr("Direction (+: the original is higher; -: lower) chosen per damage on the training pairs of the held-out "
       "range (tilts >= 2.5 degrees, crops to <= 0.70 of the side, squeezes >= 1.2x; 'train' = accuracy there); "
       "val = held-out share of pairs with the original strictly ahead, [5th-95th percentile over 2000 "
       "bootstrap resamples of the 9 photos]; neutral columns = held-out mean |delta| in training-original "
       "standard deviations.")
    pr()
    pr("| statistic | tilt dir | train | **val tilt** | crop dir | train | **val crop** | squeeze dir | train | "
       "**val squeeze** | " + " | ".join(neutral_kinds) + " |")
    pr("|---" * (10 + len(neutral_kinds)) + "|")
    rng = np.random.default_rng(0)
    boot = {}
    for kind in ("tilt", "crop", "squeeze"):
        photos = np.array([p[0] for p in vp[(kind, "all")]])
        ids = np.unique(photos)
        draws = rng.integers(0, len(ids), size=(2000, len(ids)))
        boot[kind] = [np.concatenate([np.flatnonzero(photos == ids[k]) for k in row]) for row in draws]
    for c, name in enumerate(NAMES):
        row = [name]
        for kind in ("tilt", "crop", "squeeze"):
            oa, ob = T(tp[kind + "_big"])
            tr_acc = np.mean(oa[:, c] > ob[:, c])
            tr_lo = np.mean(oa[:, c] < ob[:, c])
            s = 1.0 if tr_acc >= tr_lo else -1.0
            sign[(name, kind)] = s
            va, vb = V(vp[(kind, "all")])
            win = s * (va[:, c] - vb[:, c]) > 0
            lo, hi = np.percentile([win[b].mean() for b in boot[kind]], [5, 95])
            row += ["+" if s > 0 else "-", f"{max(tr_acc, tr_lo):.2f}", f"{win.mean():.3f} [{lo:.2f}-{hi:.2f}]"]
        for nk in neutral_kinds:
            va, vb = V(vp[("neutral", nk)])
            row.append(f"{np.mean(np.abs(va[:, c] - vb[:, c])) / sd[c]:.2f}")
        pr("| " + " | ".join(row) + " |")
    pr()
    # per-level breakdown for the best training statistic of each kind
    pr("Per level (held-out), the statistic with the best training accuracy for that damage:")
    pr()
    for kind in ("tilt", "crop", "squeeze"):
        oa, ob = T(tp[kind + "_big"])
        accs = [np.mean(sign[(n, kind)] * (oa[:, c] - ob[:, c]) > 0) for c, n in enumerate(NAMES)]
        c = int(np.argmax(accs))
        parts = []
        for (k, sub), ps in sorted(vp.items()):
            if k != kind or sub == "all":
                continue
            va, vb = V(ps)
            parts.append(f"{sub} {np.mean(sign[(NAMES[c], kind)] * (va[:, c] - vb[:, c]) > 0):.3f} ({len(ps)})")
        pr(f"- {kind}: `{NAMES[c]}` (train {accs[c]:.3f}): " + ", ".join(parts))
    pr()
    # tiny combinations: greedy forward selection on the training pairs only
    pr(f"Pairwise logistic combinations of at most {a.max_stats} standardised statistics, chosen greedily and "
       "fitted on the training pairs only (equal total weight per damage kind, neutral pairs penalised); "
       "neutral = held-out mean |delta| / held-out mean (original - damaged) delta over the target pairs.")
    pr()
    pr("| target | statistics (weights) | train acc | val tilt | val crop | val squeeze | " +
       " | ".join(neutral_kinds) + " |")
    pr("|---" * (6 + len(neutral_kinds)) + "|")

    def design(kinds):
        """Training (original - damaged) differences, each kind's pairs weighted to 1 in all."""
        rows = []
        for k in kinds:
            oa, ob = T(tp[k + "_big"])
            d = (oa - ob) / sd
            rows.append(np.concatenate([d, np.full((len(d), 1), 1.0 / len(d))], 1))
        return np.concatenate(rows)

    na, nb = T(tp["neutral"])
    dn_all = (na - nb) / sd
    for target in (("tilt",), ("crop",), ("tilt", "crop"), ("tilt", "crop", "squeeze")):
        da_all = design(target)
        chosen = []
        best_w = None
        for _ in range(a.max_stats):
            best = None
            for c in range(len(NAMES)):
                if c in chosen:
                    continue
                cols = chosen + [c]
                w = fit_rank(np.concatenate([da_all[:, cols], da_all[:, -1:]], 1), dn_all[:, cols])
                accs = []
                for k in target:
                    oa, ob = T(tp[k + "_big"])
                    accs.append(np.mean(((oa - ob) / sd)[:, cols] @ w > 0))
                score = min(accs)
                if best is None or score > best[0] + 1e-9:
                    best = (score, c, w)
            if best_w is not None and best[0] <= best_w[0] + 0.005:
                break
            chosen.append(best[1])
            best_w = best
        cols, w = chosen, best_w[2]
        res = []
        dsum = []
        for k in ("tilt", "crop", "squeeze"):
            va, vb = V(vp[(k, "all")])
            dv = ((va - vb) / sd)[:, cols] @ w
            res.append(f"{np.mean(dv > 0):.3f}")
            if k in target:
                dsum.append(dv)
        ref = np.mean(np.concatenate(dsum)) if dsum else 1.0
        neu = []
        for nk in neutral_kinds:
            va, vb = V(vp[("neutral", nk)])
            neu.append(f"{np.mean(np.abs(((va - vb) / sd)[:, cols] @ w)) / abs(ref):.2f}")
        desc = ", ".join(f"`{NAMES[c]}` {wi:+.2f}" for c, wi in zip(cols, w))
        pr(f"| {'+'.join(target)} | {desc} | {best_w[0]:.3f} | " + " | ".join(res) + " | " + " | ".join(neu) + " |")
    if a.md:
        with open(a.md, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
