"""What the smoke build (`npm run test:model`, mmlq_build.pipeline --smoke) runs of mmlq_train, at tiny size:

1. the metric unit tests (test_metrics: against scipy.stats);
2. a synthetic AVA-format fixture (mmlq_train.fixture: 600 images from the free photos with known damages,
   template comments, train/test lists with held-out photos in test);
3. `model:ava --tiny` on it (tiny random encoders): a servable folder + metrics.json; the test SRCC must be
   above chance: image+comments > 0.2 (chance +-0.09 on 120 images); image-only is printed (near chance
   with a tiny RANDOM ViT: the pretrained encoders are what should lift it);
4. `model:pretrain --method qpt-v2 --tiny` and `--method aesnet --tiny --text bert` (the tiny BERT of
   step 3) on the fixture's images; each checkpoint then goes into `model:ava --tiny --image-encoder` for
   2 epochs: it loads, trains, exports.

  PYTHONPATH=models/mmlq /usr/bin/python3 -m mmlq_train.smoke [--work DIR] [--keep]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

from mmlq_train import ava, fixture, pretrain


def check_folder(out: str) -> dict:
    for f in ("model.onnx", "manifest.json", "MODEL_CARD.md", "metrics.json", "tokenizer.json", "parity/index.json"):
        assert os.path.isfile(os.path.join(out, f)), f"{out}: {f} missing"
    man = json.load(open(os.path.join(out, "manifest.json")))
    assert man["architecture"] == "mmlq" and man["training"]["randomWeights"] is False, man["training"]
    card = open(os.path.join(out, "MODEL_CARD.md")).read()
    m = json.load(open(os.path.join(out, "metrics.json")))
    assert "Trained on AVA-format data" in card and str(m["test"]["image_only"]["srcc"]) in card, "card lacks metrics"
    assert "licence" in card.lower(), "card lacks the data licence"
    return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)
    t0 = time.time()
    work = a.work or tempfile.mkdtemp(prefix="mmlq-train-smoke-")
    r = unittest.TextTestRunner(verbosity=1).run(unittest.defaultTestLoader.loadTestsFromName("mmlq_train.test_metrics"))
    if not r.wasSuccessful():
        return 1
    fx = os.path.join(work, "ava-fixture")
    fixture.main(["--out", fx, "--n", "600", "--size", "128"])
    common = ["--ava-dir", fx, "--images", os.path.join(fx, "images"), "--comments", os.path.join(fx, "comments.jsonl"),
              "--train-list", os.path.join(fx, "aesthetics_image_lists", "generic_ls_train.jpgl"),
              "--test-list", os.path.join(fx, "aesthetics_image_lists", "generic_test.jpgl"), "--tiny",
              "--data-licence", "synthetic fixture (mmlq_train.fixture): damaged crops of GPL-2+ / public-domain / "
              "CC0 / BSD-3 photos, synthetic votes and comments"]
    out = os.path.join(work, "mmlq-ava-tiny")
    code = ava.main(common + ["--out", out, "--epochs", "30", "--val-fraction", "0.15"])
    assert code == 0, f"model:ava exited {code}"
    m = check_folder(out)["test"]
    print(f"smoke model:ava --tiny: test SRCC image-only {m['image_only']['srcc']}, image+comments "
          f"{m['image_comments']['srcc']} ({m['image_only']['n']} held-out-photo images)")
    # chance: SRCC ~ N(0, 1/sqrt(n - 1)) = +-0.09 for the 120 test images; the text signal's ceiling
    # (bag-of-words polarity vs the true mean) is ~0.6 and the tiny random ViT adds little (README)
    assert m["image_comments"]["srcc"] > 0.2, m
    enc = os.path.join(out + ".cache", "work")
    for method, extra in (("qpt-v2", []), ("aesnet", ["--text", "bert", "--text-encoder",
                                                      os.path.join(enc, "encoders", "tiny_random_bert.bin"),
                                                      "--tokenizer", os.path.join(enc, "tokenizer")])):
        ck = os.path.join(work, f"{method}.bin")
        code = pretrain.main(["--method", method, "--images", os.path.join(fx, "images"), "--out", ck, "--tiny",
                              "--steps", "12"] + extra)
        assert code == 0, f"model:pretrain {method} exited {code}"
        o2 = os.path.join(work, f"mmlq-ava-{method}")
        code = ava.main(common + ["--out", o2, "--epochs", "2", "--image-encoder", ck])
        assert code == 0, f"model:ava with the {method} encoder exited {code}"
        m2 = check_folder(o2)
        assert m2["encoders"]["image"]["file"] == os.path.basename(ck), m2["encoders"]
    print(f"mmlq_train smoke: ok ({time.time() - t0:.0f} s)")
    if not a.keep and not a.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
