#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tls_mint.sh - what msb-netd pays for a leaf certificate when it
# intercepts TLS, without a VM: msb_ca_mint() for new names (cold),
# msb_ca_cache_get() missing in a full cache, and hitting it (cached);
# per-operation medians and means in microseconds and the ratio cold /
# cached. bench/tls.sh runs it first.
#   bench/tls_mint.sh [N [CAP]]   (default 2000 mints, a cache of 256)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$src/build/bench/ca_mint
[ -x "$bin" ] || { echo "tls_mint.sh: $bin not found: build first (ninja -C build)" >&2; exit 1; }
echo "== leaf certificates (bench/tls_mint.sh; $(nproc) cores, $(openssl version 2>/dev/null || echo OpenSSL))"
"$bin" "${1:-2000}" "${2:-256}"
