"""Training recipes of the seeds (issue 12), each `python3 -m mmlq_train.<module>` with models/mmlq on the
module path (the npm scripts set PYTHONPATH=models/mmlq):

  metrics     SRCC, PLCC, binary accuracy at 5, EMD (r=2) as NIMA / MMLQ report them (test_metrics.py)
  ava_data    AVA.txt, official split lists, comments JSONL
  ava         `npm run model:ava`: MMLQ head on frozen ViT + BERT over AVA (+ comments), cached features,
              test-split metrics, servable folder through mmlq_build.export_paper
  fixture     a synthetic AVA-format data set from the free photos and known damages (CI, proofs)
  photos      image pools, QPT V2-style curation, degraded / multi-scale views
  vit         tiny / small encoder configs, HF-style checkpoints, masked forward of ClipVisionEncoder
  qpt_v2      QPT V2-style masked image modelling (quality- and aesthetics-aware)
  aesnet      AesNet-style attribute-specific image-text contrastive pretraining + semantic affinity loss
  pretrain    `npm run model:pretrain -- --method qpt-v2|aesnet`
  compare     the small-scale proof: pretrained vs not on the graded-damage ranking of held-out photos
  smoke       what the smoke build (`npm run test:model`) runs of all this at tiny size
"""
