#!/usr/bin/env bash
# moto's S3 server for test/integration/conditional-writes.test.ts (s3rver ignores conditional PUTs):
# found where the test looks (test/helpers/moto-server.ts: MOTO_SERVER, PATH, pyenv Pythons,
# ~/.local/bin), else installed with pip for this user. Idempotent; prints one line saying what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
if found=$(node --import tsx test/helpers/moto-server.ts 2>/dev/null); then
  echo "moto-deps: present ($found)"
  exit 0
fi
if ! command -v python3 >/dev/null; then
  echo "moto-deps: needs python3 to install moto[server] >= 5.1 (or set MOTO_SERVER to a moto_server)" >&2
  exit 1
fi
out=$(python3 -m pip install --user --quiet 'moto[server]>=5.1' 2>&1) || {
  printf '%s\n' "$out" >&2
  echo "moto-deps: could not install moto[server] >= 5.1 with pip (or set MOTO_SERVER to a moto_server)" >&2
  exit 1
}
echo "moto-deps: installed moto[server] in $HOME/.local/bin"
