"""MMLQ on AVA (Xiong et al., ICME 2024): the MMLQ head trained with EMD on frozen encoders (a CLIP-style
ViT over the image, BERT over the image's comments), evaluated on the test split, exported as a servable
folder.  `npm run model:ava -- ...` runs this module.

  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_train.ava --ava-dir DIR --images DIR --out MODEL_DIR \\
      [--comments comments.jsonl] [--train-list F] [--test-list F] \\
      [--image-encoder clip_vision.bin --text-encoder bert.bin --tokenizer DIR_WITH_tokenizer.json] [--tiny]

Steps (each logged with its time):
1. data: ``DIR/AVA.txt`` (mmlq_train.ava_data), the split lists when given, the comments JSONL when given;
   images missing from --images are skipped (counted);
2. encoders: Hugging Face state dicts loaded as mmlq_build.export_paper loads them (mmlq_ref.encoders), or
   with --tiny and none given tiny random ones (seeded; CI); frozen;
3. feature cache (--cache, default MODEL_DIR.cache/): every image through the ViT (the servable
   preprocessing: shortest edge -> S bicubic, centre crop, CLIP mean/std) and its newline-joined comments
   through BERT (WordPiece, [CLS] ... [SEP], --max-tokens), float16 memmaps; resumable, keyed by the
   encoders, tokenizer, comments and max tokens;
4. training: MMLQTokenModel (mmlq_ref) on the cached tokens, EMD (r = 2) to the normalised vote
   distribution, AdamW + warm-up + cosine; the comments are dropped for a sample with probability
   --text-drop so one head serves image-only and image+comments; the epoch with the lowest validation
   EMD (mean of the two modes) is kept;
5. evaluation on the test split, image-only and image+comments: SRCC, PLCC, binary accuracy at 5, EMD
   (mmlq_train.metrics) -> MODEL_DIR/metrics.json (and WORK/metrics.json);
6. export: mmlq_build.export_paper with the trained head and the encoders -> MODEL_DIR (model.onnx,
   manifest, calibration over --calibration-images test images, MODEL_CARD.md + a section quoting
   these metrics and the data's licence); the folder's torch reference outputs are checked against the
   trained modules.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import torch

from mmlq_build import export_paper
from mmlq_ref import MMLQConfig, MMLQTokenModel, WordPieceTokenizer
from mmlq_ref.encoders import BertEncoder, ClipVisionEncoder
from mmlq_ref.folder import preprocess, sha256
from mmlq_ref.loss import emd_loss
from mmlq_train import ava_data as A
from mmlq_train import metrics as M
from mmlq_train import vit as V

AVA_LICENCE = ("AVA (Murray, Marchesotti, Perronnin, CVPR 2012): images and votes from DPChallenge.com, images "
               "(c) their photographers, released for non-commercial research; comments (AVA-Comments) likewise "
               "from DPChallenge.com. These weights are derived from that data: check its terms before any "
               "commercial use.")
CLIP_MEAN, CLIP_STD = export_paper.CLIP_MEAN, export_paper.CLIP_STD


def log(msg: str) -> None:
    print(f"[ava {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------------
# feature cache
# ------------------------------------------------------------------------------------------------
class _Images(torch.utils.data.Dataset):
    def __init__(self, paths: List[str], texts: List[Optional[str]], size: int, tok: WordPieceTokenizer):
        self.paths, self.texts, self.size, self.tok = paths, texts, size, tok

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        try:
            px = preprocess(self.paths[i], self.size, CLIP_MEAN, CLIP_STD)
            ok = True
        except Exception:  # unreadable image: zeros, flagged
            px, ok = np.zeros((3, self.size, self.size), np.float32), False
        ids, mask = self.tok.encode(self.texts[i])
        return i, torch.from_numpy(px), torch.tensor(ids), torch.tensor(mask), ok


def cache_features(vit: ClipVisionEncoder, bert: BertEncoder, tok: WordPieceTokenizer, ids: List[str],
                   paths: List[str], texts: List[Optional[str]], cache: str, key: str, device: str,
                   batch: int, workers: int) -> Dict[str, np.ndarray]:
    os.makedirs(cache, exist_ok=True)
    n, t = len(ids), tok.max_tokens
    li, dv, dt = 1 + vit.cfg.num_patches, vit.cfg.hidden_size, bert.cfg.hidden_size
    idx_path = os.path.join(cache, "index.json")
    state = json.load(open(idx_path)) if os.path.isfile(idx_path) else {}
    fresh = state.get("key") != key or state.get("ids") != ids
    mode = "w+" if fresh else "r+"
    img = np.lib.format.open_memmap(os.path.join(cache, "image_tokens.npy"), mode, np.float16, (n, li, dv))
    txt = np.lib.format.open_memmap(os.path.join(cache, "text_tokens.npy"), mode, np.float16, (n, t, dt))
    msk = np.lib.format.open_memmap(os.path.join(cache, "text_mask.npy"), mode, np.uint8, (n, t))
    okv = np.lib.format.open_memmap(os.path.join(cache, "readable.npy"), mode, np.uint8, (n,))
    done = 0 if fresh else int(state.get("done", 0))
    if done >= n:
        log(f"feature cache: {n} images up to date in {cache}")
        return {"img": img, "txt": txt, "mask": msk, "ok": okv}
    log(f"feature cache: {n - done} of {n} images to encode -> {cache}")
    ds = _Images(paths[done:], texts[done:], vit.cfg.image_size, tok)
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, num_workers=workers, shuffle=False)
    vit.to(device)
    bert.to(device)
    t0 = time.time()
    amp = device.startswith("cuda")
    with torch.no_grad():
        for j, (i, px, tid, tm, ok) in enumerate(dl):
            i = i.numpy() + done
            with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                fi = vit(px.to(device))
                has = tm.sum(1) > 0
                ft = torch.zeros(len(i), t, dt, device=device)
                if has.any():
                    ft[has.to(device)] = bert(tid[has].to(device), tm[has].to(device)).float()
            img[i] = fi.float().cpu().numpy().astype(np.float16)
            txt[i] = ft.cpu().numpy().astype(np.float16)
            msk[i] = tm.numpy().astype(np.uint8)
            okv[i] = ok.numpy().astype(np.uint8)
            if j % 50 == 49 or i[-1] == n - 1:
                for m in (img, txt, msk, okv):
                    m.flush()
                with open(idx_path, "w") as f:
                    json.dump({"key": key, "ids": ids, "done": int(i[-1]) + 1}, f)
                rate = (int(i[-1]) + 1 - done) / max(1e-6, time.time() - t0)
                log(f"  encoded {int(i[-1]) + 1}/{n} ({rate:.1f} images/s)")
    return {"img": img, "txt": txt, "mask": msk, "ok": okv}


# ------------------------------------------------------------------------------------------------
# training and evaluation
# ------------------------------------------------------------------------------------------------
def in_memory(feats, device: str, max_bytes: float) -> dict:
    """The cache as float32 tensors on ``device`` when it fits in ``max_bytes`` (else the memmaps)."""
    size = sum(feats[k].size for k in ("img", "txt", "mask")) * 4
    if size > max_bytes:
        return feats
    out = {k: torch.from_numpy(np.asarray(feats[k], dtype=np.float32)).to(device) for k in ("img", "txt", "mask")}
    out["ok"] = feats["ok"]
    return out


def _take(a, sel: np.ndarray, device: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a[torch.from_numpy(sel).to(a.device)]
    return torch.from_numpy(a[sel].astype(np.float32)).to(device)


def batches(rows: np.ndarray, feats, dists: np.ndarray, bs: int, device: str, text: bool,
            rng: Optional[np.random.Generator] = None, text_drop: float = 0.0):
    order = rng.permutation(len(rows)) if rng is not None else np.arange(len(rows))
    for s in range(0, len(rows), bs):
        sel = np.sort(rows[order[s:s + bs]])   # sorted: sequential memmap reads
        img = _take(feats["img"], sel, device)
        txt = _take(feats["txt"], sel, device)
        m = _take(feats["mask"], sel, device)
        if not text:
            m = torch.zeros_like(m)
        elif text_drop > 0 and rng is not None:
            keep = torch.from_numpy((rng.random(len(sel)) >= text_drop).astype(np.float32)).to(device)
            m = m * keep[:, None]
        yield sel, img, txt, m, torch.from_numpy(dists[sel]).to(device)


def predict(model: MMLQTokenModel, rows: np.ndarray, feats, dists, bs: int, device: str, text: bool) -> np.ndarray:
    model.eval()
    out = np.zeros((len(rows), 10), np.float64)
    pos = {r: k for k, r in enumerate(rows)}
    with torch.no_grad():
        for sel, img, txt, m, _ in batches(rows, feats, dists, bs, device, text):
            d, _ = model(img, txt, m)
            out[[pos[r] for r in sel]] = d.double().cpu().numpy()
    return out


def evaluate(model, rows, feats, dists, bs, device, with_text: bool) -> Dict[str, dict]:
    r = {"image_only": M.all_metrics(predict(model, rows, feats, dists, bs, device, False), dists[rows])}
    if with_text:
        r["image_comments"] = M.all_metrics(predict(model, rows, feats, dists, bs, device, True), dists[rows])
        r["image_comments"]["n_with_comments"] = int((np.asarray(feats["mask"][rows].cpu() if isinstance(
            feats["mask"], torch.Tensor) else feats["mask"][rows]).sum(1) > 0).sum())
    return r


def train(model: MMLQTokenModel, tr: np.ndarray, va: np.ndarray, feats, dists, a, with_text: bool) -> dict:
    device = a.device
    model.to(device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=a.lr,
                            weight_decay=a.weight_decay, betas=(0.9, 0.999))
    steps = a.epochs * math.ceil(len(tr) / a.batch_size)
    warm = max(1, int(a.warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))
    rng = np.random.default_rng(a.seed)
    best, best_sd, history = -2.0, None, []
    for ep in range(a.epochs):
        model.train()
        t0, tot, nb = time.time(), 0.0, 0
        for _, img, txt, m, y in batches(tr, feats, dists, a.batch_size, device, with_text, rng, a.text_drop):
            d, _ = model(img, txt, m)
            loss = emd_loss(d, y, r=2.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss)
            nb += 1
        h = {"epoch": ep + 1, "train_emd": round(tot / max(1, nb), 4), "seconds": round(time.time() - t0, 1)}
        if len(va) >= 3:
            ev = evaluate(model, va, feats, dists, a.batch_size, device, with_text)
            h["val"] = ev
            sel = -np.mean([v["emd"] for v in ev.values()])  # lowest validation EMD (less noisy than SRCC)
        else:
            sel = ep  # no validation images: keep the last epoch
        if sel > best:
            best, best_sd = sel, {k: v.detach().clone() for k, v in model.state_dict().items()}
            h["kept"] = True
        history.append(h)
        log(f"epoch {ep + 1}/{a.epochs}: train EMD {h['train_emd']}"
            + (", val SRCC " + ", ".join(f"{k} {v['srcc']}" for k, v in h["val"].items()) if "val" in h else "")
            + f" ({h['seconds']} s)")
    model.load_state_dict(best_sd)
    return {"history": history}


# ------------------------------------------------------------------------------------------------
def head_config(tiny: bool, dv: int, dt: int, max_tokens: int, dropout: float) -> MMLQConfig:
    base = export_paper.default_configs(True, 8)[2] if tiny else MMLQConfig.paper()
    return dataclasses.replace(base, text_dim=dt, image_groups=(("vit", dv),), max_text_tokens=max(max_tokens, 64),
                               dropout=dropout)


def comment_words(comments: Dict[str, List[str]], top: int = 3000) -> List[str]:
    from collections import Counter

    from mmlq_build.text import all_template_words
    c = Counter(w for cs in comments.values() for s in cs for w in re.findall(r"[a-z]+", s.lower()))
    return [w for w, _ in c.most_common(top)] + all_template_words()


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ava-dir", required=True, help="folder with AVA.txt")
    ap.add_argument("--images", required=True, help="folder of <image id>.jpg")
    ap.add_argument("--out", required=True, help="servable model folder to write")
    ap.add_argument("--comments", default=None, help="comments JSONL (mmlq_train/ava_data.py)")
    ap.add_argument("--train-list", default=None)
    ap.add_argument("--test-list", default=None)
    ap.add_argument("--image-encoder", default=None, help="HF CLIP vision state dict (or a model:pretrain output)")
    ap.add_argument("--text-encoder", default=None, help="HF BERT state dict")
    ap.add_argument("--tokenizer", default=None, help="folder with the BERT tokenizer.json + tokenizer_config.json")
    ap.add_argument("--vit-act", default="quick_gelu", choices=["quick_gelu", "gelu"])
    ap.add_argument("--tiny", action="store_true", help="tiny random encoders where none are given, tiny head (CI)")
    ap.add_argument("--cache", default=None, help="feature cache folder (default OUT.cache)")
    ap.add_argument("--epochs", type=int, default=None, help="default 10 (tiny 40)")
    ap.add_argument("--batch-size", type=int, default=None, help="default 128 (tiny 32)")
    ap.add_argument("--lr", type=float, default=None, help="default 1e-4 (tiny 1e-3)")
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--warmup", type=float, default=0.05, help="warm-up fraction of the steps")
    ap.add_argument("--dropout", type=float, default=None, help="MMLQ head dropout (default 0.1, tiny 0)")
    ap.add_argument("--text-drop", type=float, default=0.5, help="probability of training a sample image-only")
    ap.add_argument("--max-tokens", type=int, default=None, help="BERT tokens of the joined comments (default 128, tiny 32)")
    ap.add_argument("--val-fraction", type=float, default=0.05)
    ap.add_argument("--min-votes", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N images of AVA.txt (trials)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--workers", type=int, default=None, help="image decoding workers (default min(8, CPUs); tiny 0)")
    ap.add_argument("--encode-batch", type=int, default=64)
    ap.add_argument("--in-memory-gb", type=float, default=8.0,
                    help="load the feature cache as float32 onto --device when it is at most this big")
    ap.add_argument("--calibration-images", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default=None)
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--license", default="NOASSERTION", help="SPDX id for the folder (the data's terms apply)")
    ap.add_argument("--data-licence", default=AVA_LICENCE, help="the training data's licence, quoted in the card")
    ap.add_argument("--attribution", default=None, help="encoder licences etc. (manifest attribution)")
    a = ap.parse_args(argv)
    t_all = time.time()
    tiny = a.tiny
    a.epochs = a.epochs or (40 if tiny else 10)
    a.batch_size = a.batch_size or (32 if tiny else 128)
    a.lr = a.lr or (1e-3 if tiny else 1e-4)
    a.max_tokens = a.max_tokens or (32 if tiny else 128)
    a.dropout = a.dropout if a.dropout is not None else (0.0 if tiny else 0.1)
    a.workers = a.workers if a.workers is not None else (0 if tiny else min(8, os.cpu_count() or 1))
    out = os.path.abspath(a.out)
    cache = a.cache or out.rstrip(os.sep) + ".cache"
    work = os.path.join(cache, "work")
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(a.seed)

    # 1. data
    try:
        items = A.read_ava_txt(os.path.join(a.ava_dir, "AVA.txt"), a.min_votes)
        if a.limit:
            items = items[: a.limit]
        comments = A.read_comments_jsonl(a.comments) if a.comments else {}
        tr_list = A.read_id_list(a.train_list) if a.train_list else None
        te_list = A.read_id_list(a.test_list) if a.test_list else None
    except (OSError, A.AvaFormatError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    paths = {it.image_id: A.find_image(a.images, it.image_id) for it in items}
    missing = [i for i, p in paths.items() if p is None]
    items = [it for it in items if paths[it.image_id]]
    try:
        sp = A.split(items, tr_list, te_list, a.val_fraction)
    except A.AvaFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    log(f"data: {len(items)} images with files ({len(missing)} listed in AVA.txt but missing), "
        f"train {len(sp['train'])} / val {len(sp['val'])} / test {len(sp['test'])}; "
        f"{sum(1 for it in items if comments.get(it.image_id))} with comments")

    # 2. encoders + tokenizer
    if not tiny and not (a.image_encoder and a.text_encoder and a.tokenizer):
        print("error: give --image-encoder, --text-encoder and --tokenizer (Hugging Face checkpoints; see "
              "models/mmlq/README.md), or --tiny for tiny random encoders (CI)", file=sys.stderr)
        return 2
    tok_dir = a.tokenizer or V.write_tiny_tokenizer(os.path.join(work, "tokenizer"), comment_words(comments))
    tok = WordPieceTokenizer.from_tokenizer_json(os.path.join(tok_dir, "tokenizer.json"), max_tokens=a.max_tokens)
    vit_cfg, bert_cfg = V.tiny_configs(tok.vocab_size)
    enc_dir = os.path.join(work, "encoders")
    try:
        if a.image_encoder:
            vit, vit_file = V.load_vision(a.image_encoder, a.vit_act), a.image_encoder
        else:
            vit, vit_file = ClipVisionEncoder(vit_cfg).init_random_(), os.path.join(enc_dir, "tiny_random_vision.bin")
            V.save_vision(vit, vit_file, {"made_by": "mmlq_train.ava --tiny (random, seed %d)" % a.seed})
        if a.text_encoder:
            bert, bert_file = V.load_bert(a.text_encoder), a.text_encoder
        else:
            bert, bert_file = BertEncoder(bert_cfg).init_random_(), os.path.join(enc_dir, "tiny_random_bert.bin")
            V.save_bert(bert, bert_file)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if bert.cfg.vocab_size != tok.vocab_size:
        print(f"error: the text encoder has a {bert.cfg.vocab_size}-entry vocabulary, the tokenizer "
              f"{tok.vocab_size}: use that checkpoint's tokenizer.json", file=sys.stderr)
        return 2
    if a.max_tokens > bert.cfg.max_position_embeddings:
        print(f"error: --max-tokens {a.max_tokens} > the BERT positions ({bert.cfg.max_position_embeddings})",
              file=sys.stderr)
        return 2
    V.freeze(vit)
    V.freeze(bert)
    log(f"encoders: ViT {vit.cfg.image_size} px / {vit.cfg.hidden_size}-d / {vit.cfg.num_hidden_layers} layers "
        f"({os.path.basename(vit_file)}); BERT {bert.cfg.hidden_size}-d / {bert.cfg.num_hidden_layers} layers "
        f"({os.path.basename(bert_file)}); tokenizer {tok.vocab_size} entries; device {a.device}")

    # 3. features
    t0 = time.time()
    all_items = sp["train"] + sp["val"] + sp["test"]
    ids = [it.image_id for it in all_items]
    texts = [A.join_comments(comments.get(i, [])) for i in ids]
    h = hashlib.sha256()
    for part in (sha256(vit_file), sha256(bert_file), sha256(os.path.join(tok_dir, "tokenizer.json")),
                 sha256(a.comments) if a.comments else "-", str(a.max_tokens), a.vit_act):
        h.update(part.encode())
    feats = cache_features(vit, bert, tok, ids, [paths[i] for i in ids], texts, cache, h.hexdigest(), a.device,
                           a.encode_batch, a.workers)
    t_feat = time.time() - t0
    dists = np.stack([it.distribution() for it in all_items]).astype(np.float32)
    ok = feats["ok"].astype(bool)
    n_tr, n_va = len(sp["train"]), len(sp["val"])
    rows = {"train": np.arange(0, n_tr), "val": np.arange(n_tr, n_tr + n_va),
            "test": np.arange(n_tr + n_va, len(ids))}
    rows = {k: r[ok[r]] for k, r in rows.items()}
    unreadable = int((~ok).sum())

    # 4. training
    feats = in_memory(feats, a.device, a.in_memory_gb * 1e9)
    with_text = bool(comments)
    cfg = head_config(tiny, vit.cfg.hidden_size, bert.cfg.hidden_size, a.max_tokens, a.dropout)
    model = MMLQTokenModel(cfg)
    t0 = time.time()
    hist = train(model, rows["train"], rows["val"], feats, dists, a, with_text)
    t_train = time.time() - t0

    # 5. evaluation
    model.eval()
    test = evaluate(model, rows["test"], feats, dists, a.batch_size, a.device, with_text)
    log("test: " + "; ".join(f"{k}: " + ", ".join(f"{m} {v[m]}" for m in ("srcc", "plcc", "acc", "emd"))
                             for k, v in test.items()))
    model.cpu()
    head_path = os.path.join(work, "head.pt")
    torch.save({"config": cfg.to_dict(), "state_dict": model.state_dict()}, head_path)
    report = {
        "test": test,
        "metrics": "SRCC / PLCC of mean scores, binary accuracy at 5 (mean > 5), EMD r=2 (mmlq_train/metrics.py)",
        "data": {"ava_txt": os.path.join(a.ava_dir, "AVA.txt"), "images": len(items), "missing_files": len(missing),
                 "unreadable": unreadable, "train": int(len(rows["train"])), "val": int(len(rows["val"])),
                 "test": int(len(rows["test"])), "with_comments": int(sum(1 for t in texts if t)),
                 "split": "lists" if (a.train_list or a.test_list) else "hashed (ours)",
                 "licence": a.data_licence},
        "encoders": {"image": {"file": os.path.basename(vit_file), "sha256": sha256(vit_file),
                               "config": vit.cfg.to_dict()},
                     "text": {"file": os.path.basename(bert_file), "sha256": sha256(bert_file),
                              "config": bert.cfg.to_dict()},
                     "random": [k for k, v in (("image", a.image_encoder), ("text", a.text_encoder)) if not v]},
        "head": cfg.to_dict(),
        "hyperparameters": {k: getattr(a, k) for k in ("epochs", "batch_size", "lr", "weight_decay", "warmup",
                                                       "dropout", "text_drop", "max_tokens", "seed", "val_fraction")},
        "training": hist,
        "seconds": {"features": round(t_feat, 1), "train": round(t_train, 1)},
    }

    # 6. export
    calib = os.path.join(work, "calibration")
    shutil.rmtree(calib, ignore_errors=True)
    os.makedirs(calib)
    for i in [ids[r] for r in rows["test"][: a.calibration_images]]:
        p = paths[i]
        os.symlink(os.path.abspath(p), os.path.join(calib, os.path.basename(p)))
    name = a.name or re.sub(r"[^a-z0-9._-]", "-", os.path.basename(out).lower()) or "mmlq-ava"
    random_note = ""
    if report["encoders"]["random"]:
        random_note = (f" The {' and '.join(report['encoders']['random'])} encoder(s) are tiny RANDOM frozen "
                       "networks (--tiny, CI): only the MMLQ head is trained.")
    attribution = (a.attribution + " " if a.attribution else "") + "Training data: " + a.data_licence + random_note
    t0 = time.time()
    code = export_paper.main(["--out", out, "--tokenizer", tok_dir, "--reference-images", calib, "--head", head_path,
                              "--image-encoder", vit_file, "--text-encoder", bert_file, "--name", name,
                              "--version", a.version, "--max-tokens", str(a.max_tokens), "--vit-act", a.vit_act,
                              "--license", a.license, "--attribution", attribution])
    if code:
        print(f"error: export_paper exited {code}", file=sys.stderr)
        return code
    diff = parity_check(out, vit, bert, model)
    report["export"] = {"folder": out, "seconds": round(time.time() - t0, 1), "parity_max_diff": diff}
    report["seconds"]["total"] = round(time.time() - t_all, 1)
    for p in (os.path.join(out, "metrics.json"), os.path.join(work, "metrics.json")):
        with open(p, "w") as f:
            json.dump(report, f, indent=1)
    append_card(out, report, a, random_note)
    log(f"wrote {out} (model.onnx, manifest.json, MODEL_CARD.md, metrics.json); parity {diff:.1e}; "
        f"total {report['seconds']['total']} s")
    return 0


def parity_check(out: str, vit, bert, head) -> float:
    """The folder's torch reference outputs (written by export_paper from the files) vs the modules we
    trained and evaluated: the served graph is the evaluated model."""
    index = json.load(open(os.path.join(out, "parity", "index.json")))
    model = export_paper.ServableMMLQ(vit.cpu(), bert.cpu(), head.cpu()).eval()
    worst = 0.0
    for case in index["cases"]:
        feeds = {}
        for k, spec in case["inputs"].items():
            dt = np.float32 if spec["dtype"] == "float32" else np.int64
            feeds[k] = torch.from_numpy(np.fromfile(os.path.join(out, "parity", spec["file"]), dtype=dt)
                                        .reshape(spec["dims"]))
        with torch.no_grad():
            d = model(feeds["pixel_values"], feeds["input_ids"], feeds["attention_mask"]).numpy()
        worst = max(worst, float(np.abs(d - np.asarray(case["expected"]["distribution"])).max()))
    if worst > 1e-4:
        raise SystemExit(f"exported folder differs from the trained model (max diff {worst:.2e})")
    return worst


def append_card(out: str, r: dict, a, random_note: str) -> None:
    t = r["test"]
    rows = ["| mode | SRCC | PLCC | accuracy (5) | EMD (r=2) | images |", "|---|---|---|---|---|---|"]
    for k, v in t.items():
        rows.append(f"| {k.replace('_', ' + ').replace('image + only', 'image only')} | {v['srcc']} | {v['plcc']} | "
                    f"{v['acc']} | {v['emd']} | {v['n']} |")
    d = r["data"]
    lines = ["", "## Trained on AVA-format data (mmlq_train.ava)", "",
             f"Test split ({d['test']} images; split: {d['split']}), measured by `mmlq_train/metrics.py` right after "
             "training (also in `metrics.json`):", "", *rows, "",
             f"Data: {d['images']} images ({d['train']} train, {d['val']} validation, {d['test']} test; "
             f"{d['with_comments']} with comments; {d['missing_files']} missing files skipped).",
             f"Data licence: {d['licence']}", ""]
    if random_note:
        lines += [f"**Note:**{random_note} The numbers above are what such a head reaches on this data.", ""]
    hp = r["hyperparameters"]
    lines += ["Hyperparameters: " + ", ".join(f"{k} {v}" for k, v in hp.items())
              + " (ours; see models/mmlq/README.md for which are the paper's).", ""]
    with open(os.path.join(out, "MODEL_CARD.md"), "a") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
