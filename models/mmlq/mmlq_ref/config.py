"""MMLQ configuration: sizes of the default (mmlq-mnv2-synth) and paper-size models, output labels."""
from __future__ import annotations

import dataclasses
from typing import Sequence, Tuple

ATTRIBUTE_LABELS = ("sharpness", "exposure", "contrast", "noise", "compression", "colour", "composition")
N_BINS = 10


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
