#!/usr/bin/env bash
# Resident memory of the real kith-app through an hour of chat (issue 12, 1e).
#
#   scripts/bench-app-memory.sh [OUT_CSV]     (default: app-memory.csv)
#
# Runs the real `kith-app` window under Xvfb on a profile whose one contact is
# a `kith run` daemon; both talk plain TCP on 127.0.0.1 only (the app's
# --tcp), so the figures are the app's own, without arti's. The app is driven
# as a person would drive it, with xdotool: it types the password, opens the
# contact's conversation and keeps it open; the daemon sends a message every
# SEND_EVERY seconds (default 5) and the app answers one every REPLY_EVERY
# seconds (default 30, typed into the message field and sent with Enter).
# Every minute it writes a row: minutes, the app's VmRSS and VmHWM, its
# RssAnon, its CPU seconds, the daemon's VmRSS, messages the daemon has
# sent and received. At the end it checks that every message arrived both
# ways and takes a screenshot (OUT_CSV with .png) of the conversation.
#
# Environment: MINUTES (default 60), KITH_BIN_DIR (where `kith` and
# `kith-app` are; default target/release: `cargo build --release -p kith-cli
# -p kith-app`). Needs Xvfb, xdotool and ImageMagick (apt-get install -y xvfb
# xdotool imagemagick). Profiles use the default Argon2id (128 MiB): VmHWM
# includes that one unlock. Stops everything it started.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-app-memory.csv}")
MINUTES=${MINUTES:-60}
SEND_EVERY=${SEND_EVERY:-5}
REPLY_EVERY=${REPLY_EVERY:-30}
BIN=${KITH_BIN_DIR:-target/release}
K=$(realpath "$BIN/kith")
APP=$(realpath "$BIN/kith-app")
for t in Xvfb xdotool import; do
    command -v "$t" >/dev/null || { echo "$t is missing: apt-get install -y xvfb xdotool imagemagick" >&2; exit 1; }
done

DISP=""
for n in $(seq 90 140); do
    if [ ! -e "/tmp/.X$n-lock" ] && [ ! -e "/tmp/.X11-unix/X$n" ]; then DISP=":$n"; break; fi
done
[ -n "$DISP" ] || { echo "no free X display" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
APP_PORT=$(free_port)
PEER_PORT=$(free_port)

WORK=$(mktemp -d -t kith-appmem-XXXXXX)
XVFB_PID="" APP_PID="" ME_PID="" PEER_PID=""
cleanup() {
    for p in $APP_PID $ME_PID $PEER_PID $XVFB_PID; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

export KITH_PASSWORD="correct horse battery staple"
me() { "$K" --data-dir "$WORK/app" --profile me "$@"; }
peer() { "$K" --data-dir "$WORK/peer" --profile peer "$@"; }
wait_for() { # SECONDS WHAT COMMAND...
    local limit=$1 what=$2
    shift 2
    for _ in $(seq $((limit * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "timed out waiting for $what" >&2
    exit 1
}

# Two profiles, contacts of each other, made with the CLI.
me profile create me --display-name Me >/dev/null
peer profile create peer --display-name Peer >/dev/null
"$K" --data-dir "$WORK/app" --profile me run --transport tcp --listen "127.0.0.1:$APP_PORT" >"$WORK/me.log" 2>&1 &
ME_PID=$!
"$K" --data-dir "$WORK/peer" --profile peer run --transport tcp --listen "127.0.0.1:$PEER_PORT" >"$WORK/peer.log" 2>&1 &
PEER_PID=$!
wait_for 30 "the daemons" bash -c "'$K' --data-dir '$WORK/app' --profile me status --json | grep -q '\"online\"' && '$K' --data-dir '$WORK/peer' --profile peer status --json | grep -q '\"online\"'"
peer contact add "$(me link)" --alias me >/dev/null
wait_for 30 "the request" bash -c "'$K' --data-dir '$WORK/app' --profile me contact list --json | grep -q '\"state\":\"request\"'"
me contact accept Peer >/dev/null
wait_for 30 "the acceptance" bash -c "'$K' --data-dir '$WORK/peer' --profile peer contact list --json | grep -q '\"state\":\"accepted\"'"
kill "$ME_PID" && wait "$ME_PID" 2>/dev/null || true
ME_PID=""

# The app, in a real window.
Xvfb "$DISP" -screen 0 1100x720x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
sleep 2
export DISPLAY=$DISP WAYLAND_DISPLAY= LIBGL_ALWAYS_SOFTWARE=1 XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/data"
"$APP" --data-dir "$WORK/app" --tcp "127.0.0.1:$APP_PORT" --no-desktop-notifications >"$WORK/app.log" 2>&1 &
APP_PID=$!
sleep 8
WIN=$(xdotool search --name '^Kith$' | head -1)
xdotool windowfocus --sync "$WIN"
# The unlock screen (one profile, selected): the password field, then Enter.
xdotool mousemove 550 143 click 1
sleep 0.3
xdotool type --delay 30 "$KITH_PASSWORD"
xdotool key Return
# Unlocked and online: the daemon sees its contact online.
wait_for 60 "the app to unlock and go online" bash -c "'$K' --data-dir '$WORK/peer' --profile peer contact list --json | grep -q '\"online\":true'"
sleep 2
# The contact list's first (only) row opens the conversation: it comes
# after the Inbox, Blog and Feeds rows (y 196-264 in a 1100x720 window).
xdotool mousemove 290 230 click 1
sleep 2
# The message field.
xdotool mousemove 770 655 click 1

status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"; }
echo "minute,app_vmrss_kib,app_vmhwm_kib,app_rssanon_kib,app_cpu_s,daemon_vmrss_kib,sent_by_daemon,sent_by_app" >"$OUT"
sent=0 replies=0
row() {
    echo "$1,$(status "$APP_PID" VmRSS),$(status "$APP_PID" VmHWM),$(status "$APP_PID" RssAnon),$(cpu_s "$APP_PID"),$(status "$PEER_PID" VmRSS),$sent,$replies" >>"$OUT"
}
row 0
start=$(date +%s)
next_row=60
lorem="the meeting moves to the back entrance at seven, bring the banner and the flyers, and tell the others who asked"
while :; do
    now=$(($(date +%s) - start))
    ((now < MINUTES * 60)) || break
    kill -0 "$APP_PID" || { echo "kith-app exited; its log:" >&2; cat "$WORK/app.log" >&2; exit 1; }
    sent=$((sent + 1))
    peer send me "$sent: ${lorem:0:$((20 + (sent * 37) % 90))}" >/dev/null
    if ((sent * SEND_EVERY % REPLY_EVERY == 0)); then
        replies=$((replies + 1))
        xdotool type --delay 20 "reply $replies: ${lorem:0:$((10 + (replies * 53) % 60))}"
        xdotool key Return
    fi
    if ((now >= next_row)); then
        row $((next_row / 60))
        next_row=$((next_row + 60))
    fi
    sleep "$SEND_EVERY"
done
row "$MINUTES"
sleep 10
import -window root "${OUT%.csv}.png"
got_in=$(peer messages me | grep -c '^< ' || true)
got_out=$(peer messages me | grep -c '^> .*\[delivered\]' || true)
echo "daemon sent $sent, delivered $got_out; app sent $replies, daemon received $got_in"
[ "$got_out" -eq "$sent" ] && [ "$got_in" -eq "$replies" ] || { echo "messages missing" >&2; exit 1; }
echo "wrote $OUT"
