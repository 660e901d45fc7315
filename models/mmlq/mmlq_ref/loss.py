"""Losses and the score read-out of the 10-bin distribution."""
from __future__ import annotations

import torch

from .config import N_BINS

BIN_VALUES = torch.arange(1, N_BINS + 1, dtype=torch.float32)


def emd_loss(p: torch.Tensor, q: torch.Tensor, r: float = 2.0) -> torch.Tensor:
    """Earth mover's distance between 1-D distributions over ordered bins (NIMA / MMLQ, r = 2)."""
    cp = torch.cumsum(p, dim=-1)
    cq = torch.cumsum(q, dim=-1)
    return (torch.mean(torch.abs(cp - cq) ** r, dim=-1) ** (1.0 / r)).mean()


def mean_score(p: torch.Tensor) -> torch.Tensor:
    return (p * BIN_VALUES.to(p.device)).sum(dim=-1)
