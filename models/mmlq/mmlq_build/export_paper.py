"""Paper-size MMLQ as a SERVABLE model folder: one ONNX graph = frozen CLIP-style ViT image encoder +
frozen BERT text encoder + MMLQ head (Xiong et al., ICME 2024: ViT + BERT-base + learnable queries).

  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_build.export_paper --out models/<name> --tokenizer DIR_WITH_tokenizer.json \\
      --reference-images DIR [--head head.pt] [--image-encoder clip_vision.bin] [--text-encoder bert.bin] \\
      [--random] [--tiny] [--name N] [--version 0.1.0] [--max-tokens 64] [--vit-act quick_gelu|gelu] \\
      [--license SPDX] [--attribution TEXT]

Weights (torch files; models/mmlq/README.md says how to get them):
  --head           MMLQTokenModel state dict (img_proj.*, txt_proj.*, core.*), bare or
                   {"config": MMLQConfig.to_dict(), "state_dict": ...}
  --image-encoder  Hugging Face CLIPVisionModel / CLIPModel state dict (pytorch_model.bin or a .pt)
  --text-encoder   Hugging Face BertModel / BertFor* state dict
  --random         allow missing parts: they get seeded random weights (torch.manual_seed(0)); the
                   manifest description and MODEL_CARD.md then say the weights are RANDOM.  Without
                   --random a missing part is an error (exit 2).
  --tiny           tiny sizes for tests (ViT 64 px / patch 16 / 32-d / 2 layers; BERT 32-d / 2 layers;
                   MMLQ d 32, 4 queries, 2 blocks).  Default: ViT-B/16 @ 224, BERT-base, MMLQConfig.paper().
Encoder sizes are inferred from given state dicts; the BERT vocabulary must match the tokenizer's.

Writes to --out: model.onnx (opset 17; inputs pixel_values float32 [N,3,S,S] CLIP-normalised,
input_ids / attention_mask int64 [N,T], T dynamic; output distribution float32 [N,10]),
tokenizer.json + tokenizer_config.json (copied), manifest.json (docs/MODEL_FORMAT.md), MODEL_CARD.md,
parity/ (torch reference outputs + tokenizer cases of mmlq_ref/wordpiece.py for the TypeScript tests).
Calibration: percentiles of the image-only mean score over every image PIL opens in --reference-images.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx
import torch
from torch import nn

from mmlq_ref import N_BINS, MMLQConfig, MMLQTokenModel
from mmlq_ref.encoders import (BertConfig, BertEncoder, ClipVisionConfig, ClipVisionEncoder, infer_bert_config,
                               infer_vision_config, load_hf_file, load_hf_state_dict, normalise_hf_keys)
from mmlq_ref.folder import (TOKENIZER_CASES as COMMON_TOKENIZER_CASES, folder_size, parity_pixels, percentile_points,
                             preprocess, sha256, write_manifest)
from mmlq_ref.wordpiece import WordPieceTokenizer

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
COMMAND = ["PYTHONPATH=models/mmlq", "/usr/bin/python3", "-m", "mmlq_build.export_paper"]  # from the repository root

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
OPSET = 17
SEED = 0

PARITY_TEXTS = {
    "image_only": [None, None],
    "with_text": ["Crisp detail, lovely light. A beautiful portrait!", None],
    "with_text_both": ["blurry and too dark", "Stunning colours, tack sharp\nmy coffee this morning"],
}

# The shared cases plus what only a WordPiece tokenizer with special tokens can get wrong.
TOKENIZER_CASES = COMMON_TOKENIZER_CASES + [
    "Crisp, LOVELY light!",
    "\t\n ",
    "«quotes» „low“ ‘single’ — dash … ellipsis",
    "the [MASK] is [UNK] and [cls] lower-case",
    "a[SEP]b[CLS]c",
    "sharpest brightness colourful sharply lovelier",
    "x" * 101 + " tail",
    " ".join(["very"] * 40),
    " ".join(f"w{i}" for i in range(30)),
]


class ServableMMLQ(nn.Module):
    """pixel_values [N,3,S,S] (CLIP-normalised), input_ids / attention_mask [N,T] -> distribution [N,10]."""

    def __init__(self, vit: ClipVisionEncoder, bert: BertEncoder, head: MMLQTokenModel):
        super().__init__()
        self.vit = vit
        self.bert = bert
        self.head = head

    def forward(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        img = self.vit(pixel_values)                       # [N, 1+P, Dv]
        txt = self.bert(input_ids, attention_mask)          # [N, T, Dt]
        dist, _ = self.head(img, txt, attention_mask)      # MMLQCore gates text off for all-zero mask rows
        return dist


class ExportError(Exception):
    pass


def default_configs(tiny: bool, vocab_size: int) -> Tuple[ClipVisionConfig, BertConfig, MMLQConfig]:
    if tiny:
        vit = ClipVisionConfig(image_size=64, patch_size=16, hidden_size=32, num_hidden_layers=2,
                               num_attention_heads=2, intermediate_size=64)
        bert = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=64)
        mmlq = MMLQConfig(d_model=32, n_queries=4, n_blocks=2, n_heads=2, ffn_mult=4, dropout=0.0, text_dim=32,
                          max_text_tokens=64, image_groups=(("vit", 32),))
        return vit, bert, mmlq
    return ClipVisionConfig(), BertConfig(vocab_size=vocab_size), MMLQConfig.paper()


def infer_head_config(sd: Dict[str, torch.Tensor], base: MMLQConfig) -> MMLQConfig:
    """MMLQConfig of a bare MMLQTokenModel state dict (sizes from shapes; heads = d_model / 64)."""
    try:
        _, k, d = sd["core.queries"].shape
        img_dim = sd["img_proj.1.weight"].shape[1]
        txt_dim = sd["txt_proj.1.weight"].shape[1]
        ffn = sd["core.blocks.0.ff.0.weight"].shape[0]
        n_bins = sd["core.head.3.weight"].shape[0]
        n_attr = sd["core.attr.weight"].shape[0] if "core.attr.weight" in sd else base.n_attributes
    except KeyError as e:
        raise ExportError(f"--head: not an MMLQTokenModel state dict (missing {e})") from None
    blocks = 1 + max(int(m.group(1)) for key in sd for m in [re.match(r"core\.blocks\.(\d+)\.", key)] if m)
    heads = base.n_heads if base.d_model == d else (d // 64 if d % 64 == 0 else 1)
    return MMLQConfig(d_model=int(d), n_queries=int(k), n_blocks=blocks, n_heads=heads, ffn_mult=int(ffn) // int(d),
                      dropout=base.dropout, n_bins=int(n_bins), n_attributes=int(n_attr), text_dim=int(txt_dim),
                      max_text_tokens=base.max_text_tokens, image_groups=(("vit", int(img_dim)),))


def rel(path: str) -> str:
    """Path as written into the folder: relative to the repo when inside it (no machine paths)."""
    a = os.path.abspath(path)
    return os.path.relpath(a, REPO) if a.startswith(REPO + os.sep) else os.path.basename(a.rstrip(os.sep))


def build_model(a, tok: WordPieceTokenizer) -> Tuple[ServableMMLQ, dict]:
    torch.manual_seed(SEED)
    vit_d, bert_d, mmlq_d = default_configs(a.tiny, tok.vocab_size)
    vit_d.hidden_act = a.vit_act
    weights = {}

    # image encoder
    if a.image_encoder:
        sd = normalise_hf_keys(load_hf_file(a.image_encoder), "vision")
        vit_cfg = infer_vision_config(sd, a.vit_act)
        vit = load_hf_state_dict(ClipVisionEncoder(vit_cfg), sd, "vision")
        weights["image_encoder"] = {"file": os.path.basename(a.image_encoder), "sha256": sha256(a.image_encoder)}
    else:
        vit_cfg = vit_d
        vit = ClipVisionEncoder(vit_cfg).init_random_()
        weights["image_encoder"] = "random"

    # text encoder
    if a.text_encoder:
        sd = normalise_hf_keys(load_hf_file(a.text_encoder), "bert")
        bert_cfg = infer_bert_config(sd)
        if bert_cfg.vocab_size != tok.vocab_size:
            raise ExportError(f"--text-encoder has a {bert_cfg.vocab_size}-entry vocabulary but the tokenizer "
                              f"{a.tokenizer}/tokenizer.json has {tok.vocab_size}: use the tokenizer of that checkpoint")
        bert = load_hf_state_dict(BertEncoder(bert_cfg), sd, "bert")
        weights["text_encoder"] = {"file": os.path.basename(a.text_encoder), "sha256": sha256(a.text_encoder)}
    else:
        bert_cfg = bert_d
        if not a.tiny and tok.vocab_size != 30522:
            print(f"note: random BERT-base with the tokenizer's {tok.vocab_size}-entry vocabulary "
                  "(bert-base-uncased has 30522)")
        bert = BertEncoder(bert_cfg).init_random_()
        weights["text_encoder"] = "random"
    if a.max_tokens > bert_cfg.max_position_embeddings:
        raise ExportError(f"--max-tokens {a.max_tokens} exceeds the BERT positions "
                          f"({bert_cfg.max_position_embeddings})")

    # head
    if a.head:
        ck = torch.load(a.head, map_location="cpu")
        if isinstance(ck, dict) and "state_dict" in ck:
            sd = ck["state_dict"]
            cfg = MMLQConfig.from_dict(ck["config"]) if "config" in ck else infer_head_config(sd, mmlq_d)
        else:
            sd = ck
            cfg = infer_head_config(sd, mmlq_d)
        weights["head"] = {"file": os.path.basename(a.head), "sha256": sha256(a.head)}
    else:
        cfg = dataclass_replace(mmlq_d, text_dim=bert_cfg.hidden_size,
                                image_groups=(("vit", vit_cfg.hidden_size),))
        sd = None
        weights["head"] = "random"
    if cfg.image_groups[0][1] != vit_cfg.hidden_size or cfg.text_dim != bert_cfg.hidden_size:
        raise ExportError(f"head expects {cfg.image_groups[0][1]}-d image tokens and {cfg.text_dim}-d text tokens; "
                          f"the encoders give {vit_cfg.hidden_size}-d and {bert_cfg.hidden_size}-d")
    if cfg.n_bins != N_BINS:
        raise ExportError(f"head predicts {cfg.n_bins} bins, the manifest needs {N_BINS}")
    head = MMLQTokenModel(cfg)
    if sd is not None:
        try:
            head.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            raise ExportError(f"--head does not match MMLQTokenModel({cfg.to_dict()}): {e}") from None
    model = ServableMMLQ(vit, bert, head).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    info = {"vit": vit_cfg.to_dict(), "bert": bert_cfg.to_dict(), "mmlq": cfg.to_dict(), "weights": weights,
            "random": [k for k, v in weights.items() if v == "random"]}
    return model, info


def dataclass_replace(obj, **kw):
    import dataclasses

    return dataclasses.replace(obj, **kw)


def export_onnx(model: ServableMMLQ, path: str, size: int, max_tokens: int) -> None:
    x = torch.zeros(2, 3, size, size)
    ids = torch.zeros(2, max_tokens, dtype=torch.int64)
    mask = torch.ones(2, max_tokens, dtype=torch.int64)
    tmp = path + ".raw"
    torch.onnx.export(
        model, (x, ids, mask), tmp, opset_version=OPSET,
        input_names=["pixel_values", "input_ids", "attention_mask"], output_names=["distribution"],
        dynamic_axes={"pixel_values": {0: "N"}, "input_ids": {0: "N", 1: "T"}, "attention_mask": {0: "N", 1: "T"},
                      "distribution": {0: "N"}},
        do_constant_folding=True)
    m = onnx.load(tmp)
    os.remove(tmp)
    m.producer_name = "mmlq-edge models/mmlq/export_paper.py"  # the file's former path; kept: part of the graph bytes
    onnx.checker.check_model(m)
    onnx.save(m, path)


def check_graph_io(path: str, size: int) -> None:
    g = onnx.load(path, load_external_data=False).graph

    def dims(v):
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    io = {v.name: (v.type.tensor_type.elem_type, dims(v)) for v in list(g.input) + list(g.output)}
    want = {"pixel_values": (onnx.TensorProto.FLOAT, ["N", 3, size, size]),
            "input_ids": (onnx.TensorProto.INT64, ["N", "T"]),
            "attention_mask": (onnx.TensorProto.INT64, ["N", "T"]),
            "distribution": (onnx.TensorProto.FLOAT, ["N", N_BINS])}
    if io != want:
        raise ExportError(f"graph inputs/outputs {io} differ from {want}")


def run(model, px: np.ndarray, ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(px), ids, mask).numpy()


def write_parity(model, tok: WordPieceTokenizer, out: str, size: int) -> dict:
    pdir = os.path.join(out, "parity")
    if os.path.isdir(pdir):
        shutil.rmtree(pdir)
    os.makedirs(pdir)
    t = tok.max_tokens
    px = parity_pixels(size, CLIP_MEAN, CLIP_STD)
    pfile = f"pixel_values_2x3x{size}x{size}.f32"
    px.astype("<f4").tofile(os.path.join(pdir, pfile))
    cases = []
    for name, texts in PARITY_TEXTS.items():
        ids, mask = tok.batch(texts)
        ids.numpy().astype("<i8").tofile(os.path.join(pdir, f"{name}.input_ids_2x{t}.i64"))
        mask.numpy().astype("<i8").tofile(os.path.join(pdir, f"{name}.attention_mask_2x{t}.i64"))
        d = run(model, px, ids, mask)
        cases.append({
            "name": name, "texts": texts,
            "inputs": {"pixel_values": {"file": pfile, "dtype": "float32", "dims": [2, 3, size, size]},
                       "input_ids": {"file": f"{name}.input_ids_2x{t}.i64", "dtype": "int64", "dims": [2, t]},
                       "attention_mask": {"file": f"{name}.attention_mask_2x{t}.i64", "dtype": "int64",
                                          "dims": [2, t]}},
            "expected": {"distribution": d.tolist(), "mean_score": (d @ np.arange(1, 11)).tolist()},
        })
    index = {
        "description": "Torch reference outputs of mmlq_ref (models/mmlq/mmlq_build/export_paper.py) for the exported "
                       "model.onnx. pixel_values: skimage astronaut (NASA, public domain) and coffee (CC0), "
                       f"shortest-edge bicubic resize to {size} + centre crop, /255, CLIP mean/std, NCHW, "
                       "little-endian raw. input_ids / attention_mask: mmlq_ref/wordpiece.py on tokenizer.json "
                       "(null text = image-only: all [PAD], mask 0).",
        "tolerance": {"distribution": 1e-4},
        "cases": cases,
    }
    with open(os.path.join(pdir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    inv = {v: k for k, v in tok.vocab.items()}
    tcases = []
    for s in TOKENIZER_CASES:
        ids, mask = tok.encode(s)
        image_only = WordPieceTokenizer.is_image_only(s)
        full = [] if image_only else tok.ids(s)
        tcases.append({"text": s, "imageOnly": image_only, "tokens": [inv[i] for i in full], "ids": full,
                       "input_ids": ids, "attention_mask": mask})
    with open(os.path.join(pdir, "tokenizer_cases.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer": "tokenizer.json", "maxTokens": t, "padId": tok.pad_id,
                   "note": "mmlq_ref/wordpiece.py (Python " + sys.version.split()[0] + " unicodedata "
                           + __import__("unicodedata").unidata_version + "). ids/tokens: [CLS] ... [SEP] before "
                           "truncation (what @huggingface/tokenizers encode() returns); input_ids/attention_mask: "
                           "truncated to maxTokens keeping the final [SEP], padded with [PAD]. imageOnly: empty or "
                           "whitespace-only text -> all [PAD] ids, all-zero mask.",
                   "cases": tcases}, f, ensure_ascii=False, indent=1)
    return index


def calibration(model, ref_dir: str, size: int, max_tokens: int, pad_id: int) -> Tuple[dict, int]:
    xs = []
    for fn in sorted(os.listdir(ref_dir)):
        p = os.path.join(ref_dir, fn)
        if not os.path.isfile(p):
            continue
        try:
            xs.append(preprocess(p, size, CLIP_MEAN, CLIP_STD))
        except Exception:  # not an image PIL can open
            continue
    if len(xs) < 2:
        raise ExportError(f"--reference-images {ref_dir}: need at least 2 images PIL can open, found {len(xs)}")
    scores = []
    for i in range(0, len(xs), 8):
        px = np.stack(xs[i:i + 8])
        n = px.shape[0]
        ids = torch.full((n, max_tokens), pad_id, dtype=torch.int64)
        d = run(model, px, ids, torch.zeros(n, max_tokens, dtype=torch.int64))
        scores += (d @ np.arange(1, 11)).tolist()
    for decimals in (4, 6):
        pts = percentile_points(scores, decimals=decimals)
        if len(pts) >= 2:
            break
    else:
        raise ExportError("calibration: the reference images all get the same score")
    return {"points": pts}, len(xs)


def self_check(model, tok: WordPieceTokenizer, size: int, index: dict) -> dict:
    """Torch-only checks (no onnxruntime in this Python; the TypeScript test checks ORT parity)."""
    px = parity_pixels(size, CLIP_MEAN, CLIP_STD)
    t = tok.max_tokens
    g = torch.Generator().manual_seed(1)
    ids, mask = tok.batch(PARITY_TEXTS["with_text"])
    d = run(model, px, ids, mask)
    ref = np.asarray(index["cases"][1]["expected"]["distribution"])
    assert np.abs(d - ref).max() == 0.0, "torch forward is not deterministic"
    assert np.isfinite(d).all() and np.allclose(d.sum(1), 1.0, atol=1e-5)
    # the image-only row (1) must not depend on its (masked) ids
    ids2 = ids.clone()
    ids2[1] = torch.randint(0, tok.vocab_size, (t,), generator=g)
    d2 = run(model, px, ids2, mask)
    io_diff = float(np.abs(d2[1] - d[1]).max())
    assert io_diff < 1e-6, f"image-only row depends on its ids ({io_diff})"
    # rows are independent of the batch
    d1 = run(model, px[1:], ids[1:], mask[1:])
    b_diff = float(np.abs(d1[0] - d[1]).max())
    assert b_diff < 1e-5, f"batch dependence {b_diff}"
    # a shorter T gives the same result for the image-only row and the padded text row
    tt = int(mask[0].sum())
    d3 = run(model, px, ids[:, :tt], mask[:, :tt])
    t_diff = float(np.abs(d3 - d).max())
    assert t_diff < 1e-5, f"padding dependence {t_diff}"
    img_only = np.asarray(index["cases"][0]["expected"]["distribution"])
    text_effect = float(np.abs(img_only[0] - d[0]).max())
    with torch.no_grad():
        x1 = torch.from_numpy(px[:1])
        model(x1, ids[:1], mask[:1])
        t0 = time.time()
        for _ in range(3):
            model(x1, ids[:1], mask[:1])
        ms = (time.time() - t0) / 3 * 1000
    return {"image_only_id_independence": io_diff, "batch_independence": b_diff, "padding_independence": t_diff,
            "text_effect_row0": text_effect}, ms


def shape_check(tiny: bool) -> int:
    """Random model at paper (or tiny) sizes, one forward of 2 rows (row 1 image-only): shapes, finiteness,
    softmax, and the image-only row's independence of its ids.  No ONNX, no files."""
    t0 = time.time()
    torch.manual_seed(SEED)
    vit_cfg, bert_cfg, cfg = default_configs(tiny, 30522 if not tiny else 173)
    cfg = dataclass_replace(cfg, text_dim=bert_cfg.hidden_size, image_groups=(("vit", vit_cfg.hidden_size),))
    model = ServableMMLQ(ClipVisionEncoder(vit_cfg).init_random_(), BertEncoder(bert_cfg).init_random_(),
                         MMLQTokenModel(cfg)).eval()
    t_build = time.time() - t0
    s, t = vit_cfg.image_size, 32
    px = torch.randn(2, 3, s, s)
    ids = torch.randint(0, bert_cfg.vocab_size, (2, t))
    mask = torch.ones(2, t, dtype=torch.int64)
    mask[0, 20:] = 0
    mask[1] = 0
    with torch.no_grad():
        t1 = time.time()
        img = model.vit(px)
        txt = model.bert(ids, mask)
        d = model(px, ids, mask)
        t_fwd = time.time() - t1
        ids2 = ids.clone()
        ids2[1] = torch.randint(0, bert_cfg.vocab_size, (t,))
        d2 = model(px, ids2, mask)
    n_tok = 1 + (s // vit_cfg.patch_size) ** 2
    assert tuple(img.shape) == (2, n_tok, vit_cfg.hidden_size), img.shape
    assert tuple(txt.shape) == (2, t, bert_cfg.hidden_size) and torch.isfinite(txt).all(), txt.shape
    assert tuple(d.shape) == (2, N_BINS) and torch.isfinite(d).all() and torch.allclose(d.sum(1), torch.ones(2))
    diff = float((d2[1] - d[1]).abs().max())
    assert diff < 1e-6, f"image-only row depends on its ids ({diff})"
    n_par = sum(p.numel() for p in model.parameters())
    print(f"shape check ({'tiny' if tiny else 'paper'}): image tokens {list(img.shape)}, text tokens {list(txt.shape)}, "
          f"distribution {list(d.shape)}; image-only row independent of ids ({diff:.1e}); {n_par / 1e6:.1f} M params; "
          f"build {t_build:.1f} s, forward (vit + bert + full) {t_fwd:.1f} s")
    return 0


def describe_weights(info: dict) -> Tuple[str, str]:
    w = info["weights"]

    def one(k, label):
        v = w[k]
        return f"{label}: RANDOM (seed {SEED})" if v == "random" else f"{label}: {v['file']} (sha256 {v['sha256'][:12]}...)"

    labels = {"image_encoder": "image encoder", "text_encoder": "text encoder", "head": "MMLQ head"}
    rnd = [labels[k] for k in info["random"]]
    rnd_txt = " and ".join([", ".join(rnd[:-1]), rnd[-1]]) if len(rnd) > 1 else "".join(rnd)
    return "; ".join([one(k, v) for k, v in labels.items()]), rnd_txt


def model_card(out: str, manifest: dict, info: dict, checks: dict, n_ref: int, a, command: str) -> None:
    wtxt, rnd = describe_weights(info)
    vit, bert, mm = info["vit"], info["bert"], info["mmlq"]
    warn = ""
    if rnd:
        warn = (f"\n**WARNING: THE WEIGHTS OF THE {rnd.upper()} ARE RANDOM. THE OUTPUT IS NOT AN AESTHETIC "
                "JUDGEMENT.** This folder is a shape / latency / parity reference for the runtime, nothing more.\n")
    size = vit["image_size"]
    lines = [
        f"# {manifest['name']} — model card",
        warn,
        "**What it is.** MMLQ in the paper's configuration family (Xiong et al., \"Multi-modal Learnable "
        "Queries for Image Aesthetics Assessment\", ICME 2024): a frozen CLIP-style ViT image encoder and a "
        "frozen BERT text encoder feed learnable queries through Multi-modal Interaction Blocks; the pooled "
        "queries predict a 10-bin (AVA 1..10) score distribution. One ONNX graph "
        f"(`model.onnx`, {os.path.getsize(os.path.join(out, 'model.onnx')) / 1e6:.2f} MB), written by "
        "`models/mmlq/mmlq_build/export_paper.py`.",
        "",
        f"**Weights.** {wtxt}.",
        "",
        "## Sizes",
        f"- image encoder: ViT, {size} px, patch {vit['patch_size']}, {vit['hidden_size']}-d, "
        f"{vit['num_hidden_layers']} layers, {vit['num_attention_heads']} heads, MLP {vit['intermediate_size']}, "
        f"{vit['hidden_act']}",
        f"- text encoder: BERT, vocabulary {bert['vocab_size']}, {bert['hidden_size']}-d, "
        f"{bert['num_hidden_layers']} layers, {bert['num_attention_heads']} heads, MLP {bert['intermediate_size']}, "
        f"{bert['max_position_embeddings']} positions",
        f"- MMLQ: d_model {mm['d_model']}, {mm['n_queries']} queries, {mm['n_blocks']} blocks, {mm['n_heads']} heads, "
        f"FFN x{mm['ffn_mult']}",
        "",
        "## Interface",
        f"- `pixel_values` float32 [N,3,{size},{size}]: RGB, shortest edge resized to {size} (bicubic), centre "
        "crop, /255, then CLIP mean/std (the runtime does this from the manifest).",
        f"- `input_ids` / `attention_mask` int64 [N,T], T <= {a.max_tokens} (manifest maxTokens): BERT WordPiece "
        "(`tokenizer.json`, `[CLS] ... [SEP]`, single segment). An all-zero `attention_mask` row is image-only: "
        "the MMLQ text cross-attention is gated off for it (BERT uses an additive finfo(float32).min mask, so it "
        "stays finite).",
        "- `distribution` float32 [N,10] (softmax over scores 1..10). No attribute output.",
        "",
        "## What is ours (not stated by the paper)",
        "- the ViT returns all tokens (CLS + patches) with `post_layernorm` applied to every token (HF applies "
        "it only to the pooled CLS token);",
        "- CLIP mean/std and the resize / centre-crop preprocessing; single-segment BERT (token_type 0);",
        "- all MMLQ sizes, pre-norm residuals, mean pooling of the queries, the head (see mmlq_ref/model.py).",
        "- The encoders follow Hugging Face transformers' parameter names and equations "
        "(mmlq_ref/encoders.py) but were NOT checked numerically against transformers here.",
        "",
        "## Calibration",
        f"`manifest.json` `calibration`: percentiles of the image-only mean score over the {n_ref} images of "
        f"`{rel(a.reference_images)}`." + (" With random weights this is meaningless as a ranking." if rnd else ""),
        "",
        "## Checks at export (torch)",
        "```json",
        json.dumps(checks, indent=1),
        "```",
        "",
        "## Rebuild",
        "```sh",
        command,
        "```",
        "",
    ]
    with open(os.path.join(out, "MODEL_CARD.md"), "w") as f:
        f.write("\n".join(lines))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="model folder to write (required)")
    ap.add_argument("--tokenizer", help="folder with tokenizer.json + tokenizer_config.json (required)")
    ap.add_argument("--reference-images", help="calibration images, image-only (required)")
    ap.add_argument("--head", default=None)
    ap.add_argument("--image-encoder", default=None)
    ap.add_argument("--text-encoder", default=None)
    ap.add_argument("--random", action="store_true", help="random weights for every part not given")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (tests)")
    ap.add_argument("--name", default=None)
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--vit-act", default="quick_gelu", choices=["quick_gelu", "gelu"],
                    help="ViT MLP activation (OpenAI CLIP: quick_gelu; many LAION/open_clip ports: gelu)")
    ap.add_argument("--license", default="NOASSERTION", help="SPDX id for manifest license.spdx")
    ap.add_argument("--attribution", default=None, help="extra attribution text (checkpoint licences)")
    ap.add_argument("--shape-check", action="store_true",
                    help="only build the random model (paper sizes, or --tiny) and check one forward; writes nothing")
    a = ap.parse_args(argv)
    t_start = time.time()
    if a.shape_check:
        return shape_check(a.tiny)
    for flag, v in (("--out", a.out), ("--tokenizer", a.tokenizer), ("--reference-images", a.reference_images)):
        if not v:
            ap.error(f"{flag} is required")

    missing = [f for f, v in (("--head", a.head), ("--image-encoder", a.image_encoder),
                              ("--text-encoder", a.text_encoder)) if not v]
    if missing and not a.random:
        print(f"error: no weights for {', '.join(missing)}; give them, or pass --random for seeded random "
              "weights (the folder is then marked RANDOM, not an aesthetic model)", file=sys.stderr)
        return 2
    name = a.name or os.path.basename(os.path.abspath(a.out))
    if not re.match(r"^[a-z0-9][a-z0-9._-]*$", name):
        print(f"error: --name {name!r}: lower-case letters, digits, '.', '_' or '-'", file=sys.stderr)
        return 2
    tj = os.path.join(a.tokenizer, "tokenizer.json")
    tc = os.path.join(a.tokenizer, "tokenizer_config.json")
    for p in (tj, tc):
        if not os.path.isfile(p):
            print(f"error: {p} not found", file=sys.stderr)
            return 2
    if not os.path.isdir(a.reference_images):
        print(f"error: --reference-images {a.reference_images} is not a folder", file=sys.stderr)
        return 2
    try:
        tok = WordPieceTokenizer.from_tokenizer_json(tj, max_tokens=a.max_tokens)
        model, info = build_model(a, tok)
    except (ExportError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    size = info["vit"]["image_size"]
    out = a.out
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(tj, os.path.join(out, "tokenizer.json"))
    shutil.copyfile(tc, os.path.join(out, "tokenizer_config.json"))
    t0 = time.time()
    export_onnx(model, os.path.join(out, "model.onnx"), size, a.max_tokens)
    check_graph_io(os.path.join(out, "model.onnx"), size)
    t_onnx = time.time() - t0
    index = write_parity(model, tok, out, size)
    calib, n_ref = calibration(model, a.reference_images, size, a.max_tokens, tok.pad_id)
    checks, torch_ms = self_check(model, tok, size, index)

    wtxt, rnd = describe_weights(info)
    n_par = sum(p.numel() for p in model.parameters())
    if rnd:
        desc = (f"MMLQ (ViT {info['vit']['hidden_size']}-d + BERT {info['bert']['hidden_size']}-d + learnable-query "
                f"head{', tiny test sizes' if a.tiny else ', paper sizes'}). THE WEIGHTS OF THE {rnd.upper()} ARE "
                "RANDOM: THE OUTPUT IS NOT AN AESTHETIC JUDGEMENT (shape / latency / parity reference only).")
    else:
        desc = (f"MMLQ (frozen ViT {info['vit']['hidden_size']}-d + frozen BERT {info['bert']['hidden_size']}-d + "
                "learnable-query head); weights as listed in training.weights. See MODEL_CARD.md.")
    attribution = f"Weights: {wtxt}. Tokenizer: {rel(a.tokenizer)}/tokenizer.json."
    if a.attribution:
        attribution += " " + a.attribution
    out_arg = rel(out) if os.path.abspath(out).startswith(REPO + os.sep) else "OUT"
    command_args = COMMAND + ["--out", out_arg, "--tokenizer", rel(a.tokenizer), "--reference-images",
                              rel(a.reference_images)]
    for flag, v in (("--head", a.head), ("--image-encoder", a.image_encoder), ("--text-encoder", a.text_encoder)):
        if v:
            command_args += [flag, os.path.basename(v)]
    command_args += (["--random"] if a.random else []) + (["--tiny"] if a.tiny else []) + \
        ["--name", name, "--version", a.version, "--max-tokens", str(a.max_tokens)]
    if a.vit_act != "quick_gelu":
        command_args += ["--vit-act", a.vit_act]
    manifest = {
        "schemaVersion": 1,
        "name": name,
        "version": a.version,
        "description": desc,
        "architecture": "mmlq",
        "license": {"spdx": a.license, "attribution": attribution},
        "files": {"graph": {"path": "model.onnx", "sha256": sha256(os.path.join(out, "model.onnx"))},
                  "tokenizer": {"path": "tokenizer.json", "sha256": sha256(os.path.join(out, "tokenizer.json"))},
                  "tokenizer_config": {"path": "tokenizer_config.json",
                                       "sha256": sha256(os.path.join(out, "tokenizer_config.json"))}},
        "inputs": {
            "image": {"name": "pixel_values", "height": size, "width": size,
                      "resize": {"mode": "shortest-edge", "size": size}, "crop": "center",
                      "rescale": 0.00392156862745098, "mean": CLIP_MEAN, "std": CLIP_STD},
            "text": {"idsName": "input_ids", "maskName": "attention_mask", "maxTokens": a.max_tokens,
                     "tokenizer": {"type": "huggingface", "file": "tokenizer", "config": "tokenizer_config"}},
        },
        "outputs": {"distribution": {"name": "distribution", "bins": N_BINS, "binValues": list(range(1, N_BINS + 1))}},
        "score": {"min": 1, "max": 10, "direction": "higher-is-better"},
        "calibration": {"reference": f"{n_ref} images of {rel(a.reference_images)} (image-only); percentiles of the "
                                     "mean score" + ("; weights are RANDOM, so this ranks nothing meaningful"
                                                     if rnd else ""),
                        "points": calib["points"]},
        "training": {"exporter": "models/mmlq/mmlq_build/export_paper.py", "seed": SEED, "randomWeights": bool(rnd),
                     "random": info["random"], "weights": info["weights"], "vit": info["vit"], "bert": info["bert"],
                     "mmlq": info["mmlq"], "parameters": n_par, "command": " ".join(command_args)},
    }
    write_manifest(out, manifest)
    model_card(out, manifest, info, checks, n_ref, a, " ".join(command_args))
    print(f"self-check: {json.dumps(checks)}; torch forward batch 1: {torch_ms:.1f} ms")
    print(f"params {n_par / 1e6:.2f} M; ONNX export {t_onnx:.1f} s; wrote {out}: model.onnx "
          f"{os.path.getsize(os.path.join(out, 'model.onnx')) / 1e6:.2f} MB, folder {folder_size(out) / 1e6:.2f} MB "
          f"(total {time.time() - t_start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
