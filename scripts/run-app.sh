#!/usr/bin/env bash
# Run the Kith desktop app on embedded defaults (Tor built in, platform data directory).
# On a fresh Debian machine, installs the window-system libraries eframe loads at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
libs=(libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 libx11-xcb1 libwayland-client0 libwayland-cursor0 libwayland-egl1 libgl1 libegl1)
missing=()
for l in "${libs[@]}"; do
  dpkg -s "$l" >/dev/null 2>&1 || missing+=("$l")
done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
exec cargo run --release -p kith-app -- "$@"
