"""QPT V2-style pretraining of a CLIP-style ViT: masked image modelling made quality- and aesthetics-aware
(Xie et al., "QPT V2: Masked Image Modeling Advances Visual Scoring", arXiv 2407.16541).

What the paper states, and what we do about it (what we could read offline was the abstract and
summaries, not the full text: every number below is OURS unless marked "paper"):
* paper: pretraining by masked image modelling.  Ours: SimMIM-style (a learned mask token replaces the
  masked patch embeddings, the full-length ViT runs, a linear head predicts the masked patches' pixels,
  L1 loss on masked patches only); random patch masking, --mask-ratio 0.6.  SimMIM rather than MAE
  because the encoder must stay the plain ClipVisionEncoder that mmlq_train.ava / export_paper load.
* paper: curated pretraining data with high resolution (HR) and high foreground coverage (HFC).  Ours:
  photos.curate: shorter side >= --min-side, spectral-residual foreground coverage >= --min-fg,
  near-duplicates dropped; the report is stored in the checkpoint's sidecar JSON.
* paper: degradations introduced in pretraining (resizing, blurring, sharpening, noise, ...) so that
  quality factors are represented.  Ours: with probability --p-degrade a view gets one of
  photos.QPT_KINDS (blur / defocus / motion, noise, JPEG, soft upscale, over-sharpening, exposure,
  contrast, colour) at severity U(0.05, 0.9); the reconstruction target is the DEGRADED view (the
  encoder must carry the degradation to rebuild it).  Targets are the CLIP-normalised pixels without
  per-patch normalisation (ours: keeps exposure / contrast in the target).
* paper: multi-scale structure (a HiViT encoder with multi-scale feature fusion).  Ours: the encoder
  must stay a plain ViT, so the multi-scale part is (a) multi-scale input: crops of 15-100% of the
  photo's area resized to the encoder's size, and (b) multi-depth fusion in the pretraining head: the
  hidden states after layer L/2 and layer L are concatenated before the pixel head (only the head is
  discarded after pretraining).
* optimisation (ours): AdamW, lr --lr with 5% warm-up and cosine decay, weight decay 0.05, --steps
  steps of --batch-size views.

  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_train.pretrain --method qpt-v2 --images DIR --out vision.bin \\
      [--tiny | --vit small|base | --init clip_vision.bin] [--steps N] [--batch-size B]
Output: ``--out`` a Hugging Face CLIPVisionModel-layout state dict (``vision_model.*``) that
`npm run model:ava -- --image-encoder` takes, plus ``<out>.json`` (config, recipe, curation report, loss).
"""
from __future__ import annotations

import math
import time
from typing import Dict, List

import numpy as np
import torch
from torch import nn

from mmlq_ref.encoders import ClipVisionEncoder
from mmlq_train import photos as P
from mmlq_train import vit as V

CLIP_MEAN = torch.tensor(V.export_paper.CLIP_MEAN).view(1, 3, 1, 1)
CLIP_STD = torch.tensor(V.export_paper.CLIP_STD).view(1, 3, 1, 1)


def to_tensor(views: List[np.ndarray]) -> torch.Tensor:
    x = torch.from_numpy(np.stack(views)).permute(0, 3, 1, 2).contiguous()
    return (x - CLIP_MEAN) / CLIP_STD


class MIMHead(nn.Module):
    """Multi-depth fusion + linear pixel head (discarded after pretraining)."""

    def __init__(self, d: int, n_taps: int, patch: int):
        super().__init__()
        self.mask_token = nn.Parameter(torch.zeros(d))
        self.fuse = nn.Linear(d * n_taps, d)
        self.pix = nn.Linear(d, patch * patch * 3)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, hs: List[torch.Tensor]) -> torch.Tensor:
        return self.pix(torch.nn.functional.gelu(self.fuse(torch.cat(hs, dim=-1))))


def pretrain(vit: ClipVisionEncoder, pool: Dict[str, np.ndarray], steps: int, batch: int, lr: float,
             mask_ratio: float = 0.6, p_degrade: float = 0.7, seed: int = 0, log=print,
             degrade: bool = True, multiscale: bool = True, device: str = "cpu", bank: int = 0) -> dict:
    """``bank`` > 0: draw that many views once and sample batches from them (CPU runs: view making costs
    as much as the step; masks stay random per step)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = vit.cfg
    L = cfg.num_hidden_layers
    taps = (max(0, L // 2 - 1), L - 1) if multiscale else (L - 1,)
    head = MIMHead(cfg.hidden_size, len(taps), cfg.patch_size).to(device)
    vit.to(device)
    params = list(vit.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05, betas=(0.9, 0.95))
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))
    imgs = list(pool.values())
    n_p = cfg.num_patches
    n_mask = int(round(mask_ratio * n_p))
    vit.train()
    hist, t0, run = [], time.time(), 0.0
    def view():
        x = imgs[int(rng.integers(len(imgs)))]
        v = P.multiscale_crop(x, cfg.image_size, rng) if multiscale else \
            P.multiscale_crop(x, cfg.image_size, rng, scale=(1.0, 1.0))
        if degrade:
            v, _ = P.degrade_view(v, rng, p_degrade)
        return v

    pool_views = [view() for _ in range(bank)]
    for step in range(steps):
        if bank:
            views = [pool_views[int(i)] for i in rng.integers(0, bank, batch)]
        else:
            views = [view() for _ in range(batch)]
        px = to_tensor(views).to(device)
        mask = torch.zeros(batch, n_p, dtype=torch.bool)
        for i in range(batch):
            mask[i, torch.from_numpy(rng.permutation(n_p)[:n_mask])] = True
        mask = mask.to(device)
        _, hs = V.forward_tokens(vit, px, mask, head.mask_token, taps)
        pred = head([h[:, 1:] for h in hs])
        target = V.patchify(px, cfg.patch_size)
        loss = (pred - target).abs().mean(-1)[mask].mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 3.0)
        opt.step()
        sched.step()
        run = 0.98 * run + 0.02 * float(loss) if step else float(loss)
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            hist.append({"step": step + 1, "l1": round(run, 4), "seconds": round(time.time() - t0, 1)})
            log(f"qpt-v2 step {step + 1}/{steps}: masked L1 {run:.4f} ({time.time() - t0:.0f} s)")
    vit.eval().cpu()
    return {"history": hist, "taps": list(taps), "mask_ratio": mask_ratio, "p_degrade": p_degrade if degrade else 0.0,
            "multiscale": multiscale, "steps": steps, "view_bank": bank, "batch_size": batch, "lr": lr,
            "degradations": P.QPT_KINDS if degrade else []}
