#!/usr/bin/env bash
# npm run model:lowres [-- MODEL_DIR [SIZE]]: the lowres-backbone candidate of a built default model (the
# backbone reads the image at SIZE px, default 320; variant.sh says how it is judged and timed). Writes
# models/.cache/mmlq-build/lowres/; attach with mmlq_build.attach_variant --variant lowres.
exec bash "$(dirname "$0")/variant.sh" lowres "$@"
