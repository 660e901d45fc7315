"""Evaluation metrics of image aesthetics assessment on AVA, as NIMA (Talebi & Milanfar, TIP 2018) and MMLQ
(Xiong et al., ICME 2024) report them.  Plain numpy (no scipy at run time); test_metrics.py checks them
against scipy.stats on fixed vectors.

* SRCC  Spearman rank-order correlation of the predicted and the ground-truth MEAN scores (ties get their
        average rank, as scipy.stats.spearmanr);
* PLCC  Pearson linear correlation of the same mean scores (no logistic fitting: the AVA convention);
* ACC   binary accuracy at 5: an image is "high" when its mean score is above ``threshold`` (5), for the
        ground truth and the prediction alike; the fraction of images whose two labels agree;
* EMD   earth mover's distance between the predicted and ground-truth 10-bin distributions with r = 2:
        EMD(p, q) = (1/K sum_k |CDF_p(k) - CDF_q(k)|^r)^(1/r), averaged over images (NIMA eq. 1; the
        training loss of mmlq_ref/loss.py is the same formula).
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

BINS = np.arange(1, 11, dtype=np.float64)


def _vec(x: Sequence[float], name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size < 2:
        raise ValueError(f"{name}: need at least 2 values, got {a.size}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: not finite")
    return a


def rankdata(x: Sequence[float]) -> np.ndarray:
    """1-based ranks, ties get the average of their ranks (scipy.stats.rankdata method='average')."""
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    order = np.argsort(a, kind="mergesort")
    s = a[order]
    ranks = np.empty(a.size, dtype=np.float64)
    i = 0
    while i < a.size:
        j = i
        while j + 1 < a.size and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def plcc(pred: Sequence[float], gt: Sequence[float]) -> float:
    p, g = _vec(pred, "pred"), _vec(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred has {p.size} values, gt {g.size}")
    p, g = p - p.mean(), g - g.mean()
    den = np.sqrt((p * p).sum() * (g * g).sum())
    return float((p * g).sum() / den) if den > 0 else float("nan")


def srcc(pred: Sequence[float], gt: Sequence[float]) -> float:
    return plcc(rankdata(_vec(pred, "pred")), rankdata(_vec(gt, "gt")))


def binary_accuracy(pred: Sequence[float], gt: Sequence[float], threshold: float = 5.0) -> float:
    p, g = _vec(pred, "pred"), _vec(gt, "gt")
    return float(np.mean((p > threshold) == (g > threshold)))


def emd(pred_dist: np.ndarray, gt_dist: np.ndarray, r: float = 2.0) -> float:
    """Mean over images of the r-EMD between [N, K] distributions (rows are normalised here)."""
    p = np.asarray(pred_dist, dtype=np.float64)
    q = np.asarray(gt_dist, dtype=np.float64)
    if p.ndim != 2 or p.shape != q.shape:
        raise ValueError(f"distributions must be [N, K] of one shape, got {p.shape} and {q.shape}")
    p = p / p.sum(axis=1, keepdims=True)
    q = q / q.sum(axis=1, keepdims=True)
    d = np.abs(np.cumsum(p, axis=1) - np.cumsum(q, axis=1)) ** r
    return float(np.mean(d.mean(axis=1) ** (1.0 / r)))


def mean_scores(dist: np.ndarray) -> np.ndarray:
    d = np.asarray(dist, dtype=np.float64)
    d = d / d.sum(axis=1, keepdims=True)
    return d @ BINS[: d.shape[1]]


def all_metrics(pred_dist: np.ndarray, gt_dist: np.ndarray, threshold: float = 5.0) -> Dict[str, float]:
    """SRCC, PLCC, ACC (at ``threshold``), EMD (r=2) of predicted vs ground-truth [N, 10] distributions."""
    pm, gm = mean_scores(pred_dist), mean_scores(gt_dist)
    return {"srcc": round(srcc(pm, gm), 4), "plcc": round(plcc(pm, gm), 4),
            "acc": round(binary_accuracy(pm, gm, threshold), 4), "emd": round(emd(pred_dist, gt_dist), 4),
            "n": int(pm.size)}
