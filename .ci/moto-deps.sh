#!/usr/bin/env bash
# moto's S3 server for test/integration/conditional-writes.test.ts (s3rver ignores conditional PUTs):
# present on PATH, in a pyenv Python or in ~/.local/bin (where test/helpers/moto.ts looks), else
# installed with pip for this user. Idempotent; prints one line saying what it did.
set -euo pipefail
found=""
IFS=: read -ra dirs <<<"${PATH:-}"
for dir in "${dirs[@]}"; do
  # pyenv's shims run whichever Python is selected: its versions are looked at below instead
  if [ -z "$found" ] && [[ "$dir" != */.pyenv/* ]] && [ -x "$dir/moto_server" ]; then found=$dir/moto_server; fi
done
for bin in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/moto_server "$HOME/.local/bin/moto_server"; do
  if [ -z "$found" ] && [ -x "$bin" ]; then found=$bin; fi
done
if [ -n "${MOTO_SERVER:-}" ]; then found=$MOTO_SERVER; fi
if [ -n "$found" ]; then
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
