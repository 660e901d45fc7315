"""Build the 448x448 training / validation views (uint8, raw NHWC) and their metadata.

  python3 -m mmlq_build.build_views --out /work/scratch/h2/data [--crops-photo 55 --crops-art 25] [--smoke]

Writes <out>/<split>/views.u8 (N x 448 x 448 x 3) and <out>/<split>/meta.json.
Train views are grouped by crop.  Zoomed crops (random scale and position): the crop (its own
composition severity from its geometry: degrade.crop_severity; S = 0 when it keeps >= 85% of the side),
sometimes a legit style of it (same target), and three damaged versions (one kind, or two kinds 25% of
the time; severities skewed towards mild; 15% of them the same window tilted instead, made from the
source photo).  Whole-photo groups (composition): the whole photo as
serving prepares it (the original framing, S = 0; mirrored half of the time), its mirror image (S = 0),
a slightly tighter centred crop (>= 85% of the side) or a legit style (S = 0), and three composition
damages made from the whole photo (crop / tilt / squeeze, sometimes plus a technical damage).
Validation views: for each held-out photo, 4 crops (the first is the whole photo as serving prepares
it: short side 448, centre crop), each with the original, blur / exposure / JPEG / noise at the three
fixed levels, the legit styles, and every other damage kind at s = 0.8; the whole-photo crop also gets
the composition cells (COMP_VAL): crops to 2/3 and 1/2 of the side at 9 positions, tilts of
+-3 / 5 / 8 degrees, squeezes 1.25x / 1.5x on either axis, and the neutral mirror image and centred
90% / 85% crops.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
from multiprocessing import Pool

import numpy as np
from PIL import Image

from mmlq_build import degrade as D
from mmlq_build.sources import all_sources, require_all_sources, split

S = 448
LEVELS = {
    "gblur": [("mild", 1.2), ("medium", 3.0), ("strong", 6.0)],
    "under": [("mild", 0.6), ("medium", 0.4), ("strong", 0.25)],
    "jpeg": [("mild", 25), ("medium", 10), ("strong", 4)],
    "noise": [("mild", 15), ("medium", 35), ("strong", 70)],
}
OTHER_KINDS = ["defocus", "motion", "over", "contrast", "cast", "faded", "oversat", "pixelate", "upscale",
               "posterize"]
# share of the zoomed crops' damaged versions that are the same window tilted
P_TILT_ZOOM = 0.15
# whole-photo composition cells of the validation set
POSITIONS = {"c": (0.5, 0.5), "tl": (0, 0), "t": (0.5, 0), "tr": (1, 0), "l": (0, 0.5), "r": (1, 0.5),
             "bl": (0, 1), "b": (0.5, 1), "br": (1, 1)}
COMP_VAL = {
    "crop": [("2/3", 2 / 3), ("1/2", 0.5)],                     # x every position
    "tilt": [("mild", 3.0), ("medium", 5.0), ("strong", 8.0)],  # degrees, both signs
    "squeeze": [("mild", 1.25), ("strong", 1.5)],                # either axis
    "neutral": [("mirror", None), ("tight90", 0.9), ("tight85", 0.85)],
}


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


def serving_box(w: int, h: int):
    """The source-pixel box that serving turns into the 448 view (shortest edge 448, centre crop)."""
    f = S / min(w, h)
    nw, nh = max(S, round(w * f)), max(S, round(h * f))
    x0, y0 = (nw - S) // 2, (nh - S) // 2
    return (x0 * w / nw, y0 * h / nh, (x0 + S) * w / nw, (y0 + S) * h / nh)


def _box_view(im: Image.Image, box) -> np.ndarray:
    """Resample a source box to the 448 view (as resizing the whole image and cropping would)."""
    up = (box[2] - box[0]) < S
    W, H = im.size  # clamp rounding overshoot (a box is always meant to lie inside the image)
    box = (max(0.0, box[0]), max(0.0, box[1]), min(float(W), box[2]), min(float(H), box[3]))
    return np.asarray(im.resize((S, S), Image.BICUBIC if up else Image.LANCZOS, box=box), dtype=np.float32) / 255.0


def frame(src: np.ndarray, kind: str = "original", *, f: float = 1.0, pos=(0.5, 0.5), angle: float = 0.0,
          ratio: float = 1.0, axis: str = "x", mirror: bool = False) -> np.ndarray:
    """A view made from the WHOLE photo (the original framing is the whole photo as serving prepares it).

    original  the serving view
    crop      the photo cut to f x its width and height, the cut placed at pos = (px, py) in [0, 1]^2 of
              the free room (0.5, 0.5 = centred), then served (a square of f x the serving side)
    tilt      rotated by angle degrees about the serving centre, cropped back to the largest inner square
    squeeze   one axis (x or y) shrunk by 1 / ratio, then served
    """
    if mirror:  # the mirror image's view = the mirrored geometry's view, flipped (no whole-image flip)
        v = frame(src, kind, f=f, pos=(1 - pos[0], pos[1]), angle=-angle, ratio=ratio, axis=axis)
        return v[:, ::-1].copy()
    im = _pil(src)
    w, h = im.size
    if kind == "squeeze":  # the serving box of the squeezed photo, mapped back onto the photo
        rx, ry = (ratio, 1.0) if axis == "x" else (1.0, ratio)
        b = serving_box(max(1, round(w / rx)), max(1, round(h / ry)))
        return _box_view(im, (b[0] * rx, b[1] * ry, b[2] * rx, b[3] * ry))
    box = serving_box(w, h)
    if kind == "original":
        return _box_view(im, box)
    side = min(box[2] - box[0], box[3] - box[1])
    if kind == "crop":
        cx = pos[0] * (1 - f) * w + f * w / 2
        cy = pos[1] * (1 - f) * h + f * h / 2
        L = f * side
    elif kind == "tilt":
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        a = math.radians(abs(angle))
        return _rotated_window(im, cx, cy, side / (math.cos(a) + math.sin(a)), angle)
    else:
        raise KeyError(kind)
    return _box_view(im, (cx - L / 2, cy - L / 2, cx + L / 2, cy + L / 2))


def _pil(src) -> Image.Image:
    return src if isinstance(src, Image.Image) else Image.fromarray(src)


def _rotated_window(im: Image.Image, cx: float, cy: float, L: float, angle: float) -> np.ndarray:
    """The square window of side L centred at (cx, cy) of the photo rotated by angle degrees about that
    centre.  Only a patch around the window is rotated (same pixels as rotating the whole photo)."""
    a = math.radians(abs(angle))
    R = int(math.ceil(L / 2 * (math.cos(a) + math.sin(a)) + 4 * L / S + 4))
    ix, iy = int(round(cx)), int(round(cy))
    patch = im.crop((ix - R, iy - R, ix + R, iy + R)).rotate(angle, resample=Image.BICUBIC, center=(R, R))
    px, py = R + (cx - ix), R + (cy - iy)
    return _box_view(patch, (px - L / 2, py - L / 2, px + L / 2, py + L / 2))


def offcentre(px: float, py: float) -> float:
    """0 = a centred cut .. 1 = against a corner / edge (pos as in frame())."""
    return float(max(abs(2 * px - 1), abs(2 * py - 1)))


def sample_composition(src: np.ndarray, rng: np.random.Generator, s: float):
    """One composition damage of severity s made from the whole photo -> (view, kind, severity, params)."""
    kinds = list(D.COMP_P)
    p = np.array([D.COMP_P[k] for k in kinds])
    kind = str(rng.choice(kinds, p=p / p.sum()))
    mirror = bool(rng.random() < 0.5)
    if kind == "crop":
        if rng.random() < 0.4:  # too tight, centred
            px = py = 0.5
        else:  # off-centre / corner: the cut against one edge of the photo, anywhere along it
            t = float(rng.uniform(0, 1))
            px, py = [(0.0, t), (1.0, t), (t, 0.0), (t, 1.0)][int(rng.integers(4))]
        off = offcentre(px, py)
        # solve crop_severity(f, off) = s for f (clip: a cut keeping > 97% is not a crop)
        f = float(np.clip(D.CROP_NEUTRAL - 0.35 * (s - 0.2 * off), 0.45, 0.97))
        s = D.crop_severity(f, off)
        return frame(src, "crop", f=f, pos=(px, py), mirror=mirror), kind, s, {"f": round(f, 3), "pos": [px, py]}
    if kind == "tilt":
        ang = D.tilt_degrees(s) * (1 if rng.random() < 0.5 else -1)
        return frame(src, "tilt", angle=ang, mirror=mirror), kind, s, {"angle": round(ang, 2)}
    ratio = D.squeeze_ratio(s)
    axis = "x" if rng.random() < 0.5 else "y"
    return frame(src, "squeeze", ratio=ratio, axis=axis, mirror=mirror), kind, s, {"ratio": round(ratio, 3), "axis": axis}


def crop_view(src: np.ndarray, rng: np.random.Generator, full_frame: bool, centre: bool = False,
              with_tilt: bool = False, src_im: Image.Image | None = None):
    """A 448 crop at a random scale and position -> (view, composition severity of its geometry)."""
    h, w, _ = src.shape
    sh = min(h, w)
    if full_frame or sh <= S:
        t = S
    else:
        t = int(round(S * 2.0 ** (rng.uniform(0, 1) * math.log2(sh / S))))
    f = t / sh
    nw, nh = max(S, round(w * f)), max(S, round(h * f))
    if centre:
        x0, y0 = (nw - S) // 2, (nh - S) // 2
    else:
        x0, y0 = int(rng.integers(0, nw - S + 1)), int(rng.integers(0, nh - S + 1))
    sx, sy = w / nw, h / nh  # the window in source pixels: resampled directly (no whole-image resize)
    im = _pil(src_im if src_im is not None else src)
    v = _box_view(im, (x0 * sx, y0 * sy, (x0 + S) * sx, (y0 + S) * sy))
    flip = not centre and rng.random() < 0.5
    if flip:
        v = v[:, ::-1].copy()
    # its framing against the whole photo: the side kept (of the serving view's) and how far off-centre
    fr = S / min(nw, nh)
    offs = [abs(2 * o + S - n) / ((1 - fr) * n) for o, n in ((x0, nw), (y0, nh)) if (1 - fr) * n > 1]
    sev = D.crop_severity(fr, min(1.0, max(offs, default=0.0)))
    if not with_tilt:
        return v, sev

    def tilted(angle: float) -> np.ndarray:
        """The same window tilted: the source rotated about its centre (full resolution), inner square."""
        a = math.radians(abs(angle))
        t = _rotated_window(im, (x0 + S / 2) * sx, (y0 + S / 2) * sy, S * min(sx, sy) / (math.cos(a) + math.sin(a)),
                            angle)
        return t[:, ::-1].copy() if flip else t
    return v, sev, tilted


def _sample_sev(rng):
    return float(np.clip(rng.uniform(0, 1) ** 1.35, 0.04, 1.0))


def _train_crop(args):
    key, path, n_crops, n_whole, seed = args
    rng = np.random.default_rng(seed)
    src = load_source(path)
    pil = Image.fromarray(src)
    kinds = list(D.KIND_P)
    p = np.array([D.KIND_P[k] for k in kinds])
    p = p / p.sum()
    views, metas = [], []
    for c in range(n_crops):
        cid = f"{key}#{c}"
        base, cs, tilted = crop_view(src, rng, full_frame=(c % 4 == 0), with_tilt=True, src_im=pil)
        base_sevs = [("crop", round(cs, 4))] if cs > 0 else []
        views.append(D.to_u8(base))
        metas.append({"crop": cid, "source": key, "sevs": base_sevs, "style": None})
        styled = None
        if rng.random() < 0.8:
            st = str(rng.choice(D.STYLES, p=[0.25, 0.25, 0.2, 0.3]))
            styled = D.style(st, base, rng)
            views.append(D.to_u8(styled))
            metas.append({"crop": cid, "source": key, "sevs": base_sevs, "style": st})
        for _ in range(3):
            if rng.random() < P_TILT_ZOOM:  # the same window tilted (made from the source, not the view)
                s = _sample_sev(rng)
                ang = D.tilt_degrees(s) * (1 if rng.random() < 0.5 else -1)
                views.append(D.to_u8(tilted(ang)))
                metas.append({"crop": cid, "source": key, "sevs": base_sevs + [("tilt", s)], "style": None,
                              "params": {"angle": round(ang, 2)}})
                continue
            b = styled if (styled is not None and rng.random() < 0.3) else base
            nk = 2 if rng.random() < 0.25 else 1
            ks = list(rng.choice(kinds, size=nk, replace=False, p=p))
            sevs = list(base_sevs)
            x = b
            for k in ks:
                s = _sample_sev(rng)
                x = D.apply(str(k), x, s, rng)
                sevs.append((str(k), s))
            views.append(D.to_u8(x))
            metas.append({"crop": cid, "source": key, "sevs": sevs, "style": metas[-1]["style"] if b is styled else None})
    for g in range(n_whole):  # composition: whole-photo groups
        cid = f"{key}#w{g}"
        mir = bool(rng.random() < 0.5)
        base = frame(pil, mirror=mir)
        views.append(D.to_u8(base))
        metas.append({"crop": cid, "source": key, "sevs": [], "style": None, "whole": True})
        views.append(D.to_u8(base[:, ::-1]))
        metas.append({"crop": cid, "source": key, "sevs": [], "style": "mirror", "whole": True})
        if rng.random() < 0.5:  # a slightly tighter centred crop: a legitimate framing choice
            fk = float(rng.uniform(D.CROP_NEUTRAL + 0.01, 0.98))
            views.append(D.to_u8(frame(pil, "crop", f=fk, mirror=mir)))
            metas.append({"crop": cid, "source": key, "sevs": [], "style": f"tight{fk:.2f}", "whole": True})
        else:
            st = str(rng.choice(D.STYLES))
            views.append(D.to_u8(D.style(st, base, rng)))
            metas.append({"crop": cid, "source": key, "sevs": [], "style": st, "whole": True})
        for _ in range(3):
            x, kind, s, prm = sample_composition(pil, rng, _sample_sev(rng))
            sevs = [(kind, round(s, 4))]
            if rng.random() < 0.2:
                k = str(rng.choice(kinds, p=p))
                s2 = _sample_sev(rng)
                x = D.apply(k, x, s2, rng)
                sevs.append((k, s2))
            views.append(D.to_u8(x))
            metas.append({"crop": cid, "source": key, "sevs": sevs, "style": None, "whole": True, "params": prm})
    return np.stack(views), metas


def _val_crop(args):
    key, path, n_crops, _, seed = args
    rng = np.random.default_rng(seed)
    src = load_source(path)
    pil = Image.fromarray(src)
    views, metas = [], []
    for c in range(n_crops):
        cid = f"{key}#{c}"
        if c == 0:  # the whole photo as serving prepares it
            base, cs = frame(pil), 0.0
        else:
            base, cs = crop_view(src, rng, full_frame=False, src_im=pil)
        views.append(D.to_u8(base))
        metas.append({"crop": cid, "source": key, "kind": "original", "level": "none", "sevs": [],
                      "whole": c == 0, "framing_severity": round(cs, 3)})
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
        if c == 0:
            for v, m in composition_cells(pil):
                views.append(D.to_u8(v))
                metas.append({"crop": cid, "source": key, **m})
    return np.stack(views), metas


def composition_cells(src: np.ndarray):
    """The validation composition cells of one whole photo -> [(view, meta)]."""
    out = []
    for name, f in COMP_VAL["crop"]:
        for pn, pos in POSITIONS.items():
            s = D.crop_severity(f, offcentre(*pos))
            out.append((frame(src, "crop", f=f, pos=pos),
                        {"kind": "crop", "level": f"{name}:{pn}", "sevs": [("crop", s)]}))
    for name, deg in COMP_VAL["tilt"]:
        for sign in (1, -1):
            out.append((frame(src, "tilt", angle=sign * deg),
                        {"kind": "tilt", "level": f"{name}{'+' if sign > 0 else '-'}", "value": sign * deg,
                         "sevs": [("tilt", D.sev_for("tilt", deg))]}))
    for name, r in COMP_VAL["squeeze"]:
        for axis in ("x", "y"):
            out.append((frame(src, "squeeze", ratio=r, axis=axis),
                        {"kind": "squeeze", "level": f"{name}:{axis}", "value": r,
                         "sevs": [("squeeze", D.sev_for("squeeze", r))]}))
    for name, f in COMP_VAL["neutral"]:
        v = frame(src, mirror=True) if name == "mirror" else frame(src, "crop", f=f)
        out.append((v, {"kind": "neutral:" + name, "level": "none", "sevs": []}))
    return out


def _part(args):
    """One source's views, written to parts/<job>.u8 / .json (a killed build resumes from the parts)."""
    fn, job, pdir, i = args
    base = os.path.join(pdir, f"{i:03d}")
    if not (os.path.exists(base + ".json") and os.path.exists(base + ".u8")):
        v, m = fn(job)
        with open(base + ".u8.tmp", "wb") as f:
            f.write(v.tobytes())
        os.replace(base + ".u8.tmp", base + ".u8")
        with open(base + ".json", "w") as f:
            json.dump(m, f)
    with open(base + ".json") as f:
        return base, json.load(f)


def build(out: str, which: str, keys, n_crops_fn, seed: int, workers: int = 2, n_whole_fn=lambda s: 0):
    srcs = all_sources()
    d = os.path.join(out, which)
    pdir = os.path.join(d, "parts")
    os.makedirs(pdir, exist_ok=True)
    jobs = [(k, srcs[k]["path"], n_crops_fn(srcs[k]), n_whole_fn(srcs[k]), seed * 1000 + i) for i, k in enumerate(keys)]
    fn = _train_crop if which == "train" else _val_crop
    jf = os.path.join(pdir, "jobs.json")  # parts are only reused for the same jobs
    want = [list(j) for j in jobs]
    if os.path.exists(jf) and json.load(open(jf)) != want:
        shutil.rmtree(pdir)
        os.makedirs(pdir)
    with open(jf, "w") as f:
        json.dump(want, f)
    metas = []
    n = 0
    with Pool(workers) as pool:
        parts = []
        for base, m in pool.imap(_part, [(fn, j, pdir, i) for i, j in enumerate(jobs)]):
            parts.append(base)
            metas.extend(m)
            n += len(m)
            print(f"[{which}] {m[0]['source']}: {len(m)} views (total {n})", flush=True)
    with open(os.path.join(d, "views.u8"), "wb") as f:
        for base in parts:
            with open(base + ".u8", "rb") as g:
                while True:
                    b = g.read(1 << 24)
                    if not b:
                        break
                    f.write(b)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"size": S, "n": n, "views": metas}, f)
    shutil.rmtree(pdir)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--crops-photo", type=int, default=56, help="zoomed crop groups per photo")
    ap.add_argument("--crops-art", type=int, default=21, help="zoomed crop groups per illustration")
    ap.add_argument("--whole-photo", type=int, default=14, help="whole-photo (composition) groups per photo")
    ap.add_argument("--whole-art", type=int, default=4, help="whole-photo (composition) groups per illustration")
    ap.add_argument("--val-crops", type=int, default=4)
    ap.add_argument("--smoke", action="store_true", help="a few crops of a few sources")
    ap.add_argument("--only", choices=["train", "val"], default=None)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    sp = split()
    tr, va = sp["train"], sp["val"]
    if a.smoke:
        tr, va = tr[:3], va[:2]
        a.crops_photo, a.crops_art, a.val_crops, a.whole_photo, a.whole_art = 2, 2, 1, 1, 1
    else:
        require_all_sources()
    if a.only in (None, "train"):
        build(a.out, "train", tr, lambda s: a.crops_photo if s["kind"] == "photo" else a.crops_art, a.seed,
              n_whole_fn=lambda s: a.whole_photo if s["kind"] == "photo" else a.whole_art)
    if a.only in (None, "val"):
        build(a.out, "val", va, lambda s: a.val_crops, a.seed + 7)


if __name__ == "__main__":
    main()
