#!/usr/bin/env bash
# One command on a fresh machine: install what is missing, then run the API
# and a worker in one process on http://localhost:3000 (Ctrl-C to stop).
set -euo pipefail
cd "$(dirname "$0")/.."

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("taskhook needs Node.js >= 20.19 (found "+process.versions.node+")"); process.exit(1) }'
bash scripts/install-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
exec npm start
