#!/usr/bin/env bash
# A short run of every cargo-fuzz target (the long runs are step 7 of the roadmap).
# Needs the nightly toolchain (installed by rustup here); installs cargo-fuzz if missing.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${FUZZ_SECONDS:-15}
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz smoke: no nightly toolchain; the proptest runs of the same entry points cover stable" >&2
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
for t in $(cargo +nightly fuzz list); do
  echo "fuzz smoke: $t for ${secs}s"
  cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 2>&1 | tail -n 3
done
