#!/usr/bin/env bash
# Installs whatever a fresh machine lacks: npm packages, Java and Maven (for the Kafka and
# Elasticsearch jars), and with --browser Debian's chromium for the end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh

apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "missing $* : install it with apt-get (needs root)" >&2; exit 1; fi
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install` with the committed lock file, not `npm ci`: this registry does not serve every
  # platform's optional binaries (rollup's for other OSes), which `npm ci` insists on finding
  # in the lock; `npm install` installs the same locked versions and skips the missing ones.
  echo "› npm install (locked versions)"
  npm install --no-audit --no-fund --loglevel=error
fi
command -v java >/dev/null || { echo "› installing Java 17"; apt_install openjdk-17-jre-headless; }
command -v mvn >/dev/null || { echo "› installing Maven"; apt_install maven; }
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null; then
  echo "› installing Debian's chromium"
  apt_install chromium
fi
