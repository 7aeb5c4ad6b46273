#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerate the ClientHello fixtures of tests/unit/test_net_tlshello.c:
# the first bytes that real clients (openssl s_client, curl) send to a
# local listener that never answers. Run from this folder; needs python3,
# openssl and curl. The unit test checks the names and ALPN lists these
# commands ask for, so keep them in step.
set -euo pipefail
cd "$(dirname "$0")"

# capture FILE CLIENT-COMMAND...: the client's bytes until it stops
# sending (0.5 s of silence) into FILE.
capture() {
	local out=$1
	shift
	python3 - "$out" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 48443))
s.listen(1)
c, _ = s.accept()
c.settimeout(0.5)
data = b""
try:
    while len(data) < 65536:
        b = c.recv(65536)
        if not b:
            break
        data += b
except socket.timeout:
    pass
open(sys.argv[1], "wb").write(data)
PY
	local py=$!
	sleep 0.3
	timeout 3 "$@" >/dev/null 2>&1 </dev/null || true
	wait "$py"
}

capture openssl-tls13.bin openssl s_client -connect 127.0.0.1:48443 \
	-servername api.example.com -alpn h2,http/1.1
capture openssl-tls12.bin openssl s_client -connect 127.0.0.1:48443 \
	-servername Upstream.Test -tls1_2
capture openssl-nosni.bin openssl s_client -connect 127.0.0.1:48443 \
	-noservername
capture curl.bin curl -sk --connect-timeout 2 -m 2 \
	--resolve secret.example.org:48443:127.0.0.1 \
	https://secret.example.org:48443/
capture curl-http11.bin curl -sk --http1.1 -m 2 \
	--resolve www.example.net:48443:127.0.0.1 https://www.example.net:48443/
