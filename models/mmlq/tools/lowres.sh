#!/usr/bin/env bash
# npm run model:lowres [-- MODEL_DIR [SIZE]]: the lowres-backbone candidate of a built default model (the
# backbone reads the image at SIZE px, default 320; the pixel statistics at the full size; same weights),
# judged by the same held-out figures and gates as the trained head and timed against the fp32 graph.
#   1. rewrite MODEL_DIR/model.onnx (mmlq_build.quantize lowres: a bilinear Resize before the backbone)
#   2. score every held-out view with the fp32 and the lowres graph (onnxruntime 1.30, as onnxruntime-node)
#   3. validate both (mmlq_build.validate --scores: image-only figures and the gates)
#   4. time both at batch 1 and 8, rounds interleaved
# Needs the build cache (npm run model:build; models/.cache/mmlq-build/data) and pip for the venv.
# Writes models/.cache/mmlq-build/lowres/: model.lowres.onnx, rewrite.json, {fp32,lowres}.npz/.json, bench.json,
# report.md. Attach with: python3 -m mmlq_build.attach_int8 --variant lowres --out MODEL_DIR --int8 <that dir> --data ...
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$ROOT"
MODEL_DIR="${1:-models/mmlq-mnv2-synth}"
SIZE="${2:-320}"
WORK="${MMLQ_BUILD_WORK:-models/.cache/mmlq-build}"
DATA="$WORK/data"
OUT="$WORK/lowres"
[ -f "$DATA/val/meta.json" ] || { echo "no build cache at $DATA: run npm run model:build first" >&2; exit 1; }
PY="$(bash models/mmlq/tools/quant-venv.sh)"
export PYTHONPATH=models/mmlq
mkdir -p "$OUT"
quiet() { grep -v -e 'W:onnxruntime' -e '^WARNING' || true; }
"$PY" -m mmlq_build.quantize lowres --model "$MODEL_DIR/model.onnx" --size "$SIZE" --out "$OUT/model.lowres.onnx" \
  --json "$OUT/rewrite.json" 2>&1 | quiet
for v in fp32 lowres; do
  g="$MODEL_DIR/model.onnx"; [ "$v" = lowres ] && g="$OUT/model.lowres.onnx"
  "$PY" -m mmlq_build.quantize score --model "$g" --data "$DATA" --out "$OUT/$v.npz" 2>&1 | quiet
  /usr/bin/python3 -m mmlq_build.validate --data "$DATA" --scores "$OUT/$v.npz" --json "$OUT/$v.json" | grep '^gate' \
    | sed "s/^/$v /"
done
"$PY" -m mmlq_build.quantize bench --model "$MODEL_DIR/model.onnx" --model "$OUT/model.lowres.onnx" --data "$DATA" \
  --batch 1 --batch 8 --json "$OUT/bench.json" 2>&1 | quiet
"$PY" -m mmlq_build.quantize report --dir "$OUT" --variant lowres | tee "$OUT/report.md"
