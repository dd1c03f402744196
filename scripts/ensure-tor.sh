#!/usr/bin/env bash
# Install Debian's C tor (tor, tor-gencert) for the private Tor network the
# test suite starts on 127.0.0.1, and obfs4proxy, the obfs4 pluggable
# transport (the bridge tests run it on both ends; `kith run --bridge obfs4 …`
# needs it). Idempotent: does nothing when all three exist.
# The suite starts its own tor processes; it never uses a system tor service.
set -euo pipefail

have_all() {
  command -v tor >/dev/null && command -v tor-gencert >/dev/null && command -v obfs4proxy >/dev/null
}
if have_all; then
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Keep the package's service from starting a system tor on 9050 (where an
# init system exists at all): policy-rc.d exit 101 = "action forbidden".
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi

# Only refresh the package lists when they do not know the package yet.
if ! apt-cache show tor >/dev/null 2>&1 || ! apt-cache show obfs4proxy >/dev/null 2>&1; then
  $SUDO apt-get update -q
fi
install() { $SUDO apt-get install -y -q --no-install-recommends tor obfs4proxy; }
# Stale lists can name a version the mirror no longer has: refresh, retry.
install || { $SUDO apt-get update -q && install; }

have_all
