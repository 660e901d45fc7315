"""The model toolchain's commands: the default-model pipeline (`python3 -m mmlq_build`, pipeline.py) and
each of its steps, the paper-size exporter and the checks, each run as `python3 -m mmlq_build.<module>`
with models/mmlq on the module path (the cwd, or PYTHONPATH=models/mmlq from the repository root).

  pipeline            vocab -> build_views -> features -> train -> validate -> export -> model_card
  sources, degrade, text   training data: photos, synthetic damage, synthetic comments
  head                the default head as training lays it out (shared by train and validate)
  export_paper        paper-size MMLQ (ViT + BERT) -> servable folder
  check_paper_export, check_backbone_parity   checks
"""
