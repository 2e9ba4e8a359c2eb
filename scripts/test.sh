#!/usr/bin/env bash
# `npm test`: everything CI checks, on a fresh machine too. Installs what is missing, fetches
# the Kafka and Elasticsearch jars (cached in .cache/), then typecheck, lint, SDK build with its
# byte budget, and the whole vitest suite (unit, then integration and end-to-end against real
# Kafka, Elasticsearch, an S3-compatible server and Chromium started by the test set-up).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh
echo "› node $(node --version)"
bash scripts/ensure-deps.sh --browser
echo "› fetching Kafka and Elasticsearch (cached)"
npm run --silent infra:fetch
# Typecheck and lint side by side (each mostly one core); each one's output printed after both.
echo "› typecheck + lint"
out=$(mktemp -d)
npx tsc -p . > "$out/typecheck" 2>&1 & typecheck=$!
npx eslint . > "$out/lint" 2>&1 & lint=$!
failed=""
wait "$typecheck" || failed="$failed typecheck"
wait "$lint" || failed="$failed lint"
cat "$out/typecheck" "$out/lint"
rm -rf "$out"
if [ -n "$failed" ]; then echo "› failed:$failed" >&2; exit 1; fi
echo "› sdk build + byte budget"; npm run --silent build:sdk
echo "› tests"
npx vitest run "$@"
