"""Attach a cheaper graph of a built model folder as an opt-in variant: the int8-backbone graph (npm run
model:int8) as `int8`, or with `--variant lowres` the lowres-backbone graph (npm run model:lowres) as `lowres`.

  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_build.attach_variant --out models/mmlq-mnv2-synth \
      --made models/.cache/mmlq-build/int8 --data models/.cache/mmlq-build/data
  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_build.attach_variant --variant lowres --out models/mmlq-mnv2-synth \
      --made models/.cache/mmlq-build/lowres --data models/.cache/mmlq-build/data

Only when the int8 graph keeps ordered >= 0.95, mild >= 0.90 and every validation gate the fp32 graph
passes (quantize.variant_failures, on each graph's own held-out scores); the fp32 graph stays
`files.graph`, the default. Writes <out>/model.int8.onnx,
files["graph-int8"], variants.int8 (its own calibration, rank-matched to the fp32 graph's), validation.int8.json, and the comparison (int8/report.md) as a section of MODEL_CARD.md.
Served as `<name>+int8` (docs/MODEL_FORMAT.md, "Graph variants").
"""
from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np

from mmlq_build.quantize import variant_failures
from mmlq_ref.folder import CALIBRATION_PERCENTILES, sha256, write_manifest

FRAMING_KINDS = ("crop", "tilt", "squeeze")

CARD_HEADINGS = {"int8": "## The int8 variant", "lowres": "## The lowres variant"}
DESCRIPTIONS = {
    "int8": "the frozen backbone in int8 (static QDQ, calibrated on training views): faster on CPU, "
            "held-out figures beside fp32 in MODEL_CARD.md",
    "lowres": "the backbone reads the image at {size} px (the pixel statistics at the full size), same weights, "
              "faster (timed against fp32 in MODEL_CARD.md, with its held-out figures)",
}
MADE_BY = {"int8": "Made by `npm run model:int8` (models/mmlq/mmlq_build/quantize.py)",
           "lowres": "Made by `npm run model:lowres` (models/mmlq/tools/lowres.sh, mmlq_build.fastgraph.backbone_input_size)"}


def rank_matched_calibration(fp32_calibration: dict, made_dir: str, data: str, variant: str = "int8") -> dict:
    """The int8 graph's score -> percentile, matched by rank to the fp32 graph's own calibration.

    On the build's held-out views without framing changes (the kinds the fp32 reference set has), the
    int8 score at each quantile gets the percentile the fp32 calibration gives the fp32 score at the
    same quantile: an image ranked alike by both graphs gets the same percentile and tier."""
    metas = json.load(open(os.path.join(data, "val", "meta.json")))["views"]
    keep = np.array([m["kind"] not in FRAMING_KINDS and not m["kind"].startswith("neutral:") for m in metas])
    f32 = np.load(os.path.join(made_dir, "fp32.npz"))["scores"][keep]
    i8 = np.load(os.path.join(made_dir, f"{variant}.npz"))["scores"][keep]
    xs, ps = zip(*fp32_calibration["points"])
    points = []
    for q in CALIBRATION_PERCENTILES:
        s8 = round(float(np.percentile(i8, q)), 4)
        p = round(float(np.interp(np.percentile(f32, q), xs, ps)), 2)
        if not points or (s8 > points[-1][0] and p > points[-1][1]):
            points.append([s8, p])
    return {"reference": (f"rank-matched to the fp32 graph's calibration on {int(keep.sum())} held-out views without "
                          f"framing changes (the kinds of its reference set): the {variant} score at each quantile takes "
                          "the percentile the fp32 calibration gives the fp32 score at that quantile."),
            "points": points}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="the built model folder")
    ap.add_argument("--made", "--int8", dest="made", required=True,
                    help="what npm run model:int8 (or model:lowres) wrote: models/.cache/mmlq-build/<variant>")
    ap.add_argument("--data", required=True, help="the build's data dir (held-out views' meta.json)")
    ap.add_argument("--variant", default="int8", choices=sorted(CARD_HEADINGS))
    a = ap.parse_args()
    v = a.variant
    fp32 = json.load(open(os.path.join(a.made, "fp32.json")))
    val = json.load(open(os.path.join(a.made, f"{v}.json")))
    failed = variant_failures(fp32, val, v)
    if failed:
        raise SystemExit(f"{v} graph not attached: " + "; ".join(failed))
    with open(os.path.join(a.out, "manifest.json")) as f:
        manifest = json.load(f)
    graph = f"model.{v}.onnx"
    shutil.copyfile(os.path.join(a.made, graph), os.path.join(a.out, graph))
    shutil.copyfile(os.path.join(a.made, f"{v}.json"), os.path.join(a.out, f"validation.{v}.json"))
    calibration = rank_matched_calibration(manifest["calibration"], a.made, a.data, v)
    manifest["files"][f"graph-{v}"] = {"path": graph, "sha256": sha256(os.path.join(a.out, graph))}
    made = json.load(open(os.path.join(a.made, "rewrite.json"))) if v == "lowres" else {}
    manifest["variants"] = {**manifest.get("variants", {}), v: {
        "graph": f"graph-{v}",
        "description": DESCRIPTIONS[v].format(size=made.get("size")),
        "calibration": calibration}}
    write_manifest(a.out, manifest)
    card = os.path.join(a.out, "MODEL_CARD.md")
    text = open(card).read() if os.path.exists(card) else ""
    heading = CARD_HEADINGS[v]
    if heading in text:  # this variant's section, up to the next section
        start = text.index(heading)
        end = text.find("\n## ", start + len(heading))
        text = text[:start].rstrip() + "\n" + (text[end:] if end >= 0 else "")
    report = open(os.path.join(a.made, "report.md")).read().strip()
    metas = json.load(open(os.path.join(a.data, "val", "meta.json")))["views"]
    views = f"{len(metas)} held-out views of {len({m['source'] for m in metas})} photos"
    text = text.rstrip() + "\n" + (
        f"\n{heading}\n\nServed as `{manifest['name']}+{v}` (opt-in; the default stays the fp32 graph). "
        f"{MADE_BY[v]} and judged by `validate --scores`, "
        f"image-only (the text section needs the torch head), on the {views} of the build that made it; the fp32 "
        "column is this folder's default graph scored on the same views (that view set may differ from the one "
        "in the tables above: its framing rows are the composition build's).\n\n" + report + "\n")
    with open(card, "w") as f:
        f.write(text)
    print(f"attached {a.out}/{graph} as variant {v}")


if __name__ == "__main__":
    main()
