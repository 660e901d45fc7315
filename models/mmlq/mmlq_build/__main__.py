"""`python3 -m mmlq_build [--smoke]`: the whole default-model pipeline (pipeline.py)."""
from mmlq_build.pipeline import main

main()
