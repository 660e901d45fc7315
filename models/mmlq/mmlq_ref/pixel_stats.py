"""Hand-defined pixel statistics: one token of the default model's frozen image encoder."""
from __future__ import annotations

from typing import List

import torch
import torch.nn.functional as F

PIXEL_STATS_DIM = 30


def pixel_statistics(x: torch.Tensor) -> torch.Tensor:
    """Hand-defined statistics of the input image x in [0,1], [N,3,H,W] -> [N, 30].

    Exposure / contrast / colour: channel means and stds, luminance mean/std, soft fractions of
    crushed shadows and blown highlights, saturation mean/std.  Detail / blur / noise: log Laplacian
    energy and gradient energy at scales 1, 2, 4; statistics of the local (8x8) Laplacian energy
    (its minimum is a noise floor).  Compression: 8x8 blockiness (horizontal, vertical).
    """
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    feats: List[torch.Tensor] = []
    feats.append(x.mean(dim=(2, 3)))
    feats.append(torch.sqrt(x.var(dim=(2, 3), unbiased=False) + 1e-8))
    feats.append(lum.mean(dim=(2, 3)))
    feats.append(torch.sqrt(lum.var(dim=(2, 3), unbiased=False) + 1e-8))
    for t in (0.02, 0.08, 0.2):
        feats.append(torch.sigmoid((t - lum) / 0.01).mean(dim=(2, 3)))
    for t in (0.8, 0.92, 0.98):
        feats.append(torch.sigmoid((lum - t) / 0.01).mean(dim=(2, 3)))
    mx = torch.max(torch.max(r, g), b)
    mn = torch.min(torch.min(r, g), b)
    sat = mx - mn
    feats.append(sat.mean(dim=(2, 3)))
    feats.append(torch.sqrt(sat.var(dim=(2, 3), unbiased=False) + 1e-8))
    lap_k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=x.dtype).view(1, 1, 3, 3)
    l = lum
    for s in (1, 2, 4):
        if s > 1:
            l = F.avg_pool2d(l, 2, 2)
        lap = F.conv2d(l, lap_k)
        feats.append(torch.log(lap.pow(2).mean(dim=(2, 3)) + 1e-8))
        feats.append(torch.log(lap.abs().mean(dim=(2, 3)) + 1e-6))
        dx = l[:, :, :, 1:] - l[:, :, :, :-1]
        dy = l[:, :, 1:, :] - l[:, :, :-1, :]
        feats.append(torch.log(dx.pow(2).mean(dim=(2, 3)) + dy.pow(2).mean(dim=(2, 3)) + 1e-8))
    lap1 = F.conv2d(lum, lap_k)
    local = torch.log(F.avg_pool2d(lap1.pow(2), 8, 8) + 1e-8)
    feats.append(local.mean(dim=(2, 3)))
    feats.append(torch.sqrt(local.var(dim=(2, 3), unbiased=False) + 1e-8))
    feats.append(local.amin(dim=(2, 3)))
    adx = (lum[:, :, :, 1:] - lum[:, :, :, :-1]).abs()
    ady = (lum[:, :, 1:, :] - lum[:, :, :-1, :]).abs()
    feats.append(torch.log(adx[:, :, :, 7::8].mean(dim=(2, 3)) + 1e-4) - torch.log(adx.mean(dim=(2, 3)) + 1e-4))
    feats.append(torch.log(ady[:, :, 7::8, :].mean(dim=(2, 3)) + 1e-4) - torch.log(ady.mean(dim=(2, 3)) + 1e-4))
    out = torch.cat(feats, dim=1)
    return out
