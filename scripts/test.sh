#!/usr/bin/env bash
# `npm test`: install what the tests need (Debian tools, as root), build, and
# run every suite: unit (incl. the driver suite on fs and memory),
# objectstores (the driver and prune suites on Swift and S3, and a store
# outage, against the Swift all-in-one), HTTP API, and end-to-end with
# skopeo/podman/buildah, Distribution and nginx; then the fuzzer (fixed seed,
# about a minute) and the soak (a few minutes).
#
#   bash scripts/test.sh [SUITE...]        e.g. `npm test -- unit http`
#   bash scripts/test.sh --quick           `npm run test:quick`: unit and http
#       without the files that need root, Debian packages or services, or run
#       for long; such a file says why in a header line
#       `// Not in test:quick: <reason>`. Installs nothing.
#   WHARF_TEST_REPORTER=./scripts/test-durations.mjs   time per file instead
#       of the spec output (any node --test reporter name or module works).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
if [ "${1:-}" = --quick ]; then
  quick=true
  shift
fi

if ! $quick && [ -f scripts/install-test-deps.sh ]; then
  bash scripts/install-test-deps.sh
fi

# node_modules and the build (npm install runs both; a clean clone may only
# have run `npm ci`).
[ -d node_modules ] || npm ci --no-audit --no-fund
# Lint and format check first: CI fails on either (`npm run format` fixes the latter).
npm run --silent lint
npm run build

suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
  if $quick; then suites=(unit http); else suites=(unit objectstores http e2e fuzz soak); fi
fi
files=()
left_out=()
for s in "${suites[@]}"; do
  [ -d "dist/test/$s" ] || { echo "test.sh: no suite dist/test/$s" >&2; exit 1; }
  while IFS= read -r f; do
    src="${f#dist/}"
    src="${src%.js}.ts"
    # tsc leaves the output of a moved or deleted test behind: not a test any more.
    [ -f "$src" ] || continue
    if $quick && grep -q '^// Not in test:quick: ' "$src"; then
      left_out+=("$src")
      continue
    fi
    files+=("$f")
  done < <(find "dist/test/$s" -name '*.test.js' | sort)
done
[ ${#files[@]} -gt 0 ] || { echo "test.sh: no test files found" >&2; exit 1; }
if [ ${#left_out[@]} -gt 0 ]; then
  echo "test.sh --quick: leaving out (see their \"Not in test:quick\" line; npm test runs them): ${left_out[*]}" >&2
fi

# One file at a time: the e2e and Swift tests start real servers and tools.
# Quick mode runs two files at once: its files start their servers on ports
# the kernel picks (test/helpers/wharf.ts starts again on another when one is
# taken in between), keep their data in their own temp directories, and
# count descriptors of their own processes only.
concurrency=1
if $quick; then concurrency=2; fi
exec node --test --test-concurrency=$concurrency --test-reporter=${WHARF_TEST_REPORTER:-spec} "${files[@]}"
