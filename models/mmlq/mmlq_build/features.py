"""Frozen-feature cache: PCA of the backbone ``final`` tokens, the cache encoder (ONNX) and loaders.

  python3 -m mmlq_build.features pca    --data DIR [--n 320]   -> DIR/pca.pt
  python3 -m mmlq_build.features export --data DIR             -> DIR/cache_encoder.onnx
  node    models/mmlq/tools/extract_features.mjs DIR/cache_encoder.onnx DIR/train   (-> DIR/train/feats.f32)

The frozen encoder is run by onnxruntime (2-3x faster than PyTorch on CPU here); its output is the
concatenation of the flattened token groups, which ``load_groups`` splits again (stored as fp16).
"""
from __future__ import annotations

import argparse
import json
import os
from collections import OrderedDict

import numpy as np
import torch

from mmlq_ref import FrozenImageEncoder
from mmlq_ref.mobilenet_tfjs import load_nsfwjs_mobilenet_v2_mid

S = 448


def read_views(d: str) -> np.ndarray:
    v = np.memmap(os.path.join(d, "views.u8"), dtype=np.uint8, mode="r")
    return v.reshape(-1, S, S, 3)


def to_tensor(u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(u8)).permute(0, 3, 1, 2).float() / 255.0


def make_encoder(data_dir: str | None = None) -> FrozenImageEncoder:
    enc = FrozenImageEncoder(load_nsfwjs_mobilenet_v2_mid()).eval()
    if data_dir is not None:
        p = torch.load(os.path.join(data_dir, "pca.pt"))
        enc.set_pca(p["mean"], p["proj"])
    return enc


def fit_pca(data_dir: str, n: int = 320, dim: int = 256, seed: int = 0) -> None:
    torch.set_num_threads(os.cpu_count() or 2)
    views = read_views(os.path.join(data_dir, "train"))
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(views), size=min(n, len(views)), replace=False))
    bb = load_nsfwjs_mobilenet_v2_mid().to(memory_format=torch.channels_last)
    c = bb.out_channels["final"]
    s1 = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, c, dtype=torch.float64)
    cnt = 0
    with torch.no_grad():
        for i in range(0, len(idx), 8):
            x = to_tensor(views[idx[i:i + 8]]).contiguous(memory_format=torch.channels_last)
            f = bb(x)["final"].flatten(2).transpose(1, 2).reshape(-1, c).double()
            s1 += f.sum(0)
            s2 += f.t() @ f
            cnt += f.shape[0]
    mean = s1 / cnt
    cov = s2 / cnt - torch.outer(mean, mean)
    evals, evecs = torch.linalg.eigh(cov)
    order = torch.argsort(evals, descending=True)[:dim]
    proj = evecs[:, order].t().contiguous()  # [dim, C]
    # stored as float16 values (the exported graph keeps them as float16): features match the export
    mean, proj = mean.float().half().double(), proj.float().half().double()
    expl = float(evals[order].sum() / evals.sum())
    torch.save({"mean": mean.float(), "proj": proj.float(), "explained": expl, "n_tokens": cnt},
               os.path.join(data_dir, "pca.pt"))
    print(f"PCA {c}->{dim}: explained variance {expl:.3f} over {cnt} tokens")


class CacheEncoder(torch.nn.Module):
    def __init__(self, enc: FrozenImageEncoder):
        super().__init__()
        self.enc = enc

    def forward(self, x):
        g = self.enc(x)
        return torch.cat([v.flatten(1) for k, v in g.items() if not k.startswith("_")], dim=1)


def group_layout(enc: FrozenImageEncoder, size: int = S) -> "OrderedDict[str, tuple]":
    with torch.no_grad():
        g = enc(torch.zeros(1, 3, size, size))
    return OrderedDict((k, tuple(v.shape[1:])) for k, v in g.items() if not k.startswith("_"))


def export_cache_encoder(data_dir: str) -> None:
    enc = make_encoder(data_dir)
    lay = group_layout(enc)
    m = CacheEncoder(enc).eval()
    path = os.path.join(data_dir, "cache_encoder.onnx")
    torch.onnx.export(m, (torch.rand(2, 3, S, S),), path, opset_version=17, input_names=["pixel_values"],
                      output_names=["feats"], dynamic_axes={"pixel_values": {0: "N"}, "feats": {0: "N"}})
    with open(os.path.join(data_dir, "layout.json"), "w") as f:
        json.dump({k: list(v) for k, v in lay.items()}, f)
    print("wrote", path, {k: v for k, v in lay.items()})


def load_groups(data_dir: str, split: str) -> "OrderedDict[str, np.ndarray]":
    """feats.f32 -> {group: fp16 array [N, tokens, dim]} (cached as feats.npz)."""
    d = os.path.join(data_dir, split)
    npz = os.path.join(d, "feats_f16.npz")
    lay = json.load(open(os.path.join(data_dir, "layout.json")))
    if os.path.exists(npz) and os.path.getmtime(npz) > os.path.getmtime(os.path.join(d, "feats.f32")):
        z = np.load(npz)
        return OrderedDict((k, z[k]) for k in lay)
    F = sum(int(np.prod(v)) for v in lay.values())
    raw = np.memmap(os.path.join(d, "feats.f32"), dtype=np.float32, mode="r").reshape(-1, F)
    out = OrderedDict()
    off = 0
    for k, shp in lay.items():
        n = int(np.prod(shp))
        a = np.empty((raw.shape[0],) + tuple(shp), np.float16)
        for i in range(0, raw.shape[0], 512):
            a[i:i + 512] = raw[i:i + 512, off:off + n].reshape((-1,) + tuple(shp))
        out[k] = a
        off += n
    np.savez(npz, **out)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["pca", "export"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--n", type=int, default=320)
    a = ap.parse_args()
    if a.cmd == "pca":
        fit_pca(a.data, a.n)
    else:
        export_cache_encoder(a.data)


if __name__ == "__main__":
    main()
