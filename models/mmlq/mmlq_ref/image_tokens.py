"""Frozen image encoder of the default model: backbone taps -> token feature groups.

No trainable parameters: window / global statistics of the backbone's stride-4..32 maps, a frozen PCA
of the ``final`` map and the pixel statistics (pixel_stats.py).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .pixel_stats import PIXEL_STATS_DIM, pixel_statistics


def _window_stats(x: torch.Tensor, k: int) -> torch.Tensor:
    """[N,C,H,W] -> [N, (H//k)*(W//k), 2C]: mean and log-std over k x k windows."""
    m = F.avg_pool2d(x, k, k)
    m2 = F.avg_pool2d(x * x, k, k)
    ls = 0.5 * torch.log(torch.clamp(m2 - m * m, min=0.0) + 1e-4)
    t = torch.cat([m, ls], dim=1)
    return t.flatten(2).transpose(1, 2)


def _global_stats(x: torch.Tensor) -> torch.Tensor:
    """[N,C,H,W] -> [N, 2C] mean and log-std over space."""
    m = x.mean(dim=(2, 3))
    m2 = (x * x).mean(dim=(2, 3))
    ls = 0.5 * torch.log(torch.clamp(m2 - m * m, min=0.0) + 1e-4)
    return torch.cat([m, ls], dim=1)


class FrozenImageEncoder(nn.Module):
    """Backbone (frozen) + fixed token features.  No trainable parameters.

    Returns an OrderedDict of token groups, each [N, n_tokens, dim]:
      final   : PCA-reduced ``final`` map, one token per H/32 cell (14x14 at 448)      dim 256
      s16     : mean/log-std of ``stride16`` in 4x4 windows (7x7 at 448)              dim 2*136
      s8      : mean/log-std of ``stride8`` in 8x8 windows (7x7 at 448)               dim 2*48
      g4,g8,g16,g32 : global mean/log-std of the taps (1 token each)                  dim 2C
      gfinal  : global mean/log-std of the PCA-reduced final tokens (1 token)         dim 512
      pixel   : pixel statistics (1 token)                                            dim 30
    plus "image_features" (the raw backbone ``final`` map) under key "_final_map".
    """

    def __init__(self, backbone: nn.Module, pca_dim: int = 256):
        super().__init__()
        self.backbone = backbone
        ch = backbone.out_channels
        self.channels = dict(ch)
        c_final = ch["final"]
        self.pca_dim = pca_dim
        self.register_buffer("pca_mean", torch.zeros(c_final))
        self.register_buffer("pca_proj", torch.eye(pca_dim, c_final))  # [pca_dim, C]: set by fit_pca
        for p in self.parameters():
            p.requires_grad_(False)

    def group_dims(self) -> List[Tuple[str, int]]:
        ch = self.channels
        return [("final", self.pca_dim), ("s16", 2 * ch["stride16"]), ("s8", 2 * ch["stride8"]),
                ("g4", 2 * ch["stride4"]), ("g8", 2 * ch["stride8"]), ("g16", 2 * ch["stride16"]),
                ("g32", 2 * ch["stride32"]), ("gfinal", 2 * self.pca_dim), ("pixel", PIXEL_STATS_DIM)]

    def set_pca(self, mean: torch.Tensor, proj: torch.Tensor) -> None:
        self.pca_mean.copy_(mean)
        self.pca_proj.copy_(proj)

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        f = self.backbone(x)
        final = f["final"]
        tok = final.flatten(2).transpose(1, 2)                      # [N, hw, C]
        red = torch.matmul(tok - self.pca_mean, self.pca_proj.t())  # [N, hw, pca]
        out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
        out["final"] = red
        out["s16"] = _window_stats(f["stride16"], 4)
        out["s8"] = _window_stats(f["stride8"], 8)
        out["g4"] = _global_stats(f["stride4"]).unsqueeze(1)
        out["g8"] = _global_stats(f["stride8"]).unsqueeze(1)
        out["g16"] = _global_stats(f["stride16"]).unsqueeze(1)
        out["g32"] = _global_stats(f["stride32"]).unsqueeze(1)
        rm = red.mean(dim=1)
        rv = (red * red).mean(dim=1) - rm * rm
        out["gfinal"] = torch.cat([rm, 0.5 * torch.log(torch.clamp(rv, min=0.0) + 1e-4)], dim=1).unsqueeze(1)
        out["pixel"] = pixel_statistics(x).unsqueeze(1)
        out["_final_map"] = final
        return out
