#!/usr/bin/env bash
# One command on a fresh machine: install what the tests need when it is
# missing (redis-server, ffmpeg, Chromium, npm packages), then run `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm test
