"""Train the MMLQ head on cached frozen features.

  python3 -m mmlq_build.train --data /work/scratch/h2/data --vocab /work/scratch/h2/vocab --out ckpt.pt
                                 [--epochs 30] [--smoke]

Loss = EMD(r=2) to the target distribution + 0.2 BCE(attributes) + 0.3 pairwise ranking (views of
the same crop: a view whose target mean is higher must score higher, hinge with a margin that grows
with the target gap) + 0.3 consistency (views of the same crop with equal targets, e.g. the original
and its b/w / low-key / high-key / shallow-DoF version, within 0.15 of each other).  Text: with p = 0.55 a synthetic comment (text.py), resampled every time
a view is drawn; otherwise image-only (all-zero attention mask).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F

from mmlq_build import degrade as D
from mmlq_build import text as T
from mmlq_build.features import load_groups
from mmlq_build.head import build_head
from mmlq_build.validate import quick_pairwise
from mmlq_ref import ATTRIBUTE_LABELS, WordVocabTokenizer, emd_loss, mean_score

MAX_TOKENS = 48


def view_targets(meta):
    sevs = [(k, float(s)) for k, s in meta["sevs"]]
    S = D.combined_severity(sevs)
    attrs = D.attribute_targets(sevs, list(ATTRIBUTE_LABELS))
    main = max(sevs, key=lambda ks: ks[1] * D.KINDS[ks[0]][1]) if sevs else (None, 0)
    attr_kind = (D.KINDS[main[0]][0] if main[0] else None, main[0])
    return S, attrs, attr_kind


def standardisation(groups):
    stats = {}
    for k, a in groups.items():
        n = a.shape[0]
        idx = np.random.default_rng(0).choice(n, size=min(n, 3000), replace=False)
        x = torch.from_numpy(a[np.sort(idx)].astype(np.float32)).reshape(-1, a.shape[-1])
        stats[k] = (x.mean(0), x.std(0))
    return stats


def batch_tensors(groups, idx):
    return {k: torch.from_numpy(v[idx].astype(np.float32)) for k, v in groups.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--crops-per-batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--queries", type=int, default=16)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(os.cpu_count() or 2)
    rng = np.random.default_rng(a.seed)

    groups = load_groups(a.data, "train")
    metas = json.load(open(os.path.join(a.data, "train", "meta.json")))["views"]
    n = len(metas)
    assert all(v.shape[0] == n for v in groups.values()), "features / meta mismatch"
    tok = WordVocabTokenizer.load(os.path.join(a.vocab, "vocab.txt"), max_tokens=MAX_TOKENS)
    glove = np.load(os.path.join(a.vocab, "glove.npy"))
    stats = standardisation(groups)
    head = build_head(groups, len(tok.vocab), glove, stats,
                      {"d_model": a.d_model, "n_blocks": a.blocks, "n_queries": a.queries})
    print("trainable params:", sum(p.numel() for p in head.parameters() if p.requires_grad))

    tg = [view_targets(m) for m in metas]
    S = np.array([t[0] for t in tg], np.float32)
    attrs = np.stack([t[1] for t in tg])
    crops = defaultdict(list)
    for i, m in enumerate(metas):
        crops[m["crop"]].append(i)
    crop_ids = list(crops)

    val = None
    if os.path.exists(os.path.join(a.data, "val", "feats.f32")):
        val = (load_groups(a.data, "val"), json.load(open(os.path.join(a.data, "val", "meta.json")))["views"])

    opt = torch.optim.AdamW([p for p in head.parameters() if p.requires_grad], lr=a.lr, weight_decay=0.05)
    steps_per_epoch = math.ceil(len(crop_ids) / a.crops_per_batch)
    total = a.epochs * steps_per_epoch
    if a.max_steps:
        total = min(total, a.max_steps)
    warm = min(200, total // 10 + 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, total)))))
    step = 0
    t0 = time.time()
    for ep in range(a.epochs):
        head.train()
        perm = rng.permutation(len(crop_ids))
        agg = defaultdict(float)
        nb = 0
        for b in range(steps_per_epoch):
            if a.max_steps and step >= a.max_steps:
                break
            cs = [crop_ids[j] for j in perm[b * a.crops_per_batch:(b + 1) * a.crops_per_batch]]
            idx = np.array([i for c in cs for i in crops[c]])
            texts, pols = [], []
            for i in idx:
                t, p = T.sample_text(rng, float(S[i]), tg[i][2])
                texts.append(t)
                pols.append(p)
            ids, mask = tok.batch(texts)
            tgt = torch.from_numpy(np.stack([D.target_distribution(float(S[i]), p) for i, p in zip(idx, pols)]))
            mu_t = mean_score(tgt)
            g = batch_tensors(groups, idx)
            logits, att = head(g, ids, mask)
            p = torch.softmax(logits, -1)
            l_emd = emd_loss(p, tgt)
            l_att = F.binary_cross_entropy_with_logits(att, torch.from_numpy(attrs[idx]))
            mu = mean_score(p)
            # ranking within crops
            crop_of = np.array([cs.index(metas[i]["crop"]) for i in idx])
            same = torch.from_numpy(crop_of[:, None] == crop_of[None, :])
            gap = mu_t[:, None] - mu_t[None, :]
            valid = same & (gap > 0.1)
            if valid.any():
                margin = torch.clamp(0.6 * gap, max=1.0)
                l_rank = F.relu(margin - (mu[:, None] - mu[None, :]))[valid].mean()
            else:
                l_rank = torch.zeros(())
            # legit styles: an undamaged styled view of a crop should score like its original
            eq = same & (gap.abs() < 0.05) & ~torch.eye(len(idx), dtype=torch.bool)
            l_cons = F.relu((mu[:, None] - mu[None, :]).abs() - 0.15)[eq].mean() if eq.any() else torch.zeros(())
            loss = l_emd + 0.2 * l_att + 0.3 * l_rank + 0.3 * l_cons
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            agg["emd"] += float(l_emd)
            agg["att"] += float(l_att)
            agg["rank"] += float(l_rank)
            agg["cons"] += float(l_cons)
            nb += 1
            if step % 40 == 0:
                print(f"  step {step} loss {float(loss):.4f} ({time.time() - t0:.0f}s)", flush=True)
        msg = " ".join(f"{k}={v / max(1, nb):.4f}" for k, v in agg.items())
        line = f"epoch {ep + 1}/{a.epochs} step {step} {msg} ({time.time() - t0:.0f}s)"
        if val is not None and ((ep + 1) % 5 == 0 or ep + 1 == a.epochs or a.smoke):
            head.eval()
            line += " | val " + json.dumps(quick_pairwise(head, *val))
        print(line, flush=True)
        if a.max_steps and step >= a.max_steps:
            break
    head.eval()
    torch.save({"config": head.cfg.to_dict(), "vocab_size": len(tok.vocab), "state_dict": head.state_dict(),
                "trainable_params": sum(p.numel() for p in head.parameters() if p.requires_grad),
                "max_tokens": MAX_TOKENS, "args": vars(a)}, a.out)
    print("saved", a.out)


if __name__ == "__main__":
    main()
