"""Render models/<name>/MODEL_CARD.md from MODEL_CARD.template.md, validation.json and check.json.

  python3 -m mmlq_build.model_card --out models/mmlq-mnv2-synth --validation V.json --check C.json --ckpt head.pt
"""
from __future__ import annotations

import argparse
import json
import os

import torch

from mmlq_build.sources import HOLDOUT

MMLQ_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # models/mmlq (the template)

LV = ["mild", "medium", "strong"]
KIND_LEVELS = {"gblur": ("Gaussian blur σ (px)", [1.2, 3, 6]), "under": ("under-exposure ×", [0.6, 0.4, 0.25]),
               "jpeg": ("JPEG quality", [25, 10, 4]), "noise": ("Gaussian noise σ (of 255)", [15, 35, 70])}


def composition_table(v: dict) -> str:
    c = v["composition"]
    n = c["n_photos"]
    L = [f"Composition, on the {n} WHOLE held-out photos (the original framing = the whole photo as serving prepares it; "
         "every damaged view made from the whole source photo). Pairwise accuracy, original scored above:\n",
         "| damage | cells | pairs | original above |", "|---|---|---|---|"]
    cr, t, sq = c["crop"], c["tilt"], c["squeeze"]
    L.append(f"| crop to 2/3 of the side | centre + 8 edge / corner positions | {9 * n} | {cr['2/3']:.3f} |")
    L.append(f"| crop to 1/2 of the side | centre + 8 edge / corner positions | {9 * n} | {cr['1/2']:.3f} |")
    L.append(f"| crops, centred / off-centre | | {2 * n} / {16 * n} | {cr['centred']:.3f} / {cr['off_centre']:.3f} |")
    L.append(f"| **all crops** | | **{cr['n_pairs']}** | **{cr['all']:.3f}** (target ≥ 0.90) |")
    for lv in ("mild", "medium", "strong"):
        L.append(f"| tilt {t['degrees'][lv]}° | both directions | {2 * n} | {t[lv]:.3f} |")
    L.append(f"| **all tilts** | | **{t['n_pairs']}** | **{t['all']:.3f}** (target ≥ 0.90) |")
    for lv in ("mild", "strong"):
        L.append(f"| squeeze {sq['ratio'][lv]}× | either axis | {2 * n} | {sq[lv]:.3f} |")
    L.append("")
    L.append("Neutral reframings and styles of the whole photos (should not move the score). Δ = view − original:\n")
    L.append("| view | mean Δ | mean abs Δ | largest abs Δ |")
    L.append("|---|---|---|---|")
    names = {"mirror": "mirror image (target mean abs Δ ≤ 0.15)", "tight90": "centred crop keeping 90% of the side",
             "tight85": "centred crop keeping 85% of the side (the neutral boundary)",
             "bw": "black-and-white (target mean abs Δ ≤ 0.15)", "lowkey": "low-key", "highkey": "high-key",
             "sdof": "shallow depth of field"}
    for k, name in names.items():
        x = c["neutral"][k]
        L.append(f"| {name} | {x['mean_delta']:+.3f} | {x['mean_abs_delta']:.3f} | {x['max_abs_delta']:.3f} |")
    b = c["neutral"]["bw_all_crops"]
    L.append(f"| black-and-white, all {b['n']} crops (not only whole photos) | {b['mean_delta']:+.3f} | "
             f"{b['mean_abs_delta']:.3f} | {b['max_abs_delta']:.3f} |")
    L.append("")
    a = c["attribute_composition_mean"]
    L.append("Composition attribute (mean output; 1 = framing intact): " +
             "; ".join(f"{k} {x:.2f}" for k, x in a.items()) + ". Mean score: whole originals "
             f"{c['score_mean']['whole_originals']:.2f}, their crops {c['score_mean']['crops']:.2f}, their tilts "
             f"{c['score_mean']['tilts']:.2f}.")
    L.append("")
    L.append("Gates (the build refuses to write a model that fails one; `mmlq_build/validate.py` GATES): " +
             "; ".join(f"{g['name']} {g['value']} ({g['target']}: {'pass' if g['pass'] else 'FAIL'})"
                       for g in v["gates"]) + ".")
    return "\n".join(L)


def table(v: dict) -> str:
    L = []
    L.append("Pairwise accuracy, original scored above its degraded version (36 crops per cell):\n")
    L.append("| damage | mild | medium | strong | Spearman score vs level (per crop / pooled) |")
    L.append("|---|---|---|---|---|")
    sp = v["spearman_score_vs_severity"]
    for k, (name, vals) in KIND_LEVELS.items():
        cells = [f"{v['pairwise_original_vs_degraded'][k][lv]:.3f} ({vals[i]})" for i, lv in enumerate(LV)]
        L.append(f"| {name} | " + " | ".join(cells) + f" | {sp['per_crop_mean'][k]:.3f} / {sp['pooled'][k]:.3f} |")
    b = v["pairwise_by_level"]
    L.append(f"| **all four** | **{b['mild']:.3f}** | **{b['medium']:.3f}** | **{b['strong']:.3f}** | |")
    L.append("")
    L.append(f"- Ordered-pair accuracy original > mild > medium > strong (all 6 pairs per crop and kind): "
             f"**{v['ordered_pair_accuracy']:.3f}** (target ≥ 0.95); mild alone **{v['mild_accuracy']:.3f}** (target ≥ 0.90).")
    o = v["other_kinds_strong_s0.8"]
    L.append("- Other damage kinds at s = 0.8, original above damaged: " +
             ", ".join(f"{k} {x:.2f}" for k, x in sorted(o.items())) + ".")
    s = v["score_summary"]
    L.append(f"- Mean score: originals {s['originals_mean']:.2f} (lowest {s['originals_min']:.2f}), "
             f"strong damage {s['strong_mean']:.2f}.")
    L.append("")
    L.append("Legit styles (not defects; should not drop much). Δ = styled − original score:\n")
    L.append("| style | mean Δ | worst Δ | styled above the mean of the 4 mild damages |")
    L.append("|---|---|---|---|")
    names = {"bw": "black-and-white", "lowkey": "low-key", "highkey": "high-key", "sdof": "shallow depth of field"}
    for k, x in v["legit_styles"].items():
        L.append(f"| {names.get(k, k)} | {x['mean_delta']:+.2f} | {x['min_delta']:+.2f} | {x['above_mean_of_mild_damage']:.2f} |")
    L.append("")
    L.append("Text effect (Δ = score with the comment − image-only score, over held-out originals and "
             "medium-damaged views; unseen = synonyms never used in training):\n")
    L.append("| comment | mean Δ | right direction | example |")
    L.append("|---|---|---|---|")
    for k, x in v["text_effect"].items():
        if k == "note":
            continue
        L.append(f"| {k.replace('_', ' ')} | {x['mean_delta']:+.3f} | {x['right_direction']:.2f} | “{x['example']}” |")
    L.append("(neutral: right direction = |Δ| < 0.25)")
    L.append("")
    L.append(composition_table(v))
    L.append("")
    L.append("Attributes (mean output; 1 = no defect), originals vs strong damage of the matching kind: " +
             "; ".join(f"{k} → {x['attribute']} {x['original']:.2f} vs {x['damaged_strong']:.2f}"
                       for k, x in v["attributes_mean"].items()) + ".")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--validation", required=True)
    ap.add_argument("--check", required=True)
    ap.add_argument("--ckpt", required=True)
    a = ap.parse_args()
    v = json.load(open(a.validation))
    c = json.load(open(a.check))
    ck = torch.load(a.ckpt)
    cfg = ck["config"]
    onnx_mb = c["model_onnx_bytes"] / 1e6
    folder = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(a.out) for f in fs
                 if f != "MODEL_CARD.md") / 1e6
    lat1 = c.get("latency_ms_batch1_448px", {}).get("median", "n/a")
    lat4 = c.get("latency_ms_batch4_448px", {}).get("per_image", "n/a")
    par = max(x["distribution"] for x in c["parity"].values())
    size = (f"model.onnx {onnx_mb:.2f} MB: backbone weights as uint8 indices into per-tensor float32 codebooks "
            f"(exact: the tfjs weights have ≤ 256 distinct values per tensor), head and PCA weights as float16 "
            f"(+ Cast; the torch reference is rounded identically), GloVe table 8-bit. Whole folder "
            f"{folder:.2f} MB. onnxruntime-node 1.30 CPU, 2 threads, this 2-core machine: {lat1} ms per 448x448 "
            f"image at batch 1, {lat4} ms per image at batch 4 (`node models/mmlq/tools/check_onnx.mjs "
            f"models/mmlq-mnv2-synth --bench`). Parity torch vs onnxruntime-node on the fixtures: max |Δ| "
            f"distribution {par:.1e}; tokenizer fixture {c['tokenizer']}.")
    tpl = open(os.path.join(MMLQ_DIR, "MODEL_CARD.template.md"), encoding="utf-8").read()
    n_par = f"{ck['trainable_params'] / 1e6:.2f} M" if ck.get("trainable_params") else "~1.0 M"
    rep = {"{{ONNX_MB}}": f"{onnx_mb:.1f}", "{{FOLDER_MB}}": f"{folder:.1f}", "{{LAT}}": str(lat1),
           "{{ORIG_MEAN}}": f"{v['score_summary']['originals_mean']:.1f}",
           "{{STRONG_MEAN}}": f"{v['score_summary']['strong_mean']:.1f}",
           "{{K}}": str(cfg["n_queries"]), "{{L}}": str(cfg["n_blocks"]), "{{D}}": str(cfg["d_model"]),
           "{{EPOCHS}}": str(ck["args"]["epochs"]), "{{PARAMS}}": str(n_par),
           "{{HOLDOUT}}": ", ".join(h.split(":", 1)[1] for h in HOLDOUT),
           "{{VALTABLE}}": table(v), "{{SIZE}}": size}
    for k, x in rep.items():
        tpl = tpl.replace(k, x)
    with open(os.path.join(a.out, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(tpl)
    print("wrote", os.path.join(a.out, "MODEL_CARD.md"))


if __name__ == "__main__":
    main()
