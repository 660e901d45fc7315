"""Image pools for pretraining: listing and loading a folder of photos, the free-photo folders of the
proofs, QPT V2-style curation (high resolution, high foreground coverage, no near-duplicates), and the
degraded views both pretrainers draw."""
from __future__ import annotations

import math
import os
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image
from scipy import ndimage

from mmlq_build import degrade as D
from mmlq_build import sources as S

EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def list_images(folder: str) -> List[str]:
    out = []
    for dp, _, fns in os.walk(folder):
        out += [os.path.join(dp, f) for f in fns if f.lower().endswith(EXTS)]
    return sorted(out)


def load(path: str, max_side: int) -> Tuple[np.ndarray, Tuple[int, int]]:
    """float32 RGB with the shorter side reduced to <= max_side, and the ORIGINAL (w, h)."""
    im = Image.open(path)
    size = im.size
    im.draft("RGB", (max_side * 2, max_side * 2))
    im = im.convert("RGB")
    f = max_side / min(im.size)
    if f < 1:
        im = im.resize((max(1, round(im.size[0] * f)), max(1, round(im.size[1] * f))), Image.BICUBIC)
    return np.asarray(im, dtype=np.float32) / 255.0, size


def write_free_photos(out: str, split: str = "train", max_side: int = 640) -> str:
    """The free-licence photos of mmlq_build.sources (split "train": all but the held-out ones; "val": the
    held-out ones) as JPEGs in ``out`` (the --images folder of the pretraining proofs)."""
    os.makedirs(out, exist_ok=True)
    keys = S.split()[split]
    src = S.all_sources()
    for k in keys:
        x, _ = load(src[k]["path"], max_side)
        Image.fromarray(D.to_u8(x)).save(os.path.join(out, k.replace(":", "_") + ".jpg"), quality=95)
    return out


# ---------------------------------------------------------------------------------------------
# curation (QPT V2: "high resolution" and "high foreground coverage"; the measures here are ours)
# ---------------------------------------------------------------------------------------------
def spectral_residual_saliency(x: np.ndarray, side: int = 64) -> np.ndarray:
    """Hou & Zhang (CVPR 2007) spectral residual saliency of the luminance at side x side, in [0, 1]."""
    g = np.asarray(Image.fromarray(D.to_u8(x)).convert("L").resize((side, side), Image.BILINEAR), np.float64)
    f = np.fft.fft2(g)
    amp, ph = np.log(np.abs(f) + 1e-8), np.angle(f)
    res = amp - ndimage.uniform_filter(amp, 3, mode="wrap")
    s = np.abs(np.fft.ifft2(np.exp(res + 1j * ph))) ** 2
    s = ndimage.gaussian_filter(s, 2.5)
    return (s - s.min()) / (s.max() - s.min() + 1e-12)


def foreground_coverage(x: np.ndarray) -> float:
    """Fraction of the image whose saliency exceeds its mean (ours: a proxy of QPT V2's foreground
    coverage, whose exact measure we could not read here)."""
    s = spectral_residual_saliency(x)
    return float((s > s.mean()).mean())


def ahash(x: np.ndarray) -> int:
    g = np.asarray(Image.fromarray(D.to_u8(x)).convert("L").resize((8, 8), Image.BOX), np.float64)
    bits = (g > g.mean()).reshape(-1)
    return int("".join("1" if b else "0" for b in bits), 2)


def curate(paths: List[str], min_side: int, min_fg: float, max_side: int = 640,
           dup_bits: int = 4) -> Tuple[Dict[str, np.ndarray], List[dict]]:
    """Keep images whose original shorter side >= min_side (HR) and foreground coverage >= min_fg (HFC),
    dropping near-duplicates (8x8 average hash within dup_bits bits; ours).  Returns the kept images and a
    report row per input."""
    kept: Dict[str, np.ndarray] = {}
    hashes: List[int] = []
    report = []
    for p in paths:
        try:
            x, (w, h) = load(p, max_side)
        except Exception as e:  # unreadable: reported, skipped
            report.append({"file": os.path.basename(p), "kept": False, "why": f"unreadable ({type(e).__name__})"})
            continue
        fg = foreground_coverage(x)
        hsh = ahash(x)
        why = None
        if min(w, h) < min_side:
            why = f"resolution {min(w, h)} < {min_side}"
        elif fg < min_fg:
            why = f"foreground coverage {fg:.2f} < {min_fg}"
        elif any(bin(hsh ^ o).count("1") <= dup_bits for o in hashes):
            why = "near-duplicate"
        report.append({"file": os.path.basename(p), "kept": why is None, "why": why, "short_side": min(w, h),
                       "foreground": round(fg, 3)})
        if why is None:
            kept[p] = x
            hashes.append(hsh)
    return kept, report


# ---------------------------------------------------------------------------------------------
# views
# ---------------------------------------------------------------------------------------------
def sharpen(x: np.ndarray, s: float) -> np.ndarray:
    """Over-sharpening (unsharp mask, amount 3 s, sigma 1.5 px): QPT V2 lists sharpening among its
    degradations; degrade.py has none."""
    b = ndimage.gaussian_filter(x, (1.5, 1.5, 0))
    return np.clip(x + 3.0 * s * (x - b), 0, 1).astype(np.float32)


def multiscale_crop(x: np.ndarray, size: int, rng: np.random.Generator, scale=(0.15, 1.0)) -> np.ndarray:
    """A square crop covering a random fraction (area) of the shorter side's square, resized to size:
    the same network sees the photo at many scales (the multi-scale input)."""
    h, w, _ = x.shape
    c = int(min(h, w) * np.sqrt(rng.uniform(*scale)))
    c = max(8, c)
    y0, x0 = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
    return D.resize(x[y0:y0 + c, x0:x0 + c], size, size)


def apply(kind: str, x: np.ndarray, s: float, rng: np.random.Generator, **kw) -> np.ndarray:
    """degrade.apply, plus "tilt" at the view level: the default-model build makes its tilts from the
    whole source photo (build_views), but these recipes damage square views they already hold, so a
    tilt here is the view rotated by degrade.tilt_degrees(s) and cropped back to its largest square."""
    if kind != "tilt":
        return D.apply(kind, x, s, rng, **kw)
    h, w = x.shape[:2]
    ang = D.tilt_degrees(s) * (1 if rng.random() < 0.5 else -1)
    im = Image.fromarray(D.to_u8(x)).rotate(ang, resample=Image.BICUBIC)
    a = math.radians(abs(ang))
    c = min(h, w) / (math.cos(a) + math.sin(a))
    ox, oy = (w - c) / 2, (h - c) / 2
    im = im.crop((ox, oy, w - ox, h - oy)).resize((w, h), Image.BICUBIC)
    return np.asarray(im, dtype=np.float32) / 255.0


QPT_KINDS = ["gblur", "defocus", "motion", "noise", "jpeg", "upscale", "sharpen", "under", "over", "contrast",
             "cast", "faded", "oversat"]


def degrade_view(x: np.ndarray, rng: np.random.Generator, p: float, kinds=QPT_KINDS,
                 s_range=(0.05, 0.9)) -> Tuple[np.ndarray, Optional[Tuple[str, float]]]:
    if rng.random() >= p:
        return x, None
    k = str(kinds[int(rng.integers(len(kinds)))])
    s = float(rng.uniform(*s_range))
    y = sharpen(x, s) if k == "sharpen" else np.clip(apply(k, x, s, rng), 0, 1).astype(np.float32)
    return y, (k, s)
