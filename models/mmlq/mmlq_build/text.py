"""Synthetic comments whose polarity correlates (noisily) with the image's condition.

Word lists are split into SEEN (used in training) and UNSEEN synonyms (validation only): the frozen
GloVe embedding carries the meaning of an unseen synonym if the projection learned semantics rather
than word identities.  Neutral CMS-style captions (subject, place, file names) carry no condition
signal and must not move the score.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np

SEEN: Dict[str, List[str]] = {
    "pos": ["great", "beautiful", "lovely", "stunning", "gorgeous", "excellent", "wonderful", "amazing", "superb",
            "fantastic", "perfect", "nice", "awesome", "outstanding", "impressive", "exquisite", "delightful",
            "fabulous", "terrific", "elegant", "striking", "fine"],
    "sharp": ["crisp", "sharp", "clear", "detailed", "focused", "clean", "precise", "tack sharp", "razor sharp",
              "in focus"],
    "light": ["well exposed", "lovely light", "great light", "beautiful lighting", "balanced exposure", "nice tones",
              "rich tones", "good contrast", "soft light", "glowing light", "natural light"],
    "colour": ["vivid colours", "vibrant colors", "rich colours", "natural colors", "beautiful colours",
               "warm colors", "true colours"],
    "neg": ["bad", "poor", "terrible", "awful", "ugly", "disappointing", "mediocre", "weak", "sloppy",
            "amateurish", "boring", "unusable", "useless"],
    "sharpness": ["blurry", "blurred", "fuzzy", "soft", "out of focus", "unfocused", "smeared", "shaky",
                  "smudgy", "unsharp", "camera shake"],
    "exposure_dark": ["dark", "too dark", "underexposed", "murky", "dim", "gloomy", "shadowy", "muddy",
                      "black"],
    "exposure_bright": ["overexposed", "too bright", "blown out", "burnt out", "washed out", "glaring",
                        "blinding"],
    "contrast": ["flat", "dull", "lifeless", "foggy", "grey", "low contrast", "muted", "milky", "veiled"],
    "noise": ["noisy", "grainy", "speckled", "gritty", "spotty", "full of noise", "noise everywhere"],
    "compression": ["pixelated", "blocky", "compressed", "jpeg artifacts", "artefacts", "low resolution",
                    "low res", "jagged", "banding"],
    "colour_bad": ["oversaturated", "garish", "discoloured", "off colour", "tinted", "yellowish", "greenish",
                   "bluish", "faded", "colour cast"],
}
UNSEEN: Dict[str, List[str]] = {
    "pos": ["splendid", "magnificent", "marvelous", "breathtaking", "sublime", "brilliant"],
    "sharp": ["pristine", "immaculate", "flawless"],
    "neg": ["horrible", "dreadful", "lousy", "atrocious", "abysmal", "pathetic"],
    "sharpness": ["smudged", "bleary", "indistinct", "hazy"],
    "exposure_dark": ["dingy", "somber", "unlit", "dusky"],
    "noise": ["mottled", "sandy"],
}
SUBJECTS = ["cat", "dog", "boat", "lake", "mountain", "flower", "garden", "street", "city", "beach", "bridge",
            "forest", "car", "coffee", "portrait", "wedding", "birthday", "sunset", "house", "church", "market",
            "river", "harbour", "kitchen", "team", "product", "office", "festival", "concert", "bird", "tree",
            "road", "train", "village", "castle", "snow", "rain", "field", "horse", "bicycle"]
PLACES = ["in paris", "at the lake", "near the harbour", "in the park", "at home", "downtown", "in the mountains",
          "on the coast", "in spring", "in winter", "at dusk", "this morning", "last summer", "in 2019",
          "on holiday", "at the office"]

POS_T = ["{pos} photo", "{pos} shot!", "what a {pos} picture", "{sharp} and {pos}", "{pos}, {light}",
         "really {pos}, {light}", "love it, so {sharp}", "{pos} {colour}", "the detail is {pos}",
         "{sharp} with {light}", "{pos} {subject} shot, {sharp}", "{light} and {colour}", "{pos}!",
         "such a {pos} image, {sharp} and {light}", "not blurry at all, {pos}", "{pos} work, {colour}"]
NEG_T = ["{neg} photo", "too {defect}", "{defect} and {neg}", "sorry but this is {defect}", "the image is {defect}",
         "looks {defect}", "why so {defect}?", "nice idea but {defect}", "{pos} {subject} but the photo is {defect}",
         "{defect}, {neg}", "unfortunately {defect}", "{defect} {subject} picture", "way too {defect}",
         "not sharp, {defect}", "{neg}: {defect}", "{defect}"]
NEU_T = ["{subject} {place}", "photo of a {subject}", "my {subject}", "the {subject} {place}", "{subject}",
         "IMG {num}", "DSC_{num}.jpg", "untitled", "{subject} and {subject2} {place}", "view {place}",
         "our {subject} {place}", "{subject} photo {num}"]

DEFECT_OF_ATTR = {"sharpness": "sharpness", "noise": "noise", "compression": "compression",
                  "contrast": "contrast", "colour": "colour_bad"}


def _pick(rng, lst):
    return lst[int(rng.integers(len(lst)))]


def _fill(t: str, rng, words: Dict[str, List[str]], defect: Optional[str] = None) -> str:
    def w(k):
        return _pick(rng, words.get(k) or SEEN[k])
    return t.format(pos=w("pos"), sharp=w("sharp"), light=_pick(rng, SEEN["light"]), colour=_pick(rng, SEEN["colour"]),
                    neg=w("neg"), defect=w(defect) if defect else w("neg"), subject=_pick(rng, SUBJECTS),
                    subject2=_pick(rng, SUBJECTS), place=_pick(rng, PLACES), num=int(rng.integers(10, 9999)))


def defect_word_key(kind_attr: Optional[str], kind: Optional[str]) -> Optional[str]:
    if kind_attr == "exposure":
        return "exposure_dark" if kind == "under" else "exposure_bright"
    return DEFECT_OF_ATTR.get(kind_attr or "", None)


def comment(rng: np.random.Generator, polarity: int, defect_key: Optional[str] = None,
            words: Optional[Dict[str, List[str]]] = None) -> str:
    words = words or SEEN
    if polarity > 0:
        return _fill(_pick(rng, POS_T), rng, words)
    if polarity < 0:
        return _fill(_pick(rng, NEG_T), rng, words, defect_key if defect_key in words or defect_key in SEEN else "neg")
    return _fill(_pick(rng, NEU_T), rng, words)


def sample_text(rng: np.random.Generator, S: float, attr_kind: Tuple[Optional[str], Optional[str]],
                p_text: float = 0.55) -> Tuple[Optional[str], int]:
    """Return (text or None, polarity in {-1,0,1}) for a view of combined severity S."""
    if rng.random() > p_text:
        return None, 0
    r = rng.random()
    if r < 0.3:
        pol = 0
    else:
        p_pos = 1.0 / (1.0 + np.exp((S - 0.22) * 14.0))
        pol = 1 if rng.random() < p_pos else -1
        if rng.random() < 0.08:  # noisy commenters
            pol = -pol
    key = defect_word_key(*attr_kind) if pol < 0 and rng.random() < 0.7 else None
    t = comment(rng, pol, key)
    if rng.random() < 0.2:  # a second comment / caption
        t = t + "\n" + comment(rng, pol if rng.random() < 0.7 else 0, key)
    if rng.random() < 0.3:
        t = t.capitalize() if rng.random() < 0.5 else t.upper()
    return t, pol


def all_template_words() -> List[str]:
    import re
    out = set()
    for d in (SEEN, UNSEEN):
        for v in d.values():
            for s in v:
                out.update(re.findall(r"\w+", s.lower()))
    for lst in (SUBJECTS, PLACES, POS_T, NEG_T, NEU_T):
        for s in lst:
            out.update(re.findall(r"[a-z]+", s.lower()))
    return sorted(out)
