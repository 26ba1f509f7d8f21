#!/usr/bin/env bash
# size.sh: checks that roomloop.js, minified and gzipped (-9), stays within
# 8 KiB. It installs esbuild (pinned) from npm into a cache folder under the
# temp dir the first time.
set -euo pipefail
cd "$(dirname "$0")"
limit=8192
version=0.25.0
tools="${TMPDIR:-/tmp}/roomloop-esbuild-$version"
esbuild="$tools/node_modules/.bin/esbuild"
if [ ! -x "$esbuild" ]; then
  mkdir -p "$tools"
  (cd "$tools" && echo '{"private":true}' > package.json &&
    npm install --no-save --no-audit --no-fund --loglevel=error "esbuild@$version" >&2)
fi
size=$("$esbuild" --minify --format=esm --log-level=warning roomloop.js | gzip -9 | wc -c)
size=$((size + 0))
echo "roomloop.js minified + gzip -9: $size bytes (limit $limit)"
if [ "$size" -gt "$limit" ]; then
  echo "roomloop.js is over the size limit" >&2
  exit 1
fi
