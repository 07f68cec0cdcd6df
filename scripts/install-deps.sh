#!/usr/bin/env bash
# Installs the system tools taskhook needs when they are missing: redis-server
# (queues and callbacks) and ffmpeg/ffprobe (video and audio tasks); with
# --test also Chromium (the dashboard's browser test).
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
{ command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; } || need+=(ffmpeg)
if [ "${1:-}" = "--test" ] && [ ! -x /usr/bin/chromium ]; then
  command -v apt-get >/dev/null 2>&1 && need+=(chromium)
fi
[ ${#need[@]} -eq 0 ] && exit 0

echo "taskhook: installing ${need[*]}"
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
elif command -v brew >/dev/null 2>&1; then
  pkgs=()
  for p in "${need[@]}"; do [ "$p" = redis-server ] && pkgs+=(redis) || pkgs+=("$p"); done
  brew install "${pkgs[@]}"
else
  echo "taskhook: please install ${need[*]} with your package manager" >&2
  exit 1
fi
