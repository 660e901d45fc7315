"""The documented path from trained weights to a servable folder, checked end to end at tiny size
(the smoke build, `python3 -m mmlq_build --smoke`, runs it; ~5 s):

1. writes a head, a CLIP vision and a BERT state dict the way users would bring them: the head as
   {"config", "state_dict"}, the encoders as Hugging Face checkpoints (``vision_model.`` / ``bert.``
   prefixes, keys we do not use, old gamma/beta LayerNorm names);
2. runs export_paper on them WITHOUT --random;
3. checks that the folder's recorded reference outputs equal a forward of the original modules (so the
   given weights, not random ones, are in it) and that the manifest does not call them random;
4. checks that leaving out a part without --random is refused with exit code 2.

  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_build.check_paper_export
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

import numpy as np
import torch

from mmlq_build import export_paper
from mmlq_ref import MMLQTokenModel, WordPieceTokenizer
from mmlq_ref.encoders import BertEncoder, ClipVisionEncoder

REPO = export_paper.REPO
TOKENIZER = os.path.join(REPO, "test", "fixtures", "tokenizers", "bert-tiny")
SAMPLES = os.path.join(REPO, "test", "fixtures", "samples")


def as_hf_checkpoints(vit: ClipVisionEncoder, bert: BertEncoder) -> tuple[dict, dict]:
    vision = {f"vision_model.{k}": v.clone() for k, v in vit.state_dict().items()}
    vision["vision_model.embeddings.position_ids"] = torch.arange(vit.cfg.num_patches + 1)[None]
    vision["visual_projection.weight"] = torch.randn(16, vit.cfg.hidden_size)
    vision["logit_scale"] = torch.tensor(2.6592)
    text = {}
    for k, v in bert.state_dict().items():
        k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        text[f"bert.{k}"] = v.clone()
    text["bert.pooler.dense.weight"] = torch.randn(bert.cfg.hidden_size, bert.cfg.hidden_size)
    text["cls.predictions.bias"] = torch.zeros(bert.cfg.vocab_size)
    return vision, text


def main() -> int:
    tok = WordPieceTokenizer.from_tokenizer_json(os.path.join(TOKENIZER, "tokenizer.json"), max_tokens=16)
    vit_cfg, bert_cfg, mmlq_cfg = export_paper.default_configs(True, tok.vocab_size)
    torch.manual_seed(1234)  # not the exporter's seed: random weights would not match
    vit, bert = ClipVisionEncoder(vit_cfg).init_random_(), BertEncoder(bert_cfg).init_random_()
    head = MMLQTokenModel(mmlq_cfg)
    original = export_paper.ServableMMLQ(vit, bert, head).eval()
    with tempfile.TemporaryDirectory(prefix="mmlq-paper-export-") as tmp:
        vision, text = as_hf_checkpoints(vit, bert)
        paths = {name: os.path.join(tmp, f"{name}.bin") for name in ("head", "vit", "bert")}
        torch.save({"config": mmlq_cfg.to_dict(), "state_dict": head.state_dict()}, paths["head"])
        torch.save(vision, paths["vit"])
        torch.save(text, paths["bert"])
        out = os.path.join(tmp, "mmlq-trained-tiny")
        common = ["--out", out, "--tokenizer", TOKENIZER, "--reference-images", SAMPLES, "--tiny",
                  "--max-tokens", "16", "--name", "mmlq-trained-tiny", "--version", "1.0.0"]
        code = export_paper.main(common + ["--head", paths["head"], "--image-encoder", paths["vit"],
                                           "--text-encoder", paths["bert"]])
        assert code == 0, f"export_paper exited {code}"
        manifest = json.load(open(os.path.join(out, "manifest.json")))
        assert manifest["training"]["randomWeights"] is False, manifest["training"]
        assert "RANDOM" not in manifest["description"], manifest["description"]
        index = json.load(open(os.path.join(out, "parity", "index.json")))
        worst = 0.0
        for case in index["cases"]:
            feeds = {}
            for name, spec in case["inputs"].items():
                dtype = np.float32 if spec["dtype"] == "float32" else np.int64
                raw = np.fromfile(os.path.join(out, "parity", spec["file"]), dtype=dtype).reshape(spec["dims"])
                feeds[name] = torch.from_numpy(raw)
            with torch.no_grad():
                d = original(feeds["pixel_values"], feeds["input_ids"], feeds["attention_mask"]).numpy()
            worst = max(worst, float(np.abs(d - np.array(case["expected"]["distribution"])).max()))
        assert worst <= 1e-5, f"the exported folder does not carry the given weights (max diff {worst:.2e})"
        refused = export_paper.main(common + ["--head", paths["head"], "--image-encoder", paths["vit"]])
        assert refused == 2, f"a missing --text-encoder without --random must exit 2, got {refused}"
    print(f"paper export from trained weights: ok (HF-style checkpoints loaded; reference diff {worst:.1e}; "
          "a missing part without --random is refused)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
