#!/usr/bin/env bash
# Where Docker runs: builds the image, then prints its size and how long the gateway takes from
# `docker run` to answering /healthz (no Kafka needed: /healthz answers while the process lives).
#
#   bash scripts/image-report.sh [tag]        (default tag: clickstream:local)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-clickstream:local}"
command -v docker >/dev/null || { echo "docker is not installed here" >&2; exit 1; }

t0=$(date +%s)
docker build -t "$tag" .
echo "› built $tag in $(( $(date +%s) - t0 )) s"
bytes=$(docker image inspect -f '{{.Size}}' "$tag")
echo "› image size: $(( bytes / 1024 / 1024 )) MiB ($bytes bytes)"
docker history --format '{{.Size}}\t{{.CreatedBy}}' "$tag" | head -8 | cut -c1-120

start=$(date +%s%N)
cid=$(docker run -d -p 127.0.0.1::8080 -e KAFKA_BROKERS=127.0.0.1:1 -e LOG_LEVEL=warn "$tag")
trap 'docker rm -f "$cid" >/dev/null' EXIT
port=$(docker port "$cid" 8080/tcp | head -1 | sed 's/.*://')
for _ in $(seq 1 600); do
  if curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
    echo "› gateway answered /healthz $(( ($(date +%s%N) - start) / 1000000 )) ms after docker run"
    echo "› user in the container: $(docker exec "$cid" id -un) ($(docker exec "$cid" id -u))"
    curl -fs "http://127.0.0.1:$port/sdk/manifest.json"; echo
    exit 0
  fi
  sleep 0.05
done
echo "✗ the gateway did not answer within 30 s" >&2
docker logs "$cid" | tail -20 >&2
exit 1
