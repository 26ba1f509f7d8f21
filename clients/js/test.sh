#!/usr/bin/env bash
# test.sh: runs roomloop.js's tests (node --test) against the real server,
# which each test file builds with go unless ROOMLOOP_BIN names a binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
flags=()
case "$(node --version)" in
  v20.* | v21.*) flags+=(--experimental-websocket) ;;
esac
exec node "${flags[@]}" --test clients/js/test/*.test.mjs
