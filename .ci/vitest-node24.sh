#!/usr/bin/env bash
# The vitest suite again on Node 24, the major the deployed functions and images run (this machine and the
# README's set-up: Node 20). Node 24 is the official linux-x64 build from the npm registry, cached in .tmp
# (test/helpers/node-release.ts). Its JSON report: .tmp/vitest-report-node24.json.
set -euo pipefail
cd "$(dirname "$0")/.."
node_bin=$(node --import tsx --input-type=module -e "
const { nodeRelease } = await import('./test/helpers/node-release.ts');
console.log(nodeRelease(24).node);")
echo "vitest on Node $("$node_bin" --version)"
PATH="$(dirname "$node_bin"):$PATH" VITEST_REPORT=.tmp/vitest-report-node24.json \
  "$node_bin" node_modules/vitest/vitest.mjs run
