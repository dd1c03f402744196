#!/usr/bin/env bash
# Take screenshots of the real kith-app window under Xvfb.
#
#   scripts/screenshot-app.sh [OUT_DIR]      (default: docs/screenshots)
#
# Writes OUT_DIR/onboarding.png (first start, empty temporary data folder) and
# OUT_DIR/chat.png (the test-only --screenshot-demo: throwaway profiles in a
# temporary folder, talking plain TCP on 127.0.0.1 only). Installs Xvfb and
# ImageMagick with apt-get when missing (scripts/ensure-gui.sh). Fails when a
# window draws nothing. Stops everything it started.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${1:-docs/screenshots}
mkdir -p "$OUT"

scripts/ensure-gui.sh

# The test suite's debug build (same features as the workspace build: no rebuild).
cargo build --workspace --bins --locked
BIN=target/debug/kith-app

# A free display number.
DISP=""
for n in $(seq 90 140); do
    if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then DISP=":$n"; break; fi
done
[ -n "$DISP" ] || { echo "no free X display" >&2; exit 1; }

WORK=$(mktemp -d -t kith-shots-XXXXXX)
XVFB_PID=""
APP_PID=""
cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null && wait "$APP_PID" 2>/dev/null || true
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null && wait "$XVFB_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# -nolisten tcp: the X server opens no network port.
Xvfb "$DISP" -screen 0 1100x720x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 50); do
    DISPLAY=$DISP xdpyinfo >/dev/null 2>&1 && break
    [ -e "/tmp/.X11-unix/X${DISP#:}" ] && break
    sleep 0.1
done

# Software rendering is all Xvfb has; no session bus, no desktop notifications.
export DISPLAY=$DISP WAYLAND_DISPLAY= LIBGL_ALWAYS_SOFTWARE=1 XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/data"

shoot() { # NAME SECONDS ARGS...
    local name=$1 secs=$2
    shift 2
    "$BIN" "$@" >"$WORK/$name.log" 2>&1 &
    APP_PID=$!
    sleep "$secs"
    if ! kill -0 "$APP_PID" 2>/dev/null; then
        echo "kith-app exited early; its log:" >&2
        cat "$WORK/$name.log" >&2
        exit 1
    fi
    import -window root "$OUT/$name.png"
    # A window that drew nothing leaves a uniform screen.
    local spread
    spread=$(convert "$OUT/$name.png" -format '%[fx:standard_deviation]' info:)
    if awk -v s="$spread" 'BEGIN { exit !(s < 0.01) }'; then
        echo "$OUT/$name.png is blank: the window drew nothing; its log:" >&2
        cat "$WORK/$name.log" >&2
        exit 1
    fi
    kill "$APP_PID"
    wait "$APP_PID" 2>/dev/null || true
    APP_PID=""
    echo "wrote $OUT/$name.png"
}

# First start: an empty data folder, and never online (nothing to connect).
shoot onboarding 6 --data-dir "$WORK/empty" --offline --no-desktop-notifications
# A populated chat: in-process profiles over 127.0.0.1.
shoot chat 12 --screenshot-demo
