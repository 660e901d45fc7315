#!/usr/bin/env bash
# npm run model:int8 [-- MODEL_DIR]: the int8-backbone candidate of a built default model (variant.sh says how
# it is made, judged and timed; the build's step 10 runs it). Writes models/.cache/mmlq-build/int8/.
exec bash "$(dirname "$0")/variant.sh" int8 "$@"
