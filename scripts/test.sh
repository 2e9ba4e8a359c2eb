#!/usr/bin/env bash
# `npm test`: everything CI checks, on a fresh machine too. Installs what is missing, fetches
# the Kafka and Elasticsearch jars (cached in .cache/), then typecheck, lint, SDK build with its
# byte budget, the services' build (dist/), and the whole vitest suite (unit, then integration and end-to-end against real
# Kafka, Elasticsearch, an S3-compatible server and Chromium started by the test set-up).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh
echo "› node $(node --version)"
bash scripts/ensure-deps.sh --browser
# Side by side: the jar fetch waits on the network (Maven Central on a fresh clone), typecheck and
# lint take a core each; each one's output is printed once all three have ended.
echo "› fetching Kafka and Elasticsearch (cached), typecheck, lint (side by side)"
out=$(mktemp -d)
npm run --silent infra:fetch > "$out/fetch" 2>&1 & fetch=$!
npx tsc -p . > "$out/typecheck" 2>&1 & typecheck=$!
npx eslint . > "$out/lint" 2>&1 & lint=$!
failed=""
wait "$fetch" || failed="$failed fetch"
wait "$typecheck" || failed="$failed typecheck"
wait "$lint" || failed="$failed lint"
cat "$out/fetch" "$out/typecheck" "$out/lint"
rm -rf "$out"
if [ -n "$failed" ]; then echo "› failed:$failed" >&2; exit 1; fi
echo "› sdk build + byte budget"; npm run --silent build:sdk
# The compiled services (what the image runs) for the tests that run them from dist/: built here
# rather than inside a test's set-up, where a busy machine once took longer than its hook timeout.
echo "› services build (dist/)"; npm run --silent build
echo "› tests"
npx vitest run "$@"
