#!/bin/sh
# Shrinks a production node_modules for the container images (measured: 274 MB → ~115 MB):
# source maps and type declarations are never read at run time, and the native addons ship
# prebuilt binaries for every platform while an image runs on exactly one.
set -eu
dir="${1:-node_modules}"
find "$dir" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -type f -delete
arch="$(node -p 'process.arch === "arm64" ? "arm64" : "x64"')"
# tokenizers: keep the glibc binary of this architecture (node:24-slim is Debian).
find "$dir/tokenizers" -name 'tokenizers.*.node' ! -name "tokenizers.linux-${arch}-gnu.node" -type f -delete
# zeromq: keep its Linux prebuilds (its loader, cmake-ts, picks the matching one at run time).
rm -rf "$dir/zeromq/build/darwin" "$dir/zeromq/build/win32"
