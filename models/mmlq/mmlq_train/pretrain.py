"""`npm run model:pretrain -- --method qpt-v2|aesnet --images DIR --out CKPT [--tiny]`: pretrain a CLIP-style
ViT image encoder whose checkpoint plugs into `npm run model:ava -- --image-encoder CKPT`.

  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_train.pretrain --method qpt-v2 --images DIR --out vision.bin \\
      [--tiny | --vit small|base | --init clip_vision.bin] [--steps N] [--batch-size B] [--lr LR] [--device cuda]
  ... --method aesnet [--text glove | --text bert --text-encoder bert.bin --tokenizer DIR] [--affinity 0.5]

Encoder: --init a Hugging Face CLIP vision state dict (continue pretraining it; e.g. OpenAI CLIP ViT-B/16),
or a fresh one: --vit tiny (64 px, patch 16, 32-d, 2 layers: CI), small (96 px, 64-d, 4 layers: the CPU
proofs), base (ViT-B/16 at 224, the paper-size MMLQ's); --tiny = --vit tiny with tiny steps.
Images: every image file under --images is a candidate; the curation step (photos.curate: shorter side
>= --min-side, foreground coverage >= --min-fg, near-duplicates dropped) picks the pool; both methods use
it (QPT V2 states curation; for AesNet it is ours).  Recipes: mmlq_train/qpt_v2.py, mmlq_train/aesnet.py.
Writes --out (HF layout, ``vision_model.*``), <out>.json (config, recipe, curation report, losses) and,
for aesnet, <out>.attributes.pt.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import List, Optional

import torch

from mmlq_ref.encoders import ClipVisionConfig, ClipVisionEncoder
from mmlq_train import photos as P
from mmlq_train import vit as V

DEFAULTS = {  # steps, batch, lr, min_side  (ours)
    "tiny": (30, 16, 1e-3, 128),
    "small": (1500, 32, 1e-3, 256),
    "base": (100000, 256, 1.5e-4, 512),
}


def log(msg: str) -> None:
    print(f"[pretrain {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", required=True, choices=["qpt-v2", "aesnet"])
    ap.add_argument("--images", required=True, help="folder of photos (searched recursively)")
    ap.add_argument("--out", required=True, help="checkpoint to write (HF CLIP vision layout)")
    ap.add_argument("--tiny", action="store_true", help="tiny ViT, few steps (CI)")
    ap.add_argument("--vit", choices=["tiny", "small", "base"], default=None)
    ap.add_argument("--init", default=None, help="start from this HF CLIP vision state dict")
    ap.add_argument("--vit-act", default="quick_gelu", choices=["quick_gelu", "gelu"])
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--min-side", type=int, default=None, help="curation: shorter side in pixels (HR)")
    ap.add_argument("--min-fg", type=float, default=0.15, help="curation: foreground coverage (HFC)")
    ap.add_argument("--mask-ratio", type=float, default=0.6, help="qpt-v2")
    ap.add_argument("--p-degrade", type=float, default=0.7, help="qpt-v2: probability a view is degraded")
    ap.add_argument("--no-degrade", action="store_true", help="qpt-v2 ablation: plain MIM views")
    ap.add_argument("--no-multiscale", action="store_true", help="qpt-v2 ablation: whole-photo views, last layer only")
    ap.add_argument("--text", choices=["glove", "bert"], default="glove", help="aesnet phrase features")
    ap.add_argument("--text-encoder", default=None, help="aesnet --text bert: HF BERT state dict")
    ap.add_argument("--tokenizer", default=None, help="aesnet --text bert: folder with tokenizer.json")
    ap.add_argument("--affinity", type=float, default=0.5, help="aesnet: semantic affinity loss weight")
    ap.add_argument("--view-bank", type=int, default=0,
                    help="make this many views once and draw batches from them (CPU runs); 0 = fresh views per step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args(argv)
    size = "tiny" if a.tiny else (a.vit or "base")
    steps, batch, lr, min_side = DEFAULTS[size]
    a.steps, a.batch_size, a.lr = a.steps or steps, a.batch_size or batch, a.lr or lr
    a.min_side = a.min_side if a.min_side is not None else min_side
    t0 = time.time()
    torch.manual_seed(a.seed)
    if a.init:
        try:
            vit = V.load_vision(a.init, a.vit_act)
        except (OSError, ValueError) as e:
            print(f"error: --init: {e}", file=sys.stderr)
            return 2
    else:
        cfg = {"tiny": lambda: V.tiny_configs(8)[0], "small": V.small_vit_config,
               "base": lambda: ClipVisionConfig(hidden_act=a.vit_act)}[size]()
        vit = ClipVisionEncoder(cfg).init_random_()
    paths = P.list_images(a.images) if os.path.isdir(a.images) else []
    if not paths:
        print(f"error: no images under --images {a.images}", file=sys.stderr)
        return 2
    pool, report = P.curate(paths, a.min_side, a.min_fg, max_side=max(640, 3 * vit.cfg.image_size))
    log(f"curation: kept {len(pool)} of {len(paths)} images (shorter side >= {a.min_side}, foreground >= {a.min_fg}, "
        "no near-duplicates)")
    if not pool:
        print("error: curation kept no image (lower --min-side / --min-fg)", file=sys.stderr)
        return 2
    log(f"{a.method}: ViT {vit.cfg.image_size} px / {vit.cfg.hidden_size}-d / {vit.cfg.num_hidden_layers} layers, "
        f"{a.steps} steps x {a.batch_size}, lr {a.lr}, device {a.device}")
    meta = {"method": a.method, "images": len(paths), "curated": len(pool), "curation": report,
            "init": os.path.basename(a.init) if a.init else f"random ({size}, seed {a.seed})",
            "command": "npm run model:pretrain -- " + " ".join(argv if argv is not None else sys.argv[1:])}
    if a.method == "qpt-v2":
        from mmlq_train import qpt_v2
        meta["recipe"] = qpt_v2.pretrain(vit, pool, a.steps, a.batch_size, a.lr, a.mask_ratio, a.p_degrade, a.seed,
                                         log, degrade=not a.no_degrade, multiscale=not a.no_multiscale,
                                         device=a.device, bank=a.view_bank)
    else:
        from mmlq_train import aesnet
        if a.text == "bert":
            if not (a.text_encoder and a.tokenizer):
                print("error: --text bert needs --text-encoder and --tokenizer", file=sys.stderr)
                return 2
            pf, missing = aesnet.phrase_features_bert(a.text_encoder, a.tokenizer)
        else:
            pf, missing = aesnet.phrase_features_glove()
        if missing:
            log(f"words without a GloVe vector (left out of their phrases): {missing}")
        spaces, meta["recipe"] = aesnet.pretrain(vit, pool, a.steps, a.batch_size, a.lr, pf, a.affinity, a.seed, log,
                                                 device=a.device, bank=a.view_bank)
        meta["recipe"]["text"] = a.text
        aesnet.save_attributes(os.path.splitext(a.out)[0] + ".attributes.pt", spaces, pf, a.text)
    meta["seconds"] = round(time.time() - t0, 1)
    V.save_vision(vit, a.out, meta)
    log(f"wrote {a.out} (+ {os.path.splitext(a.out)[0]}.json) in {meta['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
