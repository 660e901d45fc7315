"""Frozen encoders of the paper-size MMLQ: a CLIP-style ViT image encoder and a BERT text encoder.

Both modules are written to Hugging Face ``transformers``' parameter-name layout and forward
equations, so that a state dict saved from ``CLIPVisionModel`` / ``CLIPModel`` (ViT) or ``BertModel`` /
``BertFor*`` (BERT) loads with ``load_hf_state_dict`` (strict) and gives the same hidden states:

* ``ClipVisionEncoder``: keys of ``CLIPVisionModel`` minus the leading ``vision_model.``.
  Conv patch embedding (no bias) + class embedding + learned positions -> ``pre_layrnorm`` ->
  pre-LN blocks (LN1 -> MHA (q scaled by head_dim**-0.5) -> residual; LN2 -> fc1 -> act -> fc2 ->
  residual) -> ``post_layernorm``.  ``act`` is ``quick_gelu`` (x * sigmoid(1.702 x), OpenAI CLIP) or
  ``gelu`` (erf).
* ``BertEncoder``: keys of ``BertModel`` (without pooler).  word + position + token-type (always type 0:
  a single segment) embeddings -> LayerNorm -> post-LN blocks (MHA with the additive mask
  ``(1 - mask) * finfo(float32).min`` as HF does -> dense -> LN(x + h); dense -> gelu (erf) -> dense ->
  LN(x + h)).  A row whose mask is all zero stays finite (every score gets the same large negative
  offset; the softmax is then uniform): MMLQCore gates the text cross-attention off for such rows.

What is ours: ``ClipVisionEncoder`` returns ALL tokens (CLS + patches) with ``post_layernorm`` applied to
every token, [N, 1 + P, D].  HF's ``last_hidden_state`` is the pre-``post_layernorm`` sequence and HF
applies ``post_layernorm`` only to the pooled CLS token; we normalise every token so the MMLQ image
tokens are on one scale.  ``BertEncoder`` returns the last hidden states [N, T, D] (no pooler).

NOT numerically checked against ``transformers`` here: the package cannot be installed offline in this
environment.  The key layout and the equations follow transformers' modeling_clip.py /
modeling_bert.py (eager attention, eval mode); check once with transformers before trusting a port
of real weights (compare ``last_hidden_state`` on one image / sentence).
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Dict, List

import torch
import torch.nn.functional as F
from torch import nn


def _act(name: str):
    if name == "quick_gelu":
        return lambda x: x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return F.gelu
    raise ValueError(f"unknown activation {name!r} (quick_gelu or gelu)")


# ------------------------------------------------------------------------------------------------
# CLIP vision transformer
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class ClipVisionConfig:
    image_size: int = 224
    patch_size: int = 16
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class ClipAttention(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        d = cfg.hidden_size
        self.h = cfg.num_attention_heads
        self.dh = d // self.h
        if self.dh * self.h != d:
            raise ValueError(f"hidden_size {d} is not divisible by num_attention_heads {self.h}")
        self.scale = self.dh ** -0.5
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.q_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, l, d = x.shape
        q = (self.q_proj(x) * self.scale).view(n, l, self.h, self.dh).transpose(1, 2)
        k = self.k_proj(x).view(n, l, self.h, self.dh).transpose(1, 2)
        v = self.v_proj(x).view(n, l, self.h, self.dh).transpose(1, 2)
        a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)), dim=-1)
        y = torch.matmul(a, v).transpose(1, 2).reshape(n, l, d)
        return self.out_proj(y)


class ClipMLP(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        self.act = _act(cfg.hidden_act)
        self.fc1 = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.fc2 = nn.Linear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class ClipEncoderLayer(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        self.self_attn = ClipAttention(cfg)
        self.layer_norm1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.mlp = ClipMLP(cfg)
        self.layer_norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class ClipEncoder(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        self.layers = nn.ModuleList([ClipEncoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class ClipVisionEmbeddings(nn.Module):
    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        d = cfg.hidden_size
        self.class_embedding = nn.Parameter(torch.randn(d))
        self.patch_embedding = nn.Conv2d(3, d, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.position_embedding = nn.Embedding(cfg.num_patches + 1, d)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        n = pixel_values.shape[0]
        p = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)   # [N, P, D]
        cls = self.class_embedding.view(1, 1, -1).expand(n, 1, -1)
        return torch.cat([cls, p], dim=1) + self.position_embedding.weight.unsqueeze(0)


class ClipVisionEncoder(nn.Module):
    """pixel_values [N,3,S,S] (CLIP-normalised) -> tokens [N, 1+P, D], post_layernorm on every token."""

    def __init__(self, cfg: ClipVisionConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = ClipVisionEmbeddings(cfg)
        self.pre_layrnorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)  # sic (HF spelling)
        self.encoder = ClipEncoder(cfg)
        self.post_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def init_random_(self, std: float = 0.02) -> "ClipVisionEncoder":
        """HF-like random init (normal(0, std) weights, zero biases, unit LayerNorms)."""
        _init_like_hf(self, std)
        with torch.no_grad():
            self.embeddings.class_embedding.normal_(0.0, std)
        return self

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        s = self.cfg.image_size
        if not torch.jit.is_tracing() and (pixel_values.shape[-1] != s or pixel_values.shape[-2] != s):
            raise ValueError(f"expected pixel_values [N,3,{s},{s}], got {list(pixel_values.shape)}")
        x = self.pre_layrnorm(self.embeddings(pixel_values))
        return self.post_layernorm(self.encoder(x))


# ------------------------------------------------------------------------------------------------
# BERT
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class BertEmbeddings(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        d = cfg.hidden_size
        self.word_embeddings = nn.Embedding(cfg.vocab_size, d)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, d)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, d)
        self.LayerNorm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        e = (self.word_embeddings(input_ids) + self.position_embeddings.weight[:t].unsqueeze(0)
             + self.token_type_embeddings.weight[0])  # single segment: token_type_ids all zero
        return self.LayerNorm(e)


class BertSelfAttention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        d = cfg.hidden_size
        self.h = cfg.num_attention_heads
        self.dh = d // self.h
        if self.dh * self.h != d:
            raise ValueError(f"hidden_size {d} is not divisible by num_attention_heads {self.h}")
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, add_mask: torch.Tensor) -> torch.Tensor:
        n, l, d = x.shape
        q = self.query(x).view(n, l, self.h, self.dh).transpose(1, 2)
        k = self.key(x).view(n, l, self.h, self.dh).transpose(1, 2)
        v = self.value(x).view(n, l, self.h, self.dh).transpose(1, 2)
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh) + add_mask
        a = torch.softmax(s, dim=-1)
        return torch.matmul(a, v).transpose(1, 2).reshape(n, l, d)


class BertAddNorm(nn.Module):
    """HF's BertSelfOutput / BertOutput: LayerNorm(dense(h) + x) (post-LN); same parameter names."""

    def __init__(self, cfg: BertConfig, in_features: int):
        super().__init__()
        self.dense = nn.Linear(in_features, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, h, x):
        return self.LayerNorm(self.dense(h) + x)


class BertAttention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertAddNorm(cfg, cfg.hidden_size)

    def forward(self, x, add_mask):
        return self.output(self.self(x, add_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.act = _act(cfg.hidden_act)

    def forward(self, x):
        return self.act(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertAddNorm(cfg, cfg.intermediate_size)

    def forward(self, x, add_mask):
        a = self.attention(x, add_mask)
        return self.output(self.intermediate(a), a)


class BertStack(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(cfg) for _ in range(cfg.num_hidden_layers)])

    def forward(self, x, add_mask):
        for layer in self.layer:
            x = layer(x, add_mask)
        return x


class BertEncoder(nn.Module):
    """input_ids [N,T] int64, attention_mask [N,T] (1 = token, 0 = padding) -> last hidden states [N,T,D]."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertStack(cfg)

    def init_random_(self, std: float = 0.02) -> "BertEncoder":
        _init_like_hf(self, std)
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # HF extended attention mask: 0 for tokens, finfo(float32).min for padding (never -inf: an
        # all-padding row stays finite)
        m = attention_mask.to(torch.float32)
        add_mask = ((1.0 - m) * torch.finfo(torch.float32).min)[:, None, None, :]
        return self.encoder(self.embeddings(input_ids), add_mask)


def _init_like_hf(module: nn.Module, std: float) -> None:
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.normal_(0.0, std)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Embedding):
                m.weight.normal_(0.0, std)
            elif isinstance(m, nn.LayerNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()


# ------------------------------------------------------------------------------------------------
# Loading Hugging Face state dicts
# ------------------------------------------------------------------------------------------------
_PREFIXES = {"vision": ("vision_model.",), "bert": ("bert.",)}
_DROP = {
    "vision": (r"^embeddings\.position_ids$", r"^visual_projection\.", r"^text_model\.", r"^text_projection\.",
               r"^logit_scale$", r"^pooler\."),
    "bert": (r"^embeddings\.position_ids$", r"^embeddings\.token_type_ids$", r"^pooler\.", r"^cls\.",
             r"^classifier\.", r"^qa_outputs\."),
}


def normalise_hf_keys(sd: Dict[str, torch.Tensor], kind: str) -> Dict[str, torch.Tensor]:
    """Strip known prefixes, drop unused keys and map old LayerNorm gamma/beta names (kind: vision|bert)."""
    if kind not in _PREFIXES:
        raise ValueError(f"kind must be 'vision' or 'bert', got {kind!r}")
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    prefixes = _PREFIXES[kind]
    # strip a prefix only when the key carries it (CLIPModel: vision_model.*; BertFor*: bert.*)
    out: Dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        for p in prefixes:
            if k.startswith(p):
                k = k[len(p):]
                break
        if any(re.search(rx, k) for rx in _DROP[kind]):
            continue
        k = re.sub(r"\.gamma$", ".weight", k)
        k = re.sub(r"\.beta$", ".bias", k)
        out[k] = v
    return out


def infer_vision_config(sd: Dict[str, torch.Tensor], hidden_act: str = "quick_gelu") -> ClipVisionConfig:
    """ClipVisionConfig from the shapes of a (normalised) CLIP vision state dict."""
    try:
        w = sd["embeddings.patch_embedding.weight"]             # [D, 3, p, p]
        n_pos = sd["embeddings.position_embedding.weight"].shape[0]
        inter = sd["encoder.layers.0.mlp.fc1.weight"].shape[0]
    except KeyError as e:
        raise ValueError(f"not a CLIP vision state dict: missing {e}") from None
    d, p = int(w.shape[0]), int(w.shape[-1])
    side = math.isqrt(n_pos - 1)
    if side * side != n_pos - 1:
        raise ValueError(f"position_embedding has {n_pos} rows: not 1 + a square number of patches")
    layers = 1 + max(int(m.group(1)) for k in sd for m in [re.match(r"encoder\.layers\.(\d+)\.", k)] if m)
    # not stored in the weights: CLIP ViTs use 64-d heads except ViT-H/14 (1280-d, 16 heads)
    heads = {1280: 16}.get(d, d // 64 if d % 64 == 0 else 1)
    return ClipVisionConfig(image_size=side * p, patch_size=p, hidden_size=d, num_hidden_layers=layers,
                            num_attention_heads=heads, intermediate_size=int(inter), hidden_act=hidden_act)


def infer_bert_config(sd: Dict[str, torch.Tensor]) -> BertConfig:
    """BertConfig from the shapes of a (normalised) BERT state dict."""
    try:
        we = sd["embeddings.word_embeddings.weight"]
        pos = sd["embeddings.position_embeddings.weight"].shape[0]
        tt = sd["embeddings.token_type_embeddings.weight"].shape[0]
        inter = sd["encoder.layer.0.intermediate.dense.weight"].shape[0]
    except KeyError as e:
        raise ValueError(f"not a BERT state dict: missing {e}") from None
    d = int(we.shape[1])
    layers = 1 + max(int(m.group(1)) for k in sd for m in [re.match(r"encoder\.layer\.(\d+)\.", k)] if m)
    heads = d // 64 if d % 64 == 0 else 1  # not stored in weights: BERT uses 64-d heads
    return BertConfig(vocab_size=int(we.shape[0]), hidden_size=d, num_hidden_layers=layers,
                      num_attention_heads=heads, intermediate_size=int(inter), max_position_embeddings=int(pos),
                      type_vocab_size=int(tt))


def load_hf_state_dict(module: nn.Module, sd: Dict[str, torch.Tensor], kind: str) -> nn.Module:
    """Load a Hugging Face state dict into ClipVisionEncoder (kind "vision") or BertEncoder ("bert"),
    strictly; raises ValueError listing the first 10 missing / unexpected keys on mismatch."""
    sd = normalise_hf_keys(sd, kind)
    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shape = [f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
             for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first 10: {missing[:10]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first 10: {unexpected[:10]})")
        if shape:
            parts.append(f"{len(shape)} with another shape (first 10: {shape[:10]})")
        raise ValueError(f"{kind} state dict does not match {type(module).__name__}: " + "; ".join(parts))
    module.load_state_dict({k: v.to(torch.float32) for k, v in sd.items()}, strict=True)
    return module


def load_hf_file(path: str) -> Dict[str, torch.Tensor]:
    """torch.load a pytorch_model.bin / .pt on CPU."""
    sd = torch.load(path, map_location="cpu")
    if not isinstance(sd, dict):
        raise ValueError(f"{path}: expected a state dict (a dict of tensors), got {type(sd).__name__}")
    return sd


def param_names(module: nn.Module) -> List[str]:
    return list(module.state_dict().keys())


__all__ = ["ClipVisionConfig", "ClipVisionEncoder", "BertConfig", "BertEncoder", "load_hf_state_dict",
           "normalise_hf_keys", "infer_vision_config", "infer_bert_config", "load_hf_file"]
