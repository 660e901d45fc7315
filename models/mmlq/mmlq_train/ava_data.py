"""AVA on disk: AVA.txt, the split lists, the comments JSONL, the image files.

AVA.txt (Murray et al., CVPR 2012, the June 2012 release): one image per line, whitespace-separated, 15
columns: index, image id, the ten vote counts for scores 1..10, semantic tag id 1, semantic tag id 2
(0 = none), challenge id.  Images are ``<images>/<image id>.jpg`` (.jpeg / .png also accepted).

Split lists (optional): one image id per line (the release's ``aesthetics_image_lists/*.jpgl``, or any
file of ids; a trailing ``.jpg`` is stripped, blank lines and ``#`` lines are ignored).  Without lists the
split is ours: a stable hash of the image id puts ~7.8% of the images in test (AVA's usual 19,930 of
~255,500).  The validation set (model selection) is always ours: ``val_fraction`` of train, by hash.

Comments (optional), our documented JSONL: one object per line,
    {"image_id": "953619", "comments": ["Lovely light.", "Too soft for me."]}
``image_id`` a string (or integer) AVA id; ``comments`` a list of strings.  Images without a line are
image-only.  The public AVA-Comments release (Zhou et al., 2016) is not bundled here and we could not
confirm its file layout offline, so there is no converter: write this JSONL from whatever layout you have.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


class AvaFormatError(ValueError):
    pass


@dataclasses.dataclass
class AvaItem:
    index: int
    image_id: str
    votes: np.ndarray          # [10] int counts for scores 1..10
    tags: tuple
    challenge: int

    @property
    def n_votes(self) -> int:
        return int(self.votes.sum())

    def distribution(self) -> np.ndarray:
        return (self.votes / max(1, self.votes.sum())).astype(np.float32)

    def mean(self) -> float:
        return float(self.distribution() @ np.arange(1, 11))


def read_ava_txt(path: str, min_votes: int = 1) -> List[AvaItem]:
    """Parse AVA.txt; raises AvaFormatError (with the line number) on a malformed line or a repeated id.
    Images with fewer than ``min_votes`` votes are dropped (no distribution to learn)."""
    items: List[AvaItem] = []
    seen = set()
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 15:
                raise AvaFormatError(f"{path}:{ln}: expected 15 columns (index, image id, 10 vote counts, 2 tags, "
                                     f"challenge), got {len(parts)}")
            try:
                nums = [int(p) for p in parts[2:]]
                index = int(parts[0])
            except ValueError:
                raise AvaFormatError(f"{path}:{ln}: non-integer field") from None
            if any(v < 0 for v in nums[:10]):
                raise AvaFormatError(f"{path}:{ln}: negative vote count")
            iid = parts[1]
            if iid in seen:
                raise AvaFormatError(f"{path}:{ln}: image id {iid} repeated")
            seen.add(iid)
            it = AvaItem(index, iid, np.asarray(nums[:10], np.int64), (nums[10], nums[11]), nums[12])
            if it.n_votes >= min_votes:
                items.append(it)
    if not items:
        raise AvaFormatError(f"{path}: no images")
    return items


def read_id_list(path: str) -> List[str]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            s = os.path.basename(s.split()[0])
            for e in IMAGE_EXTS:
                if s.endswith(e):
                    s = s[: -len(e)]
                    break
            out.append(s)
    return out


def read_comments_jsonl(path: str) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                o = json.loads(line)
            except json.JSONDecodeError as e:
                raise AvaFormatError(f"{path}:{ln}: not JSON ({e.msg})") from None
            if not isinstance(o, dict) or "image_id" not in o or not isinstance(o.get("comments"), list) \
                    or not all(isinstance(c, str) for c in o["comments"]):
                raise AvaFormatError(f'{path}:{ln}: expected {{"image_id": ..., "comments": [strings]}}')
            out.setdefault(str(o["image_id"]), []).extend(c for c in o["comments"] if c.strip())
    return out


def join_comments(comments: Sequence[str]) -> Optional[str]:
    """All comments of an image as one text (ours: newline-joined; the tokenizer truncates)."""
    cs = [c.strip() for c in comments if c and c.strip()]
    return "\n".join(cs) if cs else None


def find_image(images: str, image_id: str) -> Optional[str]:
    for e in IMAGE_EXTS:
        p = os.path.join(images, image_id + e)
        if os.path.isfile(p):
            return p
    return None


def _bucket(image_id: str, salt: str) -> float:
    h = hashlib.sha256(f"{salt}:{image_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64


def split(items: List[AvaItem], train_list: Optional[List[str]] = None, test_list: Optional[List[str]] = None,
          val_fraction: float = 0.05, test_fraction: float = 19930 / 255530) -> Dict[str, List[AvaItem]]:
    """train / val / test.  With lists: test = the test list, train = the train list (or every other image
    when only a test list is given); val = a hashed val_fraction of train.  Without: hashed test_fraction."""
    by_id = {it.image_id: it for it in items}
    if test_list is not None:
        test_ids = set(test_list)
        test = [by_id[i] for i in test_list if i in by_id]
        if train_list is not None:
            train_ids = [i for i in train_list if i in by_id and i not in test_ids]
        else:
            train_ids = [it.image_id for it in items if it.image_id not in test_ids]
        train = [by_id[i] for i in train_ids]
    elif train_list is not None:
        train_ids = set(train_list)
        train = [it for it in items if it.image_id in train_ids]
        test = [it for it in items if it.image_id not in train_ids]
    else:
        test = [it for it in items if _bucket(it.image_id, "test") < test_fraction]
        train = [it for it in items if _bucket(it.image_id, "test") >= test_fraction]
    val = [it for it in train if _bucket(it.image_id, "val") < val_fraction]
    train = [it for it in train if _bucket(it.image_id, "val") >= val_fraction]
    if not train or not test:
        raise AvaFormatError(f"empty split: {len(train)} train, {len(test)} test images")
    return {"train": train, "val": val, "test": test}
