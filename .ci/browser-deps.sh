#!/usr/bin/env bash
# Debian's chromium for the browser tests (driven by npm playwright-core, which downloads no browser).
# Installs it with apt when missing and running as root; otherwise says what to install.
set -euo pipefail
BIN="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$BIN" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  exit 0
fi
echo "The browser tests need Debian's chromium (sudo apt-get install chromium) or CHROMIUM_PATH" >&2
exit 1
