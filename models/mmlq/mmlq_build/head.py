"""The default MMLQ head as training lays it out, and its run over cached features.

Shared by train (builds it), validate (rebuilds it from a checkpoint; scores views) and export
(calibration scores).
"""
from __future__ import annotations

import numpy as np
import torch

from mmlq_ref import MMLQConfig, MMLQHead, mean_score


def build_head(layout_groups, vocab_size, glove, stats=None, cfg_over=None):
    cfg = MMLQConfig.default([(k, int(v.shape[-1])) for k, v in layout_groups.items()])
    for k, v in (cfg_over or {}).items():
        setattr(cfg, k, v)
    head = MMLQHead(cfg, vocab_size)
    head.text.set_table(torch.from_numpy(glove))
    if stats is not None:
        head.set_standardisation(stats)
    return head


@torch.no_grad()
def run_head(head, groups, idx, ids=None, mask=None, bs=128):
    out_s, out_a = [], []
    for i in range(0, len(idx), bs):
        j = idx[i:i + bs]
        g = {k: torch.from_numpy(v[j].astype(np.float32)) for k, v in groups.items()}
        n = len(j)
        if ids is None:
            ii = torch.zeros(n, 48, dtype=torch.int64)
            mm = torch.zeros(n, 48, dtype=torch.int64)
        else:
            ii, mm = ids[i:i + bs], mask[i:i + bs]
        logits, att = head(g, ii, mm)
        out_s.append(mean_score(torch.softmax(logits, -1)))
        out_a.append(torch.sigmoid(att))
    return torch.cat(out_s).numpy(), torch.cat(out_a).numpy()
