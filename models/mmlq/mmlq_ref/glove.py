"""Frozen text encoder of the default model: an 8-bit GloVe table looked up by ``input_ids``."""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn


class FrozenGloVe(nn.Module):
    """emb[i] = (q[i] - 128) * scale[i]  (per-row symmetric 8-bit, frozen)."""

    def __init__(self, vocab_size: int, dim: int = 100):
        super().__init__()
        self.register_buffer("q", torch.full((vocab_size, dim), 128, dtype=torch.uint8))
        self.register_buffer("scale", torch.zeros(vocab_size, 1))

    @staticmethod
    def quantise(table: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        amax = table.abs().amax(dim=1, keepdim=True)
        scale = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
        q = torch.clamp(torch.round(table / scale), -127, 127) + 128
        scale = torch.where(amax > 0, scale, torch.zeros_like(amax))
        return q.to(torch.uint8), scale.float()

    def set_table(self, table: torch.Tensor) -> None:
        q, s = self.quantise(table)
        self.q = q
        self.scale = s

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        q = self.q[ids].to(torch.float32) - 128.0
        return q * self.scale[ids]
