#!/usr/bin/env bash
# npm run model:int8 [-- MODEL_DIR]: the int8-backbone candidate of a built default model, judged by the
# same held-out figures and gates as the trained head and timed against the fp32 graph.
#   1. quantize MODEL_DIR/model.onnx (mmlq_build.quantize: Pads folded, backbone Conv/Clip/Add int8,
#      calibration on 64 training views of the build cache)
#   2. score every held-out view with the fp32 and the int8 graph (onnxruntime 1.30, as onnxruntime-node)
#   3. validate both (mmlq_build.validate --scores: image-only figures and the gates)
#   4. time both at batch 1 and 8, rounds interleaved
# Needs the build cache (npm run model:build; models/.cache/mmlq-build/data) and pip for the venv.
# Writes models/.cache/mmlq-build/int8/: model.int8.onnx, quantize.json, {fp32,int8}.npz/.json, bench.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$ROOT"
MODEL_DIR="${1:-models/mmlq-mnv2-synth}"
WORK="${MMLQ_BUILD_WORK:-models/.cache/mmlq-build}"
DATA="$WORK/data"
OUT="$WORK/int8"
[ -f "$DATA/val/meta.json" ] || { echo "no build cache at $DATA: run npm run model:build first" >&2; exit 1; }
PY="$(bash models/mmlq/tools/quant-venv.sh)"
export PYTHONPATH=models/mmlq
mkdir -p "$OUT"
quiet() { grep -v -e 'W:onnxruntime' -e '^WARNING' -e 'Please consider to run pre-processing' || true; }
"$PY" -m mmlq_build.quantize quantize --model "$MODEL_DIR/model.onnx" --data "$DATA" --out "$OUT/model.int8.onnx" \
  --json "$OUT/quantize.json" 2>&1 | quiet
for v in fp32 int8; do
  g="$MODEL_DIR/model.onnx"; [ "$v" = int8 ] && g="$OUT/model.int8.onnx"
  "$PY" -m mmlq_build.quantize score --model "$g" --data "$DATA" --out "$OUT/$v.npz" 2>&1 | quiet
  /usr/bin/python3 -m mmlq_build.validate --data "$DATA" --scores "$OUT/$v.npz" --json "$OUT/$v.json" | grep '^gate' \
    | sed "s/^/$v /"
done
"$PY" -m mmlq_build.quantize bench --model "$MODEL_DIR/model.onnx" --model "$OUT/model.int8.onnx" --data "$DATA" \
  --batch 1 --batch 8 --json "$OUT/bench.json" 2>&1 | quiet
"$PY" -m mmlq_build.quantize report --dir "$OUT" | tee "$OUT/report.md"
