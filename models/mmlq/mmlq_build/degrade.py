"""Graded synthetic degradations and legit photographic styles, on float32 RGB arrays in [0, 1].

Every damage kind takes a severity s in [0, 1] (0 = none).  The parameter maps (ours) are chosen so
that the validation levels land at roughly s ~ 0.2 (mild), 0.45 (medium), 0.8 (strong):

  gblur      Gaussian blur        sigma = 8 s^1.2 px                (1.2 -> .21, 3 -> .44, 6 -> .79)
  defocus    disk blur            radius = 7 s^1.2 px
  motion     linear motion blur   length = 24 s^1.2 px, random angle
  noise      Gaussian noise       sigma = 80 s^1.1 (of 255), colour or luminance (15 -> .22, 35 -> .47, 70 -> .89)
  jpeg       JPEG re-encode       quality = 90^(1-s) 3^s            (25 -> .38, 10 -> .65, 4 -> .92)
  under      under-exposure       x * 2^(-2.5 s)                    (x.6 -> .29, x.4 -> .53, x.25 -> .8)
  over       over-exposure        x * 2^(2.2 s) or x + 0.6 s, clipped
  contrast   low contrast / haze  towards the mean (1 - .8 s) or towards a grey veil
  cast       colour cast          per-channel gains 1 + .6 s u
  faded      faded print          desaturate .7 s, lift blacks .25 s, contrast (1 - .4 s)
  oversat    over-saturation      chroma x (1 + 2.5 s)
  pixelate   pixelation           box-down by 1 + 11 s, nearest up
  upscale    soft upscale         down by 1 + 5 s, bicubic up
  posterize  banding              2^(8 - 6.5 s) levels

Composition damages (attribute "composition", weight .7).  They are made from the WHOLE source photo
(build_views.py: the original framing is the whole photo as serving prepares it, shortest edge 448 +
centre crop), never from a 448 view that is already a crop:

  crop       cut into the frame   a window of f x the serving view's side, anywhere in the photo;
                                   severity = crop_severity(f, off) = clip((0.85 - f) / 0.35 + 0.2 off, 0, 1)
                                   (off = 0 centred .. 1 against a corner / edge of the photo):
                                   f = 2/3 centred -> .52, corner -> .72; f = 1/2 centred -> 1.
                                   The boundary: a centred crop keeping >= 85% of the side is a
                                   legitimate tighter framing (S = 0, trained as neutral); 85% pushed
                                   into a corner is a mild damage (.2); below ~1/2 of the side is the
                                   strongest damage.  The random zoomed training crops carry the same
                                   severity (their geometry is known), so no undamaged-labelled view
                                   contradicts it.
  tilt       rotation             1 + 9 s degrees about the view centre, cropped back to the largest
                                   inner square (3 deg -> .22, 5 -> .44, 8 -> .78)
  squeeze    aspect ratio         one axis x 1 / (1 + 0.6 s)  (1.25 -> .42, 1.5 -> .83)

Legit styles (targets unchanged, they are not defects): black-and-white, low-key, high-key,
shallow depth of field (a sharp elliptical region, blurred surroundings); on whole photos also the
mirror image and a centred crop keeping >= 85% of the side.
"""
from __future__ import annotations

import io
import math
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image
from scipy import ndimage

# kind -> (attribute it damages or None, weight in the overall severity)
KINDS: Dict[str, Tuple[str, float]] = {
    "gblur": ("sharpness", 1.0), "defocus": ("sharpness", 1.0), "motion": ("sharpness", 1.0),
    "noise": ("noise", 1.0), "jpeg": ("compression", 1.0),
    "under": ("exposure", 1.0), "over": ("exposure", 1.0),
    "contrast": ("contrast", 0.9), "cast": ("colour", 0.8), "faded": ("colour", 0.9), "oversat": ("colour", 0.8),
    "pixelate": ("compression", 1.0), "upscale": ("sharpness", 1.0), "posterize": ("compression", 0.9),
    "crop": ("composition", 0.7), "tilt": ("composition", 0.7), "squeeze": ("composition", 0.7),
}
# composition damages: made from the whole photo by build_views (not by apply())
COMP_KINDS = ("crop", "tilt", "squeeze")
# sampling weights of the composition damages in the whole-photo training groups
COMP_P = {"crop": 0.45, "tilt": 0.4, "squeeze": 0.15}
# a centred crop keeping at least this fraction of the side is a legitimate tighter framing
CROP_NEUTRAL = 0.85
# sampling weights of kinds in training
KIND_P = {"gblur": 3, "defocus": 1.5, "motion": 1.5, "noise": 3, "jpeg": 3, "under": 2.5, "over": 2,
          "contrast": 1.5, "cast": 1, "faded": 1, "oversat": 0.7, "pixelate": 1, "upscale": 1.5,
          "posterize": 0.7}
STYLES = ["bw", "lowkey", "highkey", "sdof"]


def to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def lum(x: np.ndarray) -> np.ndarray:
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def _disk(r: float) -> np.ndarray:
    R = int(math.ceil(r))
    yy, xx = np.mgrid[-R:R + 1, -R:R + 1]
    k = np.clip(r + 0.5 - np.sqrt(xx ** 2 + yy ** 2), 0, 1).astype(np.float32)
    return k / k.sum()


def _motion_kernel(length: float, angle: float) -> np.ndarray:
    L = max(1.0, length)
    R = int(math.ceil(L / 2)) + 1
    k = np.zeros((2 * R + 1, 2 * R + 1), np.float32)
    for t in np.linspace(-L / 2, L / 2, int(L * 4) + 2):
        x = R + t * math.cos(angle)
        y = R + t * math.sin(angle)
        x0, y0 = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - x0, y - y0
        for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            if 0 <= y0 + dy < k.shape[0] and 0 <= x0 + dx < k.shape[1]:
                k[y0 + dy, x0 + dx] += w
    return k / k.sum()


def _conv(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    return np.stack([ndimage.convolve(x[..., c], k, mode="reflect") for c in range(3)], axis=-1)


def gblur_sigma(s): return 8.0 * s ** 1.2
def noise_sigma(s): return 80.0 * s ** 1.1
def jpeg_quality(s): return int(round(90.0 ** (1 - s) * 3.0 ** s))
def under_factor(s): return 2.0 ** (-2.5 * s)


def crop_severity(f: float, off: float) -> float:
    """A window of f x the serving view's side, off = 0 (centred) .. 1 (against a corner / edge)."""
    return float(np.clip((CROP_NEUTRAL - f) / 0.35 + 0.2 * off, 0.0, 1.0))


def tilt_degrees(s): return 1.0 + 9.0 * s
def squeeze_ratio(s): return 1.0 + 0.6 * s


def sev_for(kind: str, value: float) -> float:
    """Inverse maps for the validation levels."""
    if kind == "gblur":
        return (value / 8.0) ** (1 / 1.2)
    if kind == "noise":
        return (value / 80.0) ** (1 / 1.1)
    if kind == "jpeg":
        return math.log(90.0 / value) / math.log(30.0)
    if kind == "under":
        return -math.log2(value) / 2.5
    if kind == "tilt":
        return (abs(value) - 1.0) / 9.0
    if kind == "squeeze":
        return (value - 1.0) / 0.6
    raise KeyError(kind)


def resize(x: np.ndarray, w: int, h: int, method=Image.BICUBIC) -> np.ndarray:
    im = Image.fromarray(to_u8(x)) if x.dtype != np.uint8 else Image.fromarray(x)
    return np.asarray(im.resize((w, h), method), dtype=np.float32) / 255.0


def apply(kind: str, x: np.ndarray, s: float, rng: np.random.Generator, **kw) -> np.ndarray:
    H, W, _ = x.shape
    if s <= 0:
        return x
    if kind == "gblur":
        sg = kw.get("sigma", gblur_sigma(s))
        return ndimage.gaussian_filter(x, (sg, sg, 0), mode="reflect")
    if kind == "defocus":
        return _conv(x, _disk(max(0.5, 7.0 * s ** 1.2)))
    if kind == "motion":
        return _conv(x, _motion_kernel(24.0 * s ** 1.2, rng.uniform(0, math.pi)))
    if kind == "noise":
        sg = kw.get("sigma", noise_sigma(s)) / 255.0
        mode = kw.get("mode", rng.choice(["colour", "lum", "shot"]))
        if mode == "colour":
            n = rng.standard_normal(x.shape).astype(np.float32) * sg
        elif mode == "lum":
            n = (rng.standard_normal((H, W, 1)).astype(np.float32) * sg
                 + rng.standard_normal(x.shape).astype(np.float32) * sg * 0.3)
        else:  # signal-dependent (shot-like)
            n = rng.standard_normal(x.shape).astype(np.float32) * sg * np.sqrt(0.25 + 1.1 * x)
        return np.clip(x + n, 0, 1)
    if kind == "jpeg":
        q = kw.get("quality", jpeg_quality(s))
        buf = io.BytesIO()
        Image.fromarray(to_u8(x)).save(buf, format="JPEG", quality=int(max(1, min(95, q))))
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.float32) / 255.0
    if kind == "under":
        f = kw.get("factor", under_factor(s))
        return np.clip(x * f, 0, 1)
    if kind == "over":
        if rng.random() < 0.5:
            return np.clip(x * 2.0 ** (2.2 * s), 0, 1)
        return np.clip(x + 0.6 * s, 0, 1)
    if kind == "contrast":
        if rng.random() < 0.6:
            m = lum(x).mean()
            return np.clip(m + (x - m) * (1 - 0.8 * s), 0, 1)
        a = 0.7 * s
        c = rng.uniform(0.55, 0.95)
        return np.clip(x * (1 - a) + a * c, 0, 1)
    if kind == "cast":
        u = rng.standard_normal(3)
        u = u / (np.linalg.norm(u) + 1e-6)
        g = 1 + 0.6 * s * u
        return np.clip(x * g.astype(np.float32), 0, 1)
    if kind == "faded":
        l = lum(x)[..., None]
        y = l + (x - l) * (1 - 0.7 * s)
        y = 0.25 * s + y * (1 - 0.25 * s)
        m = y.mean()
        return np.clip(m + (y - m) * (1 - 0.4 * s), 0, 1)
    if kind == "oversat":
        l = lum(x)[..., None]
        return np.clip(l + (x - l) * (1 + 2.5 * s), 0, 1)
    if kind == "pixelate":
        f = 1 + 11 * s
        w, h = max(2, int(W / f)), max(2, int(H / f))
        return resize(resize(x, w, h, Image.BOX), W, H, Image.NEAREST)
    if kind == "upscale":
        f = 1 + 5 * s
        w, h = max(2, int(W / f)), max(2, int(H / f))
        return resize(resize(x, w, h, Image.BILINEAR), W, H, Image.BICUBIC)
    if kind == "posterize":
        lv = max(2, int(round(2 ** (8 - 6.5 * s))))
        return np.round(x * (lv - 1)) / (lv - 1)
    raise KeyError(kind)


def style(name: str, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Legit photographic styles (not defects)."""
    if name == "bw":
        w = rng.dirichlet([3, 5, 2]).astype(np.float32)
        y = (x * w).sum(-1, keepdims=True)
        if rng.random() < 0.5:  # a little punch, as B/W conversions usually get
            y = np.clip((y - 0.5) * rng.uniform(1.0, 1.25) + 0.5, 0, 1)
        return np.repeat(y, 3, axis=-1)
    if name == "lowkey":
        return np.clip(x, 0, 1) ** rng.uniform(1.5, 2.4)
    if name == "highkey":
        return 1 - (1 - np.clip(x, 0, 1)) ** rng.uniform(1.5, 2.4)
    if name == "sdof":
        H, W, _ = x.shape
        cy, cx = rng.uniform(0.3, 0.7) * H, rng.uniform(0.3, 0.7) * W
        ry, rx = rng.uniform(0.18, 0.35) * H, rng.uniform(0.18, 0.35) * W
        yy, xx = np.mgrid[0:H, 0:W]
        d = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
        m = np.clip((d - 0.8) / 0.6, 0, 1)[..., None].astype(np.float32)
        r = rng.uniform(3, 8)
        bg = _conv(x, _disk(r)) if rng.random() < 0.5 else ndimage.gaussian_filter(x, (r, r, 0))
        return x * (1 - m) + bg * m
    raise KeyError(name)


def combined_severity(sevs: List[Tuple[str, float]]) -> float:
    p = 1.0
    for k, s in sevs:
        p *= 1.0 - KINDS[k][1] * s
    return 1.0 - p


def attribute_targets(sevs: List[Tuple[str, float]], labels) -> np.ndarray:
    a = np.ones(len(labels), np.float32)
    for k, s in sevs:
        att = KINDS[k][0]
        if att is not None:
            i = labels.index(att)
            a[i] = min(a[i], 1.0 - s)
    return a


# target score distribution (ours): mean falls linearly with the combined severity S,
# mu = 7.0 - 5.0 S (+ 0.3 x comment polarity), discretised normal with sd 1.4 over bins 1..10
MU_CLEAN, MU_SLOPE, TARGET_SD, TEXT_SHIFT = 7.0, 5.0, 1.4, 0.3


def target_distribution(S: float, polarity: float = 0.0) -> np.ndarray:
    mu = MU_CLEAN - MU_SLOPE * S + TEXT_SHIFT * polarity
    b = np.arange(1, 11, dtype=np.float64)
    p = np.exp(-0.5 * ((b - mu) / TARGET_SD) ** 2)
    return (p / p.sum()).astype(np.float32)
