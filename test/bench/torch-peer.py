"""The peer for test/bench/run.ts: the default model's architecture in PyTorch eager (Debian torch, CPU).

The same modules the ONNX graph was exported from (models/mmlq/mmlq_ref: the nsfwjs MobileNetV2-1.4 port,
the frozen token features and the MMLQ head), with the backbone's real weights and an untrained head of
the shipped configuration: latency does not depend on the head's values. Times forward passes on a
fixed batch at 448 px (image-only), one warm-up pass first; prints one JSON line.

    PYTHONPATH=models/mmlq /usr/bin/python3 test/bench/torch-peer.py --batches 1,8,32 --rounds 3 --threads 2
"""
import argparse
import json
import os
import time

import torch

from mmlq_build.features import make_encoder
from mmlq_ref import MMLQConfig, MMLQHead, MMLQModel


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--vocab", default="models/mmlq-mnv2-synth/vocab.txt")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--memory-format", choices=["channels_last", "contiguous"], default="channels_last",
                    help="the backbone's layout (channels_last: what models/mmlq uses for its own torch runs)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    enc = make_encoder()
    with open(a.vocab, encoding="utf8") as f:
        vocab_size = sum(1 for _ in f)
    model = MMLQModel(enc, MMLQHead(MMLQConfig.default(enc.group_dims()), vocab_size)).eval()
    fmt = torch.channels_last if a.memory_format == "channels_last" else torch.contiguous_format
    model.encoder.backbone.to(memory_format=fmt)
    load_s = time.perf_counter() - t0
    gen = torch.Generator().manual_seed(0)
    rows = []
    with torch.inference_mode():
        for b in [int(x) for x in a.batches.split(",")]:
            px = torch.rand(b, 3, 448, 448, generator=gen).contiguous(memory_format=fmt)
            ids = torch.zeros(b, a.max_tokens, dtype=torch.int64)
            mask = torch.zeros(b, a.max_tokens, dtype=torch.int64)
            model(px, ids, mask)
            times, cpu = [], []
            for _ in range(a.rounds):
                t, c = time.perf_counter(), time.process_time()
                model(px, ids, mask)
                times.append((time.perf_counter() - t) * 1000 / b)
                cpu.append((time.process_time() - c) * 1000 / b)
            times.sort()
            cpu.sort()
            rows.append({"batch": b, "msPerImage": times[len(times) // 2], "cpuMsPerImage": cpu[len(cpu) // 2],
                         "all": times})
    print(json.dumps({"torch": torch.__version__, "threads": a.threads, "memoryFormat": a.memory_format,
                      "loadS": load_s, "rows": rows}))


if __name__ == "__main__":
    main()
