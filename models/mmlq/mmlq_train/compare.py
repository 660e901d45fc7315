"""The small-scale proof (issue 12): does QPT V2-style or AesNet-style pretraining of a small ViT beat the
same ViT without it, on held-out photos, at ranking graded damage?

  nice -n 15 env PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_train.compare --work /tmp/cmp [--steps 1500] \\
      [--methods qpt-v2,aesnet] [--seed 0] [--json out.json]

1. photos: the free-licence photos of mmlq_build.sources; the held-out ones (sources.HOLDOUT) are never
   seen by pretraining or by the probe;
2. encoders, all from the SAME random init (seed): "none" (no pretraining), and each method pretrained
   with `mmlq_train.pretrain --vit small --steps N --view-bank B` on the training photos (small ViT: 96 px, patch 16,
   64-d, 4 layers);
3. probe (the same for every encoder, frozen features): ridge regression from [CLS, mean, std of patch
   tokens] to the synthetic score 7 - 5 S (degrade.py's map of the combined severity S) over --probe-views
   damaged crops of the training photos;
4. evaluation on crops of the held-out photos: for each crop the original and gblur / noise / jpeg /
   under / tilt at mild / medium / strong (s = 0.2 / 0.45 / 0.8): ordered-pair accuracy of
   original > mild > medium > strong (6 pairs per crop and kind), per kind and pooled over the four
   main kinds (tilt, the one composition damage degrade.py has, reported apart); SRCC of the probe's score
   and the true score over random single-damage views of the held-out photos; for aesnet also how often
   the phrase an image matches best (aesnet.phrase_scores) is the true one, per attribute, on the views
   that damage that attribute and on clean originals.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from typing import Dict, List

import numpy as np
import torch

from mmlq_build import degrade as D
from mmlq_ref.encoders import ClipVisionEncoder
from mmlq_train import aesnet as AE
from mmlq_train import metrics as M
from mmlq_train import photos as P
from mmlq_train import pretrain as PT
from mmlq_train import vit as V
from mmlq_train.qpt_v2 import to_tensor

LEVELS = {"mild": 0.2, "medium": 0.45, "strong": 0.8}
MAIN = ["gblur", "noise", "jpeg", "under"]
CHAIN_KINDS = MAIN + ["tilt"]
RANDOM_KINDS = ["gblur", "defocus", "motion", "noise", "jpeg", "under", "over", "contrast", "cast", "faded",
                "pixelate", "upscale", "posterize", "tilt"]


def log(msg):
    print(f"[compare {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def features(vit: ClipVisionEncoder, views: List[np.ndarray], bs: int = 64) -> np.ndarray:
    out = []
    vit.eval()
    with torch.no_grad():
        for i in range(0, len(views), bs):
            t = vit(to_tensor(views[i:i + bs]))
            p = t[:, 1:]
            out.append(torch.cat([t[:, 0], p.mean(1), p.std(1)], dim=-1).numpy())
    return np.concatenate(out).astype(np.float64)


def ridge(x: np.ndarray, y: np.ndarray, alpha: float = 1.0):
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    w = np.linalg.solve(z.T @ z + alpha * len(z) * np.eye(z.shape[1]) / 100.0, z.T @ (y - y.mean()))
    return lambda q: ((q - mu) / sd) @ w + y.mean()


def probe_set(imgs: List[np.ndarray], n: int, size: int, rng) -> tuple:
    views, ys = [], []
    for _ in range(n):
        v = P.multiscale_crop(imgs[int(rng.integers(len(imgs)))], size, rng, scale=(0.3, 1.0))
        sev = []
        if rng.random() < 0.8:
            k = RANDOM_KINDS[int(rng.integers(len(RANDOM_KINDS)))]
            s = float(rng.uniform(0.0, 0.95))
            v = np.clip(P.apply(k, v, s, rng), 0, 1).astype(np.float32)
            sev = [(k, s)]
        views.append(v)
        ys.append(7.0 - 5.0 * D.combined_severity(sev))
    return views, np.asarray(ys)


def chain_set(imgs: List[np.ndarray], crops: int, size: int, rng) -> tuple:
    views, meta = [], []
    for pi, x in enumerate(imgs):
        for c in range(crops):
            v0 = P.multiscale_crop(x, size, rng, scale=(0.4, 1.0))
            views.append(v0)
            meta.append((pi, c, "original", "none"))
            for k in CHAIN_KINDS:
                for lv, s in LEVELS.items():
                    views.append(np.clip(P.apply(k, v0, s, np.random.default_rng(zlib.crc32(f"{pi}:{c}:{k}".encode()))), 0, 1)
                                 .astype(np.float32))
                    meta.append((pi, c, k, lv))
    return views, meta


def chain_metrics(score: np.ndarray, meta) -> Dict[str, float]:
    idx = {m: i for i, m in enumerate(meta)}
    crops = sorted({(m[0], m[1]) for m in meta})
    res = {}
    for k in CHAIN_KINDS:
        ok = n = 0
        for pc in crops:
            ch = [score[idx[(*pc, "original", "none")]]] + [score[idx[(*pc, k, lv)]] for lv in LEVELS]
            for a in range(4):
                for b in range(a + 1, 4):
                    ok += ch[a] > ch[b]
                    n += 1
        res[k] = round(ok / n, 3)
    res["main_pooled"] = round(float(np.mean([res[k] for k in MAIN])), 3)
    return res


def phrase_accuracy(vit, spaces, pf, views, labels) -> Dict[str, float]:
    sc = {}
    with torch.no_grad():
        for i in range(0, len(views), 64):
            s = AE.phrase_scores(vit, spaces, pf, to_tensor(views[i:i + 64]))
            for a, v in s.items():
                sc.setdefault(a, []).append(v.numpy())
    out = {}
    for a in AE.ATTRS:
        pred = np.concatenate(sc[a]).argmax(1)
        y = np.asarray([lab[a] for lab in labels])
        dmg = y > 0
        out[a] = {"damaged": round(float((pred[dmg] == y[dmg]).mean()), 3) if dmg.any() else None,
                  "clean": round(float((pred[~dmg] == 0).mean()), 3), "chance": round(1 / len(AE.PHRASES[a]), 3),
                  "n_damaged": int(dmg.sum())}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--methods", default="qpt-v2,aesnet")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--view-bank", type=int, default=1600, help="pretraining views made once (0: fresh per step)")
    ap.add_argument("--probe-views", type=int, default=1000)
    ap.add_argument("--crops", type=int, default=5, help="crops per held-out photo")
    ap.add_argument("--tiny", action="store_true", help="tiny ViT, few steps (CI: checks the plumbing only)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    t0 = time.time()
    tr_dir = P.write_free_photos(os.path.join(a.work, "photos-train"), "train")
    va_dir = P.write_free_photos(os.path.join(a.work, "photos-heldout"), "val")
    vit_flag = ["--tiny"] if a.tiny else ["--vit", "small", "--steps", str(a.steps), "--batch-size", str(a.batch_size),
                                          "--view-bank", str(a.view_bank)]
    encs: Dict[str, str] = {}
    secs: Dict[str, float] = {}
    torch.manual_seed(a.seed)  # the same init pretrain.main builds
    cfg = V.tiny_configs(8)[0] if a.tiny else V.small_vit_config()
    base = ClipVisionEncoder(cfg).init_random_()
    encs["none"] = os.path.join(a.work, "none.bin")
    V.save_vision(base, encs["none"], {"method": "none (random init, seed %d)" % a.seed})
    for m in [s for s in a.methods.split(",") if s]:
        out = os.path.join(a.work, f"{m}.bin")
        t1 = time.time()
        code = PT.main(["--method", m, "--images", tr_dir, "--out", out, "--seed", str(a.seed), "--device", "cpu"]
                       + vit_flag)
        if code:
            return code
        secs[m] = round(time.time() - t1, 1)
        encs[m] = out
    rng = np.random.default_rng(1000 + a.seed)
    size = cfg.image_size
    tr_imgs = [P.load(p, 640)[0] for p in P.list_images(tr_dir)]
    va_imgs = [P.load(p, 640)[0] for p in P.list_images(va_dir)]
    pv, py = probe_set(tr_imgs, a.probe_views, size, rng)
    cv, cm = chain_set(va_imgs, a.crops, size, rng)
    rv, ry = probe_set(va_imgs, 400, size, rng)
    # views with known single damages for the phrase check (held-out photos)
    lv, ll = [], []
    for _ in range(400):
        v = P.multiscale_crop(va_imgs[int(rng.integers(len(va_imgs)))], size, rng, scale=(0.3, 1.0))
        d = None
        if rng.random() < 0.8:
            k = AE.AES_KINDS[int(rng.integers(len(AE.AES_KINDS)))]
            s = float(rng.uniform(0.0, 0.95))
            v = np.clip(P.apply(k, v, s, rng), 0, 1).astype(np.float32)
            d = (k, s)
        lv.append(v)
        ll.append(AE.labels_for(d))
    results = {}
    for name, path in encs.items():
        vit = V.load_vision(path)
        f = ridge(features(vit, pv), py)
        chain = chain_metrics(f(features(vit, cv)), cm)
        r = {"ordered_pair_accuracy": chain, "srcc_random_damage": round(M.srcc(f(features(vit, rv)), ry), 3),
             "probe_train_srcc": round(M.srcc(f(features(vit, pv)), py), 3)}
        if name == "aesnet":
            spaces, pf = AE.load_attributes(os.path.splitext(path)[0] + ".attributes.pt", vit.cfg.hidden_size)
            r["phrase_accuracy"] = phrase_accuracy(vit, spaces, pf, lv, ll)
        results[name] = r
        log(f"{name}: ordered pairs {chain}; SRCC random damage {r['srcc_random_damage']}")
    report = {"results": results, "pretrain_seconds": secs, "steps": a.steps, "seed": a.seed, "view_bank": a.view_bank,
              "vit": cfg.to_dict(), "probe_views": a.probe_views, "heldout_crops": len({(m[0], m[1]) for m in cm}),
              "total_seconds": round(time.time() - t0, 1),
              "command": "python3 -m mmlq_train.compare " + " ".join(argv if argv is not None else sys.argv[1:])}
    print(json.dumps(report, indent=1))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
