#!/usr/bin/env bash
# The whole Kith test suite, as CI runs it. Installs what it needs
# (Debian's tor for the private Tor network, Xvfb for the app's real-window check).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
start=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - start )) s)"; }

step "system packages"
scripts/ensure-tor.sh
scripts/ensure-gui.sh

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build (binaries the end-to-end suites run)"
cargo build --workspace --bins --locked

step "tests"
# --show-output: the end-to-end suites print their timings (network ready,
# onion service reachable, first message delivered).
cargo test --workspace --locked --no-fail-fast -- --show-output

step "the app in a real window (Xvfb)"
shots=$(mktemp -d -t kith-shots-XXXXXX)
scripts/screenshot-app.sh "$shots"
rm -rf "$shots"

if [ -x scripts/fuzz-smoke.sh ]; then
  step "fuzz smoke"
  scripts/fuzz-smoke.sh
fi

step "done"
