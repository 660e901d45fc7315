"""Encoder helpers shared by the trainers: tiny / small configs, building encoders from Hugging Face-style
state dicts or at random, saving them in HF layout (what mmlq_build.export_paper and mmlq_train.ava load),
a tokenizer for tiny runs, and the masked / multi-depth forward of ClipVisionEncoder that pretraining uses.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from typing import List, Optional, Tuple

import torch
from torch import nn

from mmlq_build import export_paper
from mmlq_ref.encoders import (BertConfig, BertEncoder, ClipVisionConfig, ClipVisionEncoder, infer_bert_config,
                               infer_vision_config, load_hf_file, load_hf_state_dict, normalise_hf_keys)

REPO = export_paper.REPO
BERT_TINY = os.path.join(REPO, "test", "fixtures", "tokenizers", "bert-tiny")


def exporter_heads(d: int) -> int:
    """The head count mmlq_ref.encoders.infer_*_config gives a d-wide encoder (heads are not stored in
    weights).  Every encoder we train uses it, so the exported graph computes what we trained."""
    return {1280: 16}.get(d, d // 64 if d % 64 == 0 else 1)


def tiny_configs(vocab_size: int) -> Tuple[ClipVisionConfig, BertConfig]:
    """The exporter's --tiny encoder sizes (ViT 64 px / patch 16 / 32-d / 2 layers; BERT 32-d / 2 layers)
    with the head count the exporter infers from a 32-d checkpoint (1, not --tiny's 2)."""
    vit, bert, _ = export_paper.default_configs(True, vocab_size)
    return (dataclasses.replace(vit, num_attention_heads=exporter_heads(vit.hidden_size)),
            dataclasses.replace(bert, num_attention_heads=exporter_heads(bert.hidden_size)))


def small_vit_config(image_size: int = 96, patch: int = 16, d: int = 64, layers: int = 4) -> ClipVisionConfig:
    """The small ViT of the CPU proofs (mmlq_train.compare): 96 px, patch 16 (36 patches), 64-d, 4 layers."""
    return ClipVisionConfig(image_size=image_size, patch_size=patch, hidden_size=d, num_hidden_layers=layers,
                            num_attention_heads=exporter_heads(d), intermediate_size=4 * d)


def load_vision(path: str, act: str = "quick_gelu") -> ClipVisionEncoder:
    """As mmlq_build.export_paper loads it (sizes and heads inferred from the shapes)."""
    sd = normalise_hf_keys(load_hf_file(path), "vision")
    return load_hf_state_dict(ClipVisionEncoder(infer_vision_config(sd, act)), sd, "vision")


def load_bert(path: str) -> BertEncoder:
    sd = normalise_hf_keys(load_hf_file(path), "bert")
    return load_hf_state_dict(BertEncoder(infer_bert_config(sd)), sd, "bert")


def save_vision(vit: ClipVisionEncoder, path: str, meta: Optional[dict] = None) -> None:
    """HF CLIPVisionModel layout (``vision_model.`` prefix) + a sidecar JSON (config and ``meta``: how it was
    made).  Heads are not stored in weights: loaders infer them (exporter_heads), so train with those."""
    if vit.cfg.num_attention_heads != exporter_heads(vit.cfg.hidden_size):
        raise ValueError(f"{vit.cfg.num_attention_heads} heads: a loader would infer "
                         f"{exporter_heads(vit.cfg.hidden_size)} from the {vit.cfg.hidden_size}-d weights")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({f"vision_model.{k}": v.detach().clone().cpu() for k, v in vit.state_dict().items()}, path)
    with open(os.path.splitext(path)[0] + ".json", "w") as f:
        json.dump({"vit": dataclasses.asdict(vit.cfg), **(meta or {})}, f, indent=1)


def save_bert(bert: BertEncoder, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({f"bert.{k}": v.detach().clone().cpu() for k, v in bert.state_dict().items()}, path)


def write_tiny_tokenizer(dst: str, extra_words: List[str]) -> str:
    """The bert-tiny fixture tokenizer plus whole-word entries for ``extra_words`` (tiny runs only: gives
    the tiny random BERT distinct ids for the comment words)."""
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(BERT_TINY, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    vocab = tj["model"]["vocab"]
    for w in sorted(set(extra_words)):
        if w not in vocab:
            vocab[w] = len(vocab)
    with open(os.path.join(dst, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False)
    shutil.copyfile(os.path.join(BERT_TINY, "tokenizer_config.json"), os.path.join(dst, "tokenizer_config.json"))
    return dst


def patchify(px: torch.Tensor, p: int) -> torch.Tensor:
    """[N,3,S,S] -> [N, P, p*p*3] (row-major patches)."""
    n, c, s, _ = px.shape
    g = s // p
    x = px.reshape(n, c, g, p, g, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(n, g * g, p * p * c)


def forward_tokens(vit: ClipVisionEncoder, px: torch.Tensor, mask: Optional[torch.Tensor] = None,
                   mask_token: Optional[torch.Tensor] = None, taps: Tuple[int, ...] = ()) -> Tuple[torch.Tensor, List[torch.Tensor]]:
    """ClipVisionEncoder's forward (same modules, same result when ``mask`` is None) with SimMIM-style
    masking: patch embeddings where ``mask`` [N,P] is True are replaced by ``mask_token`` [D] before the
    positions are added.  Returns (post_layernorm tokens [N,1+P,D], hidden states after the layers in
    ``taps`` (0-based), each post_layernorm'd)."""
    e = vit.embeddings
    n = px.shape[0]
    p = e.patch_embedding(px).flatten(2).transpose(1, 2)
    if mask is not None:
        m = mask.unsqueeze(-1).to(p.dtype)
        p = p * (1 - m) + mask_token.view(1, 1, -1) * m
    cls = e.class_embedding.view(1, 1, -1).expand(n, 1, -1)
    x = torch.cat([cls, p], dim=1) + e.position_embedding.weight.unsqueeze(0)
    x = vit.pre_layrnorm(x)
    hs = []
    for i, layer in enumerate(vit.encoder.layers):
        x = layer(x)
        if i in taps:
            hs.append(vit.post_layernorm(x))
    return vit.post_layernorm(x), hs


def freeze(m: nn.Module) -> nn.Module:
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m
