#!/usr/bin/env bash
# A cheaper graph of a built default model, judged by the same held-out figures and gates as the trained
# head and timed against the fp32 graph (npm run model:int8 = int8.sh, npm run model:lowres = lowres.sh):
#   bash variant.sh int8   [MODEL_DIR]         the frozen backbone quantized (mmlq_build.quantize quantize:
#                                               Pads folded, backbone Conv/Clip/Add int8, calibration on 64
#                                               training views of the build cache)
#   bash variant.sh lowres [MODEL_DIR [SIZE]]  the backbone reads the image at SIZE px (default 320;
#                                               mmlq_build.quantize lowres: a bilinear Resize in front of it)
# Then: score every held-out view with the fp32 and the variant graph (onnxruntime 1.30, as
# onnxruntime-node), validate both (mmlq_build.validate --scores: image-only figures and the gates), time
# both at batch 1 and 8 (rounds interleaved), and write the comparison (report.md).
# Needs the build cache (npm run model:build; models/.cache/mmlq-build/data) and pip for the venv.
# Writes models/.cache/mmlq-build/<kind>/: model.<kind>.onnx, quantize.json (int8) or rewrite.json (lowres),
# {fp32,<kind>}.npz/.json, bench.json, report.md. Attach with mmlq_build.attach_variant [--variant lowres].
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$ROOT"
KIND="${1:?usage: variant.sh int8|lowres [MODEL_DIR [SIZE]]}"
MODEL_DIR="${2:-models/mmlq-mnv2-synth}"
WORK="${MMLQ_BUILD_WORK:-models/.cache/mmlq-build}"
DATA="$WORK/data"
OUT="$WORK/$KIND"
[ -f "$DATA/val/meta.json" ] || { echo "no build cache at $DATA: run npm run model:build first" >&2; exit 1; }
PY="$(bash models/mmlq/tools/quant-venv.sh)"
export PYTHONPATH=models/mmlq
mkdir -p "$OUT"
quiet() { grep -v -e 'W:onnxruntime' -e '^WARNING' -e 'Please consider to run pre-processing' || true; }
GRAPH="$OUT/model.$KIND.onnx"
case "$KIND" in
  int8) "$PY" -m mmlq_build.quantize quantize --model "$MODEL_DIR/model.onnx" --data "$DATA" --out "$GRAPH" \
          --json "$OUT/quantize.json" 2>&1 | quiet ;;
  lowres) "$PY" -m mmlq_build.quantize lowres --model "$MODEL_DIR/model.onnx" --size "${3:-320}" --out "$GRAPH" \
          --json "$OUT/rewrite.json" 2>&1 | quiet ;;
  *) echo "unknown variant $KIND (int8 or lowres)" >&2; exit 2 ;;
esac
for v in fp32 "$KIND"; do
  g="$MODEL_DIR/model.onnx"; [ "$v" = "$KIND" ] && g="$GRAPH"
  "$PY" -m mmlq_build.quantize score --model "$g" --data "$DATA" --out "$OUT/$v.npz" 2>&1 | quiet
  /usr/bin/python3 -m mmlq_build.validate --data "$DATA" --scores "$OUT/$v.npz" --json "$OUT/$v.json" | grep '^gate' \
    | sed "s/^/$v /"
done
"$PY" -m mmlq_build.quantize bench --model "$MODEL_DIR/model.onnx" --model "$GRAPH" --data "$DATA" \
  --batch 1 --batch 8 --json "$OUT/bench.json" 2>&1 | quiet
"$PY" -m mmlq_build.quantize report --dir "$OUT" --variant "$KIND" | tee "$OUT/report.md"
