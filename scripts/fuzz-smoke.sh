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
log=$(mktemp -t kith-fuzz-XXXXXX)
trap 'rm -f "$log"' EXIT
for t in $(cargo +nightly fuzz list); do
  echo "fuzz smoke: $t for ${secs}s"
  if ! cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 >"$log" 2>&1; then
    # The panic, the failing input and how to reproduce it.
    grep -a -E "panicked at|^Failing input|artifacts/|Base64" "$log" || true
    tail -n 40 "$log"
    exit 1
  fi
  grep -a "^Done" "$log" || tail -n 1 "$log"
done
# The inbound path, the picture previews and feed bodies through kith-node (builds arti
# under the sanitizers: long).
if [ "${KITH_FUZZ_NODE:-0}" = 1 ]; then
  cd node
  for t in inbound preview feed_body; do
    echo "fuzz smoke: $t for ${secs}s"
    if ! cargo +nightly fuzz run --fuzz-dir . "$t" -- -max_total_time="$secs" -rss_limit_mb=4096 >"$log" 2>&1; then
      grep -a -E "panicked at|^Failing input|artifacts/|Base64" "$log" || true
      tail -n 40 "$log"
      exit 1
    fi
    grep -a "^Done" "$log" || tail -n 1 "$log"
  done
fi
