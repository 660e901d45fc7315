#!/usr/bin/env bash
# The virtual environment for mmlq_build.quantize: onnxruntime's quantization tool with the same
# onnxruntime as the serving side's onnxruntime-node (1.30.0), from pip (Debian has no onnxruntime).
# Made once under models/.cache/venv-quant; prints its python.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
VENV="${MMLQ_QUANT_VENV:-$ROOT/models/.cache/venv-quant}"
PKGS="onnxruntime==1.30.0 onnx==1.23.1 ml_dtypes==0.6.0 numpy==2.4.6"
if ! "$VENV/bin/python" -c 'import onnxruntime.quantization, onnx' 2>/dev/null; then
  echo "making $VENV ($PKGS)" >&2
  /usr/bin/python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --retries 0 $PKGS >&2
fi
echo "$VENV/bin/python"
