"""Validation on held-out source photos (never trained on).

  python3 -m mmlq_build.validate --data /work/scratch/h2/data --vocab /work/scratch/h2/vocab --ckpt ckpt.pt \
                                [--json out.json]

Prints and writes (JSON):
* pairwise accuracy original > degraded per kind (blur sigma 1.2/3/6, exposure x0.6/0.4/0.25,
  JPEG q25/10/4, noise sigma 15/35/70) and level; every other damage kind at s = 0.8;
* ordered-pair accuracy of original > mild > medium > strong (all 6 pairs per crop and kind);
* Spearman of score vs severity (pooled over crops, and the mean of per-crop values);
* legit styles (b/w, low-key, high-key, shallow DoF): mean score change vs the original;
* text effect: mean score change vs no text for positive / negative / neutral comments with seen
  words and with unseen synonyms, and how often the change has the right sign;
* attributes: mean of the matching attribute on originals vs damaged views;
* composition, on the WHOLE held-out photos (the original framing = the whole photo as serving
  prepares it): original above crops to 2/3 and 1/2 of the side at 9 positions, above tilts of
  +-3 / 5 / 8 degrees and above squeezes 1.25x / 1.5x; neutral views (mirror, centred 90% / 85% crops,
  black-and-white): mean and mean absolute score change; the composition attribute;
* gates: the figures the model must reach to be shipped (GATES), each with its value and pass / fail.
Image-only unless stated.  Scores are the distribution means (1..10).
"""
from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict

import numpy as np
import torch
from scipy.stats import spearmanr

from mmlq_build import text as T
from mmlq_build.features import load_groups
from mmlq_build.head import build_head, run_head
from mmlq_ref import ATTRIBUTE_LABELS, WordVocabTokenizer, round_fp16_

LEVELS = ["mild", "medium", "strong"]
MAIN_KINDS = ["gblur", "under", "jpeg", "noise"]
ATTR_OF = {"gblur": "sharpness", "defocus": "sharpness", "motion": "sharpness", "upscale": "sharpness",
           "under": "exposure", "over": "exposure", "jpeg": "compression", "pixelate": "compression",
           "posterize": "compression", "noise": "noise", "contrast": "contrast", "cast": "colour",
           "faded": "colour", "oversat": "colour"}


# (name, key in R["gate_values"], comparison, threshold): the build refuses to ship a model that fails one
GATES = [("ordered-pair accuracy (technical damage)", "ordered", ">=", 0.95),
         ("mild damage pairwise accuracy", "mild", ">=", 0.90),
         ("whole photo above its crops (pairs)", "crop", ">=", 0.90),
         ("whole photo above its tilts (pairs)", "tilt", ">=", 0.90),
         ("mirror image mean |delta| (whole photos)", "mirror", "<=", 0.15),
         ("black-and-white mean |delta| (whole photos)", "bw", "<=", 0.15)]


def _index(metas):
    by = defaultdict(dict)
    for i, m in enumerate(metas):
        by[m["crop"]][(m["kind"], m["level"])] = i
    return by


def quick_pairwise(head, groups, metas):
    head.eval()
    sc, _ = run_head(head, groups, np.arange(len(metas)))
    by = _index(metas)
    res = {}
    for lv in LEVELS:
        ok = [sc[d[("original", "none")]] > sc[d[(k, lv)]] for d in by.values() for k in MAIN_KINDS]
        res[lv] = round(float(np.mean(ok)), 3)
    return res


def head_scorer(head, groups):
    """score(idx, ids=None, mask=None) -> (scores, attributes) of the torch head on cached features."""
    head.eval()
    return lambda idx, ids=None, mask=None: run_head(head, groups, idx, ids, mask)


def evaluate(score, metas, tok=None, seed=0):
    """All figures from score(idx, ids=None, mask=None) -> (scores [n], attributes [n, 7]).

    Without a tokenizer (scores computed elsewhere, e.g. by an ONNX graph: validate --scores) the
    text-effect section is left out; every gate is image-only."""
    n = len(metas)
    sc, att = score(np.arange(n))
    by = _index(metas)
    R = {"n_crops": len(by), "n_sources": len({m["source"] for m in metas})}
    # per kind / level
    pk = {}
    ordered_ok, ordered_n, mild_ok = 0, 0, []
    sp_pooled, sp_crop = {}, {}
    for k in MAIN_KINDS:
        pk[k] = {}
        for lv in LEVELS:
            ok = [sc[d[("original", "none")]] > sc[d[(k, lv)]] for d in by.values()]
            pk[k][lv] = round(float(np.mean(ok)), 3)
        xs, ys, per = [], [], []
        for d in by.values():
            chain = [sc[d[("original", "none")]]] + [sc[d[(k, lv)]] for lv in LEVELS]
            for a in range(4):
                for b in range(a + 1, 4):
                    ordered_ok += chain[a] > chain[b]
                    ordered_n += 1
            mild_ok.append(chain[0] > chain[1])
            xs += [0, 1, 2, 3]
            ys += chain
            per.append(spearmanr([0, 1, 2, 3], chain).correlation)
        sp_pooled[k] = round(float(-spearmanr(xs, ys).correlation), 3)
        sp_crop[k] = round(float(-np.nanmean(per)), 3)
    R["pairwise_original_vs_degraded"] = pk
    R["pairwise_by_level"] = {lv: round(float(np.mean([pk[k][lv] for k in MAIN_KINDS])), 3) for lv in LEVELS}
    R["ordered_pair_accuracy"] = round(ordered_ok / ordered_n, 3)
    R["mild_accuracy"] = round(float(np.mean(mild_ok)), 3)
    R["spearman_score_vs_severity"] = {"pooled": sp_pooled, "per_crop_mean": sp_crop,
                                       "note": "sign flipped: +1 = score falls as severity rises"}
    others = sorted({m["kind"] for m in metas if m["level"] == "strong" and m["kind"] not in MAIN_KINDS})
    R["other_kinds_strong_s0.8"] = {k: round(float(np.mean([sc[d[("original", "none")]] > sc[d[(k, "strong")]]
                                                             for d in by.values()])), 3) for k in others}
    # styles
    st = {}
    for s in ["bw", "lowkey", "highkey", "sdof"]:
        deltas = [sc[d[("style:" + s, "none")]] - sc[d[("original", "none")]] for d in by.values()]
        above_mild = [sc[d[("style:" + s, "none")]] > np.mean([sc[d[(k, "mild")]] for k in MAIN_KINDS])
                      for d in by.values()]
        st[s] = {"mean_delta": round(float(np.mean(deltas)), 3), "min_delta": round(float(np.min(deltas)), 3),
                 "above_mean_of_mild_damage": round(float(np.mean(above_mild)), 3)}
    R["legit_styles"] = st
    orig = np.array([d[("original", "none")] for d in by.values()])
    strong = np.array([d[(k, "strong")] for d in by.values() for k in MAIN_KINDS])
    R["score_summary"] = {"originals_mean": round(float(sc[orig].mean()), 3),
                          "originals_min": round(float(sc[orig].min()), 3),
                          "strong_mean": round(float(sc[strong].mean()), 3),
                          "all_views_mean": round(float(sc.mean()), 3)}
    # attributes
    attr = {}
    li = list(ATTRIBUTE_LABELS)
    for k, lab in ATTR_OF.items():
        lv = "strong"
        idx = [d[(k, lv)] for d in by.values() if (k, lv) in d]
        if not idx:
            continue
        attr[k] = {"attribute": lab, "original": round(float(att[orig, li.index(lab)].mean()), 3),
                   "damaged_strong": round(float(att[idx, li.index(lab)].mean()), 3)}
    R["attributes_mean"] = attr
    R["composition"] = composition(sc, att, by)
    c = R["composition"]
    gv = {"ordered": R["ordered_pair_accuracy"], "mild": R["mild_accuracy"], "crop": c["crop"]["all"],
          "tilt": c["tilt"]["all"], "mirror": c["neutral"]["mirror"]["mean_abs_delta"],
          "bw": c["neutral"]["bw"]["mean_abs_delta"]}
    R["gates"] = [{"name": n, "value": gv[k], "target": f"{op} {t}",
                   "pass": bool(gv[k] >= t if op == ">=" else gv[k] <= t)} for n, k, op, t in GATES]
    if tok is not None:
        R["text_effect"] = text_effect(score, metas, by, orig, tok, seed)
    return R


def text_effect(score, metas, by, orig, tok, seed):
    """Text effect on originals and on medium-damaged views."""
    rng = np.random.default_rng(seed)
    base_idx = np.concatenate([orig, np.array([d[(k, "medium")] for d in by.values() for k in MAIN_KINDS])])
    base, _ = score(base_idx)
    te = {}
    for name, pol, words in [("positive_seen", 1, T.SEEN), ("negative_seen", -1, T.SEEN), ("neutral_caption", 0, T.SEEN),
                             ("positive_unseen", 1, {**T.SEEN, **T.UNSEEN, "light": T.SEEN["light"]}),
                             ("negative_unseen", -1, {**T.SEEN, **T.UNSEEN})]:
        if words is not T.SEEN:
            # only unseen words for the polarity slots
            words = dict(T.SEEN)
            for kk in ("pos", "sharp") if pol > 0 else ("neg", "sharpness", "exposure_dark", "noise"):
                words[kk] = T.UNSEEN[kk]
        texts = []
        for j in range(len(base_idx)):
            kind = metas[base_idx[j]]["kind"]
            key = {"gblur": "sharpness", "under": "exposure_dark", "jpeg": "compression", "noise": "noise"}.get(kind)
            if pol < 0 and name.endswith("unseen") and key == "compression":
                key = "neg"
            texts.append(T.comment(rng, pol, key if pol < 0 else None, words))
        ids, mask = tok.batch(texts)
        s, _ = score(base_idx, ids, mask)
        d = s - base
        right = (d > 0) if pol > 0 else (d < 0) if pol < 0 else (np.abs(d) < 0.25)
        te[name] = {"mean_delta": round(float(d.mean()), 3), "right_direction": round(float(right.mean()), 3),
                    "example": texts[0]}
    te["note"] = ("delta = score with text - score image-only, over held-out originals and medium-damaged views; "
                  "neutral: right_direction = |delta| < 0.25")
    return te


def composition(sc, att, by):
    """Composition cells on the whole held-out photos (crops that carry them)."""
    whole = [d for d in by.values() if ("neutral:mirror", "none") in d]
    ci = list(ATTRIBUTE_LABELS).index("composition")
    C = {"n_photos": len(whole)}

    def pairs(kind, pred):
        ok = [sc[d[("original", "none")]] > sc[i] for d in whole for (k, lv), i in d.items()
              if k == kind and pred(lv)]
        return round(float(np.mean(ok)), 3) if ok else float("nan"), len(ok)

    crop = {}
    for f in ("2/3", "1/2"):
        crop[f], _ = pairs("crop", lambda lv, f=f: lv.startswith(f + ":"))
    crop["centred"], _ = pairs("crop", lambda lv: lv.endswith(":c"))
    crop["off_centre"], _ = pairs("crop", lambda lv: not lv.endswith(":c"))
    crop["all"], crop["n_pairs"] = pairs("crop", lambda lv: True)
    C["crop"] = crop
    tilt = {}
    for lv in ("mild", "medium", "strong"):
        tilt[lv], _ = pairs("tilt", lambda x, lv=lv: x.startswith(lv))
    tilt["all"], tilt["n_pairs"] = pairs("tilt", lambda lv: True)
    tilt["degrees"] = {"mild": 3, "medium": 5, "strong": 8}
    C["tilt"] = tilt
    sq = {}
    for lv in ("mild", "strong"):
        sq[lv], _ = pairs("squeeze", lambda x, lv=lv: x.startswith(lv))
    sq["all"], sq["n_pairs"] = pairs("squeeze", lambda lv: True)
    sq["ratio"] = {"mild": 1.25, "strong": 1.5}
    C["squeeze"] = sq
    neu = {}
    for k in ("mirror", "tight90", "tight85", "bw", "lowkey", "highkey", "sdof"):
        key = ("neutral:" + k if k in ("mirror", "tight90", "tight85") else "style:" + k, "none")
        d = np.array([sc[w[key]] - sc[w[("original", "none")]] for w in whole])
        neu[k] = {"mean_delta": round(float(d.mean()), 3), "mean_abs_delta": round(float(np.abs(d).mean()), 3),
                  "max_abs_delta": round(float(np.abs(d).max()), 3)}
    allbw = np.array([sc[d[("style:bw", "none")]] - sc[d[("original", "none")]] for d in by.values()])
    neu["bw_all_crops"] = {"mean_delta": round(float(allbw.mean()), 3),
                           "mean_abs_delta": round(float(np.abs(allbw).mean()), 3),
                           "max_abs_delta": round(float(np.abs(allbw).max()), 3), "n": int(len(allbw))}
    C["neutral"] = neu
    orig = [w[("original", "none")] for w in whole]
    if att.shape[1] > ci:  # a model from before the composition attribute (0.2.0) has six
        at = {"original": round(float(att[orig, ci].mean()), 3)}
        for name, kind, pred in (("crop 1/2", "crop", lambda lv: lv.startswith("1/2")),
                                 ("crop 2/3", "crop", lambda lv: lv.startswith("2/3")),
                                 ("tilt 8 deg", "tilt", lambda lv: lv.startswith("strong")),
                                 ("squeeze 1.5x", "squeeze", lambda lv: lv.startswith("strong")),
                                 ("mirror", "neutral:mirror", lambda lv: True)):
            idx = [i for w in whole for (k, lv), i in w.items() if k == kind and pred(lv)]
            at[name] = round(float(att[idx, ci].mean()), 3)
        C["attribute_composition_mean"] = at
    sc_o = np.array([sc[i] for i in orig])
    C["score_mean"] = {"whole_originals": round(float(sc_o.mean()), 3),
                       "crops": round(float(np.mean([sc[i] for w in whole for (k, _), i in w.items() if k == "crop"])), 3),
                       "tilts": round(float(np.mean([sc[i] for w in whole for (k, _), i in w.items() if k == "tilt"])), 3)}
    return C


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--vocab", help="with --ckpt")
    ap.add_argument("--ckpt", help="the trained head (scored here in torch on the cached features)")
    ap.add_argument("--scores", help="instead of --ckpt: scores and attributes of every held-out view computed "
                                     "elsewhere (.npz with 'scores' [n], 'attributes' [n, 7]: quantize score); "
                                     "image-only figures, no text section")
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-round", action="store_true", help="do not round the head to float16 values (as exported)")
    a = ap.parse_args()
    metas = json.load(open(os.path.join(a.data, "val", "meta.json")))["views"]
    if a.scores:
        z = np.load(a.scores)
        sc_all, att_all = z["scores"], z["attributes"]
        if len(sc_all) != len(metas):
            raise SystemExit(f"{a.scores}: {len(sc_all)} scores for {len(metas)} held-out views")
        R = evaluate(lambda idx, ids=None, mask=None: (sc_all[idx], att_all[idx]), metas)
    else:
        if not (a.ckpt and a.vocab):
            ap.error("--ckpt and --vocab (or --scores)")
        ck = torch.load(a.ckpt)
        groups = load_groups(a.data, "val")
        tok = WordVocabTokenizer.load(os.path.join(a.vocab, "vocab.txt"), max_tokens=ck["max_tokens"])
        glove = np.load(os.path.join(a.vocab, "glove.npy"))
        head = build_head(groups, ck["vocab_size"], glove)
        head.load_state_dict(ck["state_dict"])
        if not a.no_round:
            round_fp16_(head)  # as exported
        R = evaluate(head_scorer(head, groups), metas, tok)
    print(json.dumps(R, indent=2))
    for g in R["gates"]:
        print(f"gate {'PASS' if g['pass'] else 'FAIL'}: {g['name']} = {g['value']} (target {g['target']})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(R, f, indent=2)


if __name__ == "__main__":
    main()
