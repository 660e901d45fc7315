"""Parity check: PyTorch port of the nsfwjs MobileNetV2-1.4 backbone vs tfjs, and ONNX Runtime vs PyTorch.

1. For every image in each ``--ref DIR`` (written by ``models/mmlq/tools/tfjs_reference.ts``) feed the exact tfjs input
   tensor to ``mmlq_ref.mobilenet_tfjs.MobileNetV2Features`` and print the max abs diff per output
   (stride4/8/16/32, final, and the 5-class nsfwjs probabilities when the reference has them).
   Exit status 1 if any ``final`` diff exceeds ``--tol`` (default 1e-3).
2. Export the module to ONNX (opset 17, dynamic batch/H/W) in a temp dir (or ``--onnx-out``), run it in
   onnxruntime-node (inline Node script; onnxruntime for Python is not installed here) on the reference
   inputs and on random 448x448 inputs, and print max abs diff ORT vs torch (fails above ``--ort-tol``).
3. ``--bench``: per-image latency (batch 1) of torch and ORT at ``--bench-sizes``.

Run with Debian's python (torch 1.13, onnx 1.12), from the repository root:
    PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_build.check_backbone_parity --ref /tmp/ref224 [--ref /tmp/ref448] [--bench]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

import numpy as np
import torch

from mmlq_ref.mobilenet_tfjs import (
    OUTPUT_KEYS,
    load_nsfwjs_head,
    load_nsfwjs_mobilenet_v2_mid,
)

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))

ORT_SCRIPT = r"""
const fs = require('fs');
const { createRequire } = require('module');
const [repoRoot, jobFile] = process.argv.slice(2);
const ort = createRequire(repoRoot + '/package.json')('onnxruntime-node');
(async () => {
  const job = JSON.parse(fs.readFileSync(jobFile, 'utf8'));
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
  if (job.threads > 0) opts.intraOpNumThreads = job.threads;
  const session = await ort.InferenceSession.create(job.model, opts);
  const result = { ort_version: ort.env.versions.common, outputs: session.outputNames, runs: [] };
  for (const inp of job.inputs) {
    const buf = fs.readFileSync(inp.file);
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, inp.shape) };
    let out = await session.run(feeds);
    const times = [];
    for (let i = 0; i < (inp.iters || 0); i++) {
      const t0 = process.hrtime.bigint();
      out = await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const files = {};
    if (inp.save) {
      for (const name of session.outputNames) {
        const t = out[name];
        const f = inp.file + '.ort.' + name + '.f32';
        fs.writeFileSync(f, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
        files[name] = { file: f, shape: t.dims };
      }
    }
    result.runs.push({ file: inp.file, files, times_ms: times });
  }
  process.stdout.write(JSON.stringify(result));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def load_f32(path: str, shape) -> np.ndarray:
    return np.fromfile(path, dtype="<f4").reshape([int(s) for s in shape])


def export_onnx(model: torch.nn.Module, path: str) -> None:
    import onnx

    dyn = {"input": {0: "batch", 2: "height", 3: "width"}}
    for k in OUTPUT_KEYS:
        dyn[k] = {0: "batch", 2: f"{k}_h", 3: f"{k}_w"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.rand(1, 3, 224, 224),),
            path,
            input_names=["input"],
            output_names=list(OUTPUT_KEYS),
            dynamic_axes=dyn,
            opset_version=17,
            do_constant_folding=True,
        )
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops: Dict[str, int] = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    print(f"onnx: exported {path} ({os.path.getsize(path) / 1e6:.1f} MB), ops {dict(sorted(ops.items()))}")


def run_ort(model_path: str, inputs: List[Dict], workdir: str, threads: int) -> Dict:
    script = os.path.join(workdir, "ort_run.cjs")
    with open(script, "w") as f:
        f.write(ORT_SCRIPT)
    job = os.path.join(workdir, "ort_job.json")
    with open(job, "w") as f:
        json.dump({"model": model_path, "inputs": inputs, "threads": threads}, f)
    p = subprocess.run(["node", script, REPO_ROOT, job], capture_output=True, text=True, cwd=REPO_ROOT)
    if p.returncode != 0:
        raise RuntimeError(f"onnxruntime-node failed:\n{p.stderr}")
    return json.loads(p.stdout)


def torch_outputs(model, x: np.ndarray) -> Dict[str, np.ndarray]:
    with torch.no_grad():
        o = model(torch.from_numpy(np.ascontiguousarray(x)))
    return {k: v.numpy() for k, v in o.items()}


def check_tfjs(model, head, ref_dirs: List[str], tol: float) -> Tuple[bool, List[Tuple[str, np.ndarray]]]:
    ok = True
    inputs: List[Tuple[str, np.ndarray]] = []
    worst: Dict[str, float] = {}
    for d in ref_dirs:
        with open(os.path.join(d, "index.json")) as f:
            idx = json.load(f)
        print(f"\n== tfjs ({idx['backend']}, tfjs {idx['tfjs_version']}, {idx['size']}x{idx['size']}) vs torch: {d}")
        for e in idx["images"]:
            x = load_f32(os.path.join(d, e["input"]["file"]), e["input"]["shape"])
            inputs.append((f"{os.path.basename(e['image'])}@{idx['size']}", x))
            out = torch_outputs(model, x)
            if "probs" in e["outputs"]:
                with torch.no_grad():
                    out["probs"] = head(torch.from_numpy(out["final"])).numpy()
            parts = []
            for k, spec in e["outputs"].items():
                ref = load_f32(os.path.join(d, spec["file"]), spec["shape"])
                if ref.shape != out[k].shape:
                    print(f"  {k}: SHAPE MISMATCH tfjs {ref.shape} torch {out[k].shape}")
                    ok = False
                    continue
                diff = float(np.abs(ref - out[k]).max())
                worst[k] = max(worst.get(k, 0.0), diff)
                parts.append(f"{k}={diff:.2e}")
                if k == "final" and not diff <= tol:
                    ok = False
            print(f"  {os.path.basename(e['image'])}: " + "  ".join(parts))
    if worst:
        print("  max over all images: " + "  ".join(f"{k}={v:.2e}" for k, v in worst.items()))
    print(f"  tfjs parity on 'final' (tol {tol:g}): {'PASS' if ok else 'FAIL'}")
    return ok, inputs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", action="append", default=[], help="tfjs_reference.ts output dir (repeatable)")
    ap.add_argument("--tol", type=float, default=1e-3, help="max abs diff allowed on 'final' (tfjs vs torch)")
    ap.add_argument("--ort-tol", type=float, default=1e-3, help="max abs diff allowed ORT vs torch")
    ap.add_argument("--package-dir", default=os.path.join(REPO_ROOT, "node_modules", "nsfwjs"))
    ap.add_argument("--skip-onnx", action="store_true")
    ap.add_argument("--onnx-out", default=None, help="keep the exported model here")
    ap.add_argument("--bench", action="store_true", help="time torch and ORT per image")
    ap.add_argument("--bench-sizes", default="224,448")
    ap.add_argument("--bench-iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if not args.ref and args.skip_onnx and not args.bench:
        ap.error("nothing to do")

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = load_nsfwjs_mobilenet_v2_mid(args.package_dir)
    head = load_nsfwjs_head(args.package_dir)
    print(f"loaded nsfwjs MobileNetV2-1.4 in {time.perf_counter() - t0:.2f}s; out channels {dict(model.out_channels)}")

    ok, ref_inputs = check_tfjs(model, head, args.ref, args.tol) if args.ref else (True, [])

    rng = np.random.default_rng(0)
    sizes = [int(s) for s in args.bench_sizes.split(",") if s]
    if args.skip_onnx:
        return 0 if ok else 1

    with tempfile.TemporaryDirectory(prefix="mnv2_parity_") as tmp:
        onnx_path = args.onnx_out or os.path.join(tmp, "mobilenet_v2_mid_features.onnx")
        export_onnx(model, onnx_path)
        cases: List[Tuple[str, np.ndarray]] = list(ref_inputs)
        cases.append(("random@448", rng.random((1, 3, 448, 448), dtype=np.float32)))
        cases.append(("random@320x480", rng.random((1, 3, 320, 480), dtype=np.float32)))
        jobs = []
        for i, (_, x) in enumerate(cases):
            f = os.path.join(tmp, f"in{i}.f32")
            x.astype("<f4").tofile(f)
            jobs.append({"file": f, "shape": list(x.shape), "save": True, "iters": 0})
        res = run_ort(onnx_path, jobs, tmp, args.threads)
        print(f"\n== onnxruntime-node {res['ort_version']} vs torch {torch.__version__} (opset 17, dynamic H/W)")
        ort_ok = True
        worst: Dict[str, float] = {}
        for (name, x), run in zip(cases, res["runs"]):
            ref = torch_outputs(model, x)
            parts = []
            for k in OUTPUT_KEYS:
                o = load_f32(run["files"][k]["file"], run["files"][k]["shape"])
                if o.shape != ref[k].shape:
                    parts.append(f"{k}=SHAPE {o.shape} vs {ref[k].shape}")
                    ort_ok = False
                    continue
                diff = float(np.abs(o - ref[k]).max())
                worst[k] = max(worst.get(k, 0.0), diff)
                parts.append(f"{k}={diff:.2e}")
                if not diff <= args.ort_tol:
                    ort_ok = False
            print(f"  {name}: " + "  ".join(parts))
        print("  max over all inputs: " + "  ".join(f"{k}={v:.2e}" for k, v in worst.items()))
        print(f"  ORT parity (tol {args.ort_tol:g}): {'PASS' if ort_ok else 'FAIL'}")
        ok = ok and ort_ok

        if args.bench:
            print(f"\n== latency, batch 1, {args.threads} threads, median of {args.bench_iters} (after 1 warm-up)")
            jobs = []
            for s in sizes:
                f = os.path.join(tmp, f"bench{s}.f32")
                rng.random((1, 3, s, s), dtype=np.float32).tofile(f)
                jobs.append({"file": f, "shape": [1, 3, s, s], "save": False, "iters": args.bench_iters})
            res = run_ort(onnx_path, jobs, tmp, args.threads)
            for s, run in zip(sizes, res["runs"]):
                x = torch.rand(1, 3, s, s)
                with torch.no_grad():
                    model(x)
                    ts = []
                    for _ in range(args.bench_iters):
                        t = time.perf_counter()
                        model(x)
                        ts.append((time.perf_counter() - t) * 1e3)
                tr = run["times_ms"]
                print(
                    f"  {s}x{s}: torch median {np.median(ts):7.1f} ms (min {min(ts):6.1f})   "
                    f"onnxruntime-node median {np.median(tr):7.1f} ms (min {min(tr):6.1f})"
                )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
