#!/usr/bin/env bash
# Installs shellcheck for test/unit/deploy-docs.test.ts (the shell blocks of docs/DEPLOY.md and docs/WORDPRESS.md),
# from Debian's archive with apt as root, only if missing. Idempotent; prints one line saying what it did.
set -euo pipefail
if command -v shellcheck >/dev/null; then
  echo "shellcheck-deps: present ($(shellcheck --version | sed -n 's/^version: //p'))"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "shellcheck-deps: needs root and apt-get to install: shellcheck" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
out=$( { apt-get update -qq && apt-get install -y -qq --no-install-recommends shellcheck; } 2>&1) || {
  printf '%s\n' "$out" >&2
  exit 1
}
echo "shellcheck-deps: installed shellcheck $(shellcheck --version | sed -n 's/^version: //p') ($(( $(date +%s) - start )) s)"
