"""Attach the int8-backbone graph (npm run model:int8) to a built model folder as the opt-in variant `int8`.

  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_build.attach_int8 --out models/mmlq-mnv2-synth \
      --int8 models/.cache/mmlq-build/int8

Only when the int8 graph passes every validation gate of the build (validate.GATES on its own held-out
scores); the fp32 graph stays `files.graph`, the default. Writes <out>/model.int8.onnx,
files["graph-int8"], variants.int8 (its own calibration: percentiles of its held-out scores, as the
fp32 graph's), validation.int8.json, and the comparison (int8/report.md) as a section of MODEL_CARD.md.
Served as `<name>+int8` (docs/MODEL_FORMAT.md, "Graph variants").
"""
from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np

from mmlq_ref.folder import percentile_points, sha256, write_manifest

CARD_HEADING = "## The int8 variant"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="the built model folder")
    ap.add_argument("--int8", required=True, help="what npm run model:int8 wrote")
    a = ap.parse_args()
    val = json.load(open(os.path.join(a.int8, "int8.json")))
    failed = [f"{g['name']} = {g['value']} (target {g['target']})" for g in val["gates"] if not g["pass"]]
    if failed:
        raise SystemExit("int8 graph not attached, validation gates failed: " + "; ".join(failed))
    with open(os.path.join(a.out, "manifest.json")) as f:
        manifest = json.load(f)
    shutil.copyfile(os.path.join(a.int8, "model.int8.onnx"), os.path.join(a.out, "model.int8.onnx"))
    shutil.copyfile(os.path.join(a.int8, "int8.json"), os.path.join(a.out, "validation.int8.json"))
    scores = np.load(os.path.join(a.int8, "int8.npz"))["scores"]
    manifest["files"]["graph-int8"] = {"path": "model.int8.onnx", "sha256": sha256(os.path.join(a.out, "model.int8.onnx"))}
    manifest["variants"] = {"int8": {
        "graph": "graph-int8",
        "description": "the frozen backbone in int8 (static QDQ, calibrated on training views): faster on CPU, "
                       "held-out figures beside fp32 in MODEL_CARD.md",
        "calibration": {"reference": manifest["calibration"]["reference"] + " Scored by the int8 graph.",
                        "points": percentile_points(scores)}}}
    write_manifest(a.out, manifest)
    card = os.path.join(a.out, "MODEL_CARD.md")
    text = open(card).read() if os.path.exists(card) else ""
    if CARD_HEADING in text:
        text = text[:text.index(CARD_HEADING)].rstrip() + "\n"
    report = open(os.path.join(a.int8, "report.md")).read().strip()
    text += (f"\n{CARD_HEADING}\n\nServed as `{manifest['name']}+int8` (opt-in; the default stays the fp32 graph). "
             "Made by `npm run model:int8` (models/mmlq/mmlq_build/quantize.py) and judged by the same held-out "
             "figures (image-only: the text section needs the torch head):\n\n" + report + "\n")
    with open(card, "w") as f:
        f.write(text)
    print(f"attached {a.out}/model.int8.onnx as variant int8")


if __name__ == "__main__":
    main()
