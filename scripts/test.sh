#!/usr/bin/env bash
# `npm test`: install what the tests need (Debian tools, as root), build, and
# run every suite: unit (incl. the driver suite on fs, memory, Swift and S3),
# HTTP API, and end-to-end with skopeo/podman/buildah.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x scripts/install-test-deps.sh ] || [ -f scripts/install-test-deps.sh ]; then
  bash scripts/install-test-deps.sh
fi

# node_modules and the build (npm install runs both; a clean clone may only
# have run `npm ci`).
[ -d node_modules ] || npm ci --no-audit --no-fund
# Lint and format check first: CI fails on either (`npm run format` fixes the latter).
npm run --silent lint
npm run build

suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then suites=(unit http e2e); fi
files=()
for s in "${suites[@]}"; do
  [ -d "dist/test/$s" ] || { echo "test.sh: no suite dist/test/$s" >&2; exit 1; }
  while IFS= read -r f; do files+=("$f"); done < <(find "dist/test/$s" -name '*.test.js' | sort)
done
[ ${#files[@]} -gt 0 ] || { echo "test.sh: no test files found" >&2; exit 1; }

# One file at a time: the e2e and Swift tests start real servers and tools.
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
