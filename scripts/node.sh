#!/usr/bin/env bash
# Runs a command with Node >= 24 first on PATH (scripts/ensure-node.sh); every npm script that
# starts Node goes through it, so `npm run X` works the same on a machine whose Node is older.
set -euo pipefail
source "$(dirname "$0")/ensure-node.sh"
exec "$@"
