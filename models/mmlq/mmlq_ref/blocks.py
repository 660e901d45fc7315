"""Multi-modal Interaction Blocks (MMIB) and the query stack shared by both MMLQ sizes."""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from .config import MMLQConfig


class Attention(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        assert d % heads == 0
        self.h = heads
        self.dh = d // heads
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mem: torch.Tensor, key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        n, lq, d = x.shape
        lk = mem.shape[1]
        q = self.q(x).view(n, lq, self.h, self.dh).transpose(1, 2)
        k = self.k(mem).view(n, lk, self.h, self.dh).transpose(1, 2)
        v = self.v(mem).view(n, lk, self.h, self.dh).transpose(1, 2)
        s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.dh))
        if key_mask is not None:  # [N, Lk] float 1/0; additive -1e4 (all-masked rows stay finite)
            s = s + (key_mask[:, None, None, :] - 1.0) * 1e4
        a = self.drop(torch.softmax(s, dim=-1))
        y = torch.matmul(a, v).transpose(1, 2).reshape(n, lq, d)
        return self.o(y)


class MMIB(nn.Module):
    """Multi-modal Interaction Block: SA(queries) -> CA(image) -> CA(text, gated) -> FFN (pre-norm)."""

    def __init__(self, cfg: MMLQConfig):
        super().__init__()
        d = cfg.d_model
        self.ln_sa = nn.LayerNorm(d)
        self.sa = Attention(d, cfg.n_heads, cfg.dropout)
        self.ln_ci = nn.LayerNorm(d)
        self.ci = Attention(d, cfg.n_heads, cfg.dropout)
        self.ln_ct = nn.LayerNorm(d)
        self.ct = Attention(d, cfg.n_heads, cfg.dropout)
        self.ln_ff = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, cfg.ffn_mult * d), nn.GELU(), nn.Dropout(cfg.dropout),
                                nn.Linear(cfg.ffn_mult * d, d))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, q, img, txt, txt_mask, txt_gate):
        h = self.ln_sa(q)
        q = q + self.drop(self.sa(h, h))
        q = q + self.drop(self.ci(self.ln_ci(q), img))
        q = q + self.drop(self.ct(self.ln_ct(q), txt, txt_mask)) * txt_gate
        q = q + self.drop(self.ff(self.ln_ff(q)))
        return q


class MMLQCore(nn.Module):
    """Queries + MMIB stack + heads, on already-projected image tokens [N,Li,d] and text tokens [N,Lt,d]."""

    def __init__(self, cfg: MMLQConfig):
        super().__init__()
        d = cfg.d_model
        self.queries = nn.Parameter(torch.randn(1, cfg.n_queries, d) * 0.02)
        self.blocks = nn.ModuleList([MMIB(cfg) for _ in range(cfg.n_blocks)])
        self.ln_out = nn.LayerNorm(d)
        self.head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(d, cfg.n_bins))
        self.attr = nn.Linear(d, cfg.n_attributes)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, txt_mask: torch.Tensor):
        n = img.shape[0]
        gate = (txt_mask.sum(dim=1, keepdim=True) > 0).to(img.dtype).unsqueeze(-1)  # [N,1,1]
        q = self.queries.expand(n, -1, -1)
        for blk in self.blocks:
            q = blk(q, img, txt, txt_mask, gate)
        pooled = self.ln_out(q).mean(dim=1)
        logits = self.head(pooled)
        return logits, self.attr(pooled)
