"""Paper-size MMLQ (ViT-B/16-like image tokens 768-d, BERT-base-like text tokens 768-d, K=32, L=6)
exported to ONNX on token tensors.

  python3 models/mmlq/export_paper.py --out /tmp/mmlq-paper.onnx [--state-dict trained.pt] [--check]

Inputs: image_tokens float32 [N, Li, 768] (e.g. 197 = CLS + 14x14 patches of a frozen ViT-B/16),
text_tokens float32 [N, T, 768] (last hidden states of a frozen BERT-base), attention_mask int64
[N, T] (all-zero row = image-only).  Outputs: distribution [N, 10], attributes [N, 6].
With no --state-dict the weights are random (a shape / latency reference).  This graph is NOT a
servable folder for the runtime (which feeds pixels and token ids): serving it needs the two frozen
encoders in the same graph, which are not available offline here.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmlq_ref.model import MMLQConfig, MMLQTokenModel  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--state-dict", default=None)
    ap.add_argument("--check", action="store_true", help="time the torch forward and check masking")
    a = ap.parse_args()
    torch.manual_seed(0)
    cfg = MMLQConfig.paper()
    m = MMLQTokenModel(cfg).eval()
    if a.state_dict:
        sd = torch.load(a.state_dict)
        m.load_state_dict(sd.get("state_dict", sd))
    n_par = sum(p.numel() for p in m.parameters())
    img = torch.randn(2, 197, 768)
    txt = torch.randn(2, 32, 768)
    mask = torch.ones(2, 32, dtype=torch.int64)
    mask[1] = 0
    with torch.no_grad():
        d, att = m(img, txt, mask)
        if a.check:
            # image-only row must not depend on the text tokens
            d2, _ = m(img, torch.randn(2, 32, 768), mask)
            assert torch.allclose(d[1], d2[1], atol=1e-6) and not torch.isnan(d).any()
            t = time.time()
            for _ in range(5):
                m(img[:1], txt[:1], mask[:1])
            print(f"torch forward batch 1: {(time.time() - t) / 5 * 1000:.1f} ms")
    torch.onnx.export(m, (img, txt, mask), a.out, opset_version=17,
                      input_names=["image_tokens", "text_tokens", "attention_mask"],
                      output_names=["distribution", "attributes"],
                      dynamic_axes={"image_tokens": {0: "N", 1: "Li"}, "text_tokens": {0: "N", 1: "T"},
                                    "attention_mask": {0: "N", 1: "T"}, "distribution": {0: "N"},
                                    "attributes": {0: "N"}})
    print(f"paper config {cfg.to_dict()}\nparams {n_par / 1e6:.1f} M; wrote {a.out} "
          f"({os.path.getsize(a.out) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
