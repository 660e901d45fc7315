#!/usr/bin/env bash
# Debian's Python packages the model toolchain (models/mmlq) needs: PyTorch 1.13, onnx 1.12, numpy,
# Pillow, SciPy, scikit-image (its sample photos feed the smoke build). Installs them with apt when
# missing and running as root; otherwise says what to install.
set -euo pipefail
PY=/usr/bin/python3
PKGS="python3-torch python3-onnx python3-numpy python3-pil python3-scipy python3-skimage"
if [ -x "$PY" ] && "$PY" -c 'import torch, onnx, numpy, PIL, scipy, skimage' 2>/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing $PKGS (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
  exit 0
fi
echo "The model toolchain needs Debian's: $PKGS (sudo apt-get install $PKGS)" >&2
exit 1
