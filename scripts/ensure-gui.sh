#!/usr/bin/env bash
# Install what the app's tests need on a fresh Debian machine: eframe's
# window-system libraries, Mesa's software OpenGL (the UI tests render with
# wgpu on it), and Xvfb + ImageMagick for the real-window screenshots.
# Idempotent: installs only what is missing.
set -euo pipefail

need=()
command -v Xvfb >/dev/null || need+=(xvfb)
# `import` is ImageMagick's screen grabber.
command -v import >/dev/null || need+=(imagemagick)
command -v xdpyinfo >/dev/null || need+=(x11-utils)
for lib in libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 libx11-xcb1 libgl1 libegl1 libegl-mesa0 libgl1-mesa-dri; do
    dpkg -s "$lib" >/dev/null 2>&1 || need+=("$lib")
done
((${#need[@]})) || exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
install() { $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"; }
# Stale lists can name a version the mirror no longer has: refresh, retry.
install || { $SUDO apt-get update -q && install; }
