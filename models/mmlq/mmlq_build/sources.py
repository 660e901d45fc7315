"""Free-licence source images used for training / validation (never shipped, except the public-domain
/ CC0 skimage photos used for the parity fixtures).

Licences (from /usr/share/doc/<package>/copyright and skimage's own docstrings):
* mate-backgrounds (nature/*): GPL-2+, photographers listed in that copyright file.
* plasma-workspace-wallpapers: GPL-2+, (c) 2014 KDE Visual Design Group and the wallpaper authors.
* python3-skimage data: astronaut (NASA, public domain), coffee (CC0, Rachel Michetti),
  chelsea (CC0, Stefan van der Walt), rocket (SpaceX, public domain), motorcycle (Middlebury stereo
  set), camera/moon/grass/gravel/brick (scikit-image sample data, BSD-3 per skimage).
The photos are used as raw material to synthesise degraded views; the shipped model contains no
image data.
"""
from __future__ import annotations

import glob
import os
from typing import Dict, List

WALL = "/usr/share/wallpapers"
MATE = "/usr/share/backgrounds/mate"
SKI = "/usr/lib/python3/dist-packages/skimage/data"

# KDE wallpapers that are photographs (the rest are illustrations / renders)
KDE_PHOTOS = ["BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
              "Grey", "Kite", "MilkyWay", "OneStandsOut", "Path", "Volna", "summer_1am"]
KDE_ART = ["Altai", "Autumn", "Canopee", "Cascade", "Cluster", "Elarun", "Flow", "FlyingKonqui",
           "Honeywave", "IceCold", "Kay", "Kokkini", "Opal", "PastelHills", "Patak", "SafeLanding", "Shell"]
MATE_NATURE = ["Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops",
               "Storm", "TwoWings", "Wood", "YellowFlower"]
SKI_PHOTOS = ["astronaut.png", "camera.png", "moon.png", "grass.png", "gravel.png", "brick.png",
              "motorcycle_left.png", "hubble_deep_field.jpg", "rocket.jpg", "coffee.png"]

# whole source photos held out for validation (never trained on)
HOLDOUT = ["kde:EveningGlow", "kde:FallenLeaf", "kde:ColdRipple", "kde:Path", "mate:LadyBird",
           "mate:Storm", "mate:YellowFlower", "ski:rocket.jpg", "ski:motorcycle_left.png"]


def _largest(folder: str) -> str:
    fs = [f for f in glob.glob(os.path.join(folder, "*")) if f.lower().endswith((".jpg", ".jpeg", ".png"))]
    return max(fs, key=os.path.getsize)


def all_sources() -> Dict[str, Dict[str, str]]:
    out: Dict[str, Dict[str, str]] = {}
    for n in KDE_PHOTOS + KDE_ART:
        d = os.path.join(WALL, n, "contents", "images")
        if os.path.isdir(d):
            out[f"kde:{n}"] = {"path": _largest(d), "kind": "photo" if n in KDE_PHOTOS else "art",
                               "licence": "GPL-2+ (plasma-workspace-wallpapers, KDE Visual Design Group)"}
    for n in MATE_NATURE:
        p = os.path.join(MATE, "nature", n + ".jpg")
        if os.path.exists(p):
            out[f"mate:{n}"] = {"path": p, "kind": "photo", "licence": "GPL-2+ (mate-backgrounds)"}
    for n in SKI_PHOTOS:
        p = os.path.join(SKI, n)
        if os.path.exists(p):
            out[f"ski:{n}"] = {"path": p, "kind": "photo", "licence": "public domain / CC0 / BSD-3 (scikit-image data)"}
    return out


def split() -> Dict[str, List[str]]:
    s = all_sources()
    val = [k for k in HOLDOUT if k in s]
    train = [k for k in s if k not in val]
    return {"train": train, "val": val}


# Debian packages that carry the source photos (the full build refuses to run without them)
SOURCE_PACKAGES = "plasma-workspace-wallpapers mate-backgrounds python3-skimage"


def require_all_sources() -> None:
    """A full build needs every listed source: a silently smaller set would train a different model."""
    s = all_sources()
    missing = [n for n in [f"kde:{k}" for k in KDE_PHOTOS + KDE_ART] + [f"mate:{k}" for k in MATE_NATURE]
               + [f"ski:{k}" for k in SKI_PHOTOS] if n not in s]
    if missing:
        raise SystemExit(f"{len(missing)} source images missing ({', '.join(missing[:6])}...): "
                         f"apt-get install {SOURCE_PACKAGES}")
