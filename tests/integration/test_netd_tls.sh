#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# msb-netd's TLS interception and secrets with real clients and no VM:
# the lab of test_netd.sh (netlab.sh: a "guest" namespace behind a TAP
# device bridged to netd's link, netd's namespace, an "internet"
# namespace), with HTTPS servers (tls_servers.py) whose certificates come
# from an upstream CA made here (tlslab.sh), given to netd as upstream_ca.
# The guest's clients (curl, python3, openssl s_client, git) trust only
# the sandbox CA, which is made here too and given to netd with the
# secrets through --tls-fd.
#
#   test_netd_tls.sh MSB_NETD TAPBRIDGE
set -u
netd=$1
bridge=$2
here=$(cd "$(dirname "$0")" && pwd)
lab=$here/netd_lab.py
srv=$here/tls_servers.py
py=/usr/bin/python3
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY

work=$(mktemp -d /tmp/test_netd_tls.XXXXXX)
. "$here/lib.sh"
. "$here/tlslab.sh"
trap 'rm -rf "$work"' EXIT

addr='"guest_mac":"02:00:00:00:00:02","guest_ip":"100.96.0.2","gateway_mac":"02:00:00:00:00:01","gateway_ip":"100.96.0.1"'
# --- the configuration: checked before anything starts ------------------
badconf() {
	printf '%s\n' "$3" >"$work/bad.json"
	expect "config: $1" 1 "$netd" --link-fd 0 --config "$work/bad.json" "${@:4}"
	contains "config: $1 (message)" "$work/err" "$2"
}
badconf "tls without --tls-fd" '--tls-fd is required' "{$addr,\"tls\":{}}"
badconf "a tls port 0" 'tls.ports[0]: not an integer in [1, 65535]' \
	"{$addr,\"tls\":{\"ports\":[0]}}"
badconf "an unknown tls key" 'tls: unknown key "port"' \
	"{$addr,\"tls\":{\"port\":443}}"
badconf "a bad bypass name" 'tls.bypass[1]: not a name or *.suffix' \
	"{$addr,\"tls\":{\"bypass\":[\"a.test\",\"a b\"]}}"
echo '{}' >"$work/empty.json"
badconf "--tls-fd without tls" 'the configuration has no "tls"' \
	"{$addr}" --tls-fd 1
printf '%s\n' "{$addr,\"tls\":{}}" >"$work/bad.json"
expect "config: --tls-fd without a CA" 1 sh -c \
	"exec '$netd' --link-fd 0 --config '$work/bad.json' --tls-fd 5 5<'$work/empty.json'"
contains "config: --tls-fd without a CA (message)" "$work/err" \
	'--tls-fd: ca_cert and ca_key are required'
[ $fail = 0 ] || exit 1

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (ip netns)"
	exit 77
fi
for t in ip curl dig dnsmasq git openssl "$py"; do
	command -v "$t" >/dev/null || {
		echo "SKIP: $t not installed"
		exit 77
	}
done
[ -c /dev/net/tun ] || {
	echo "SKIP: no /dev/net/tun"
	exit 77
}

G=msbs$$g N=msbs$$n I=msbs$$i
netd_pid=
. "$here/netlab.sh"
cleanup() {
	[ -n "$netd_pid" ] && kill "$netd_pid" 2>/dev/null
	netlab_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
in_g() { ip netns exec $G "$@"; }

# --- certificates and secrets --------------------------------------------
up=$work/up
tlslab_standard "$up" api.test www.test pinned.test 1.2.3.4 || exit 1
tlslab_ca "$work/sb" sandbox || exit 1 # the sandbox CA (msb makes it)
sbca=$work/sb/sandbox.pem
PH='$MSB_API_KEY_0123456789abcdef'
VAL='sk-real-Value/42+x'
PH2='$MSB_BODY_KEY_fedcba9876543210' # substituted in bodies too
VAL2='body-Secret-7'
"$py" - "$work" "$PH" "$VAL" "$PH2" "$VAL2" <<'EOF'
import json, sys
w, ph, val, ph2, val2 = sys.argv[1:]
json.dump({"ca_cert": open(w + "/sb/sandbox.pem").read(),
           "ca_key": open(w + "/sb/sandbox.key").read(),
           "upstream_ca": open(w + "/up/ca.pem").read(),
           "secrets": [{"name": "API_KEY", "placeholder": ph, "value": val,
                        "hosts": ["api.test"], "body": False},
                       {"name": "BODY_KEY", "placeholder": ph2, "value": val2,
                        "hosts": ["api.test"], "body": True}]},
          open(w + "/tls.json", "w"))
EOF

# --- the lab -------------------------------------------------------------
netlab_ns $G $N $I
netlab_internet $N $I
netlab_resolv $G "nameserver 100.96.0.1"
netlab_resolv $I "nameserver 1.2.3.53"
cat >"$work/hosts" <<EOF
1.2.3.5 api.test
1.2.3.4 www.test pinned.test proxy.test git.test
EOF
netlab_dnsmasq $I "$work/hosts"
serve() { # serve NAME MODE ADDR PORT ARGS...
	local name=$1
	shift
	netlab_bg ip netns exec $I "$py" "$srv" "$1" --addr "$2" --port "$3" \
		--ready "$work/$name.ready" --log "$work/$name.log" "${@:4}"
}
good=(--cert "$up/good.chain.pem" --key "$up/good.key")
serve api echo 1.2.3.5 443 "${good[@]}"
serve www echo 1.2.3.4 443 "${good[@]}"
serve alien echo 1.2.3.5 8443 --cert "$up/alien.chain.pem" --key "$up/alien.key"
serve expired echo 1.2.3.5 8444 --cert "$up/expired.chain.pem" --key "$up/expired.key"
serve plain echo 1.2.3.4 80 --plain
serve plain443 echo 1.2.3.53 443 --plain
serve proxy proxy 1.2.3.4 3128
# git: a repository served with Basic auth whose password is the secret
git init -q -b main "$work/src"
echo hello >"$work/src/README"
git -C "$work/src" add README
git -C "$work/src" -c user.name=t -c user.email=t@t commit -qm one
mkdir -p "$work/repos"
git clone -q --bare "$work/src" "$work/repos/r.git"
printf 'user:%s\n' "$VAL" >"$work/basic"
serve git git 1.2.3.5 9443 "${good[@]}" --repo "$work/repos" --basic-file "$work/basic"
# a TCP echo on 1.2.3.53:8443, not HTTP nor TLS
netlab_bg ip netns exec $I "$py" -c '
import socketserver
class H(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            d = self.request.recv(4096)
            if not d: break
            self.request.sendall(d)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("1.2.3.53", 8443), H).serve_forever()'

cat >"$work/netd.json" <<EOF
{
  "sandbox": "lab",
  $addr, "prefix": 30, "mtu": 1500,
  "policy": ["preset public", "block-domain blocked.test"],
  "resolvers": ["1.2.3.53"],
  "timeouts": {"handshake": 3},
  "tls": {"intercept": true, "ports": [443, 8443, 8444, 9443],
	  "bypass": ["pinned.test"]}
}
EOF
# SSL_CERT_FILE to nowhere: the trust store netd's jail gives it (no
# /etc, so the bundle's parts under /usr/share/ca-certificates)
netlab_bg in_g "$bridge" -p "$work/netd.pid" mt0 \
	ip netns exec $N env SSL_CERT_FILE=/nonexistent "$netd" --link-fd 3 --config "$work/netd.json" \
	--log "$work/net.log" --stats "$work/stats.json" --tls-fd 7 7<"$work/tls.json"
wait_for "netd up" 20 test -s "$work/stats.json" || exit 1
netd_pid=$(cat "$work/netd.pid")
wait_for "tap" 20 ip -n $G link show mt0 || exit 1
ip -n $G link set mt0 address 02:00:00:00:00:02
ip -n $G link set mt0 up
ip -n $G addr add 100.96.0.2/30 dev mt0
ip -n $G route add default via 100.96.0.1
for s in api www alien expired plain plain443 proxy git; do
	wait_for "server $s" 20 test -e "$work/$s.ready" || exit 1
done
wait_for "dnsmasq" 20 sh -c "ip netns exec $I dig +time=1 +tries=1 @1.2.3.53 api.test | grep -q 'status: NOERROR'" ||
	exit 1
contains "the start line says what is intercepted" "$work/net.log" \
	"tls: intercept on, ports 443,8443,8444,9443, 1 bypassed, 2 secrets, "
n=$(sed -n 's/.*tls: .* \([0-9]*\) upstream CAs trusted.*/\1/p' "$work/net.log")
[ "${n:-0}" -gt 1 ] && ok "the host's CAs are trusted without /etc/ssl ($n)" ||
	bad "upstream CAs trusted: ${n:-none}"

# c ARGS...: curl in the guest trusting the sandbox CA only
c() { in_g curl -sS --max-time 20 --cacert "$sbca" "$@"; }
logged() { # logged DESC TEXT: net.log gets a line with TEXT
	wait_for "$1" 10 grep -qF -- "$2" "$work/net.log" && ok "$1"
}

# --- secrets ---------------------------------------------------------
expect "a secret in a header, to its host" 0 \
	c "https://api.test/v1/x?key=$PH&b=1" -H "Authorization: Bearer $PH"
contains "the server got the value in the header" "$work/out" "Bearer $VAL"
contains "...in the query string, percent-encoded" "$work/out" \
	'key=sk-real-Value%2F42%2Bx&b=1'
expect "a secret in Basic credentials" 0 c -u "user:$PH" https://api.test/basic
contains "...the server got the value" "$work/out" "\"basic\": \"user:$VAL\""
contains "the upstream leg offered ALPN http/1.1" "$work/out" '"alpn": "http/1.1"'
contains "the upstream leg sent the SNI" "$work/out" '"sni": "api.test"'
logged "an http event names the secret, not the value" \
	'http GET api.test/v1/x?... status=200'
grep -F 'http GET api.test/v1/x?...' "$work/net.log" | grep -q 'secrets=API_KEY sandbox="lab"' &&
	ok "...with secrets=API_KEY" || bad "http event: $(grep 'http GET' "$work/net.log")"
grep -qF -- "$VAL" "$work/net.log" && bad "the value is in net.log" || ok "the value is not in net.log"

printf 'GET /s HTTP/1.1\r\nHost: api.test\r\nX-Key: %s\r\nConnection: close\r\n\r\n' "$PH" >"$work/sreq"
# (the server closes without close_notify, and netd passes that on: s_client
# exits 1 for it, as it would talking to the server directly)
expect "openssl s_client: a secret substituted" 0 sh -c \
	"ip netns exec $G openssl s_client -quiet -connect api.test:443 -servername api.test -CAfile '$sbca' -verify_return_error <'$work/sreq'; true"
contains "...the server got the value" "$work/out" "\"X-Key\", \"$VAL\""

expect "a placeholder to another host is answered 403" 0 \
	c -o "$work/body" -w '%{http_code}' https://www.test/ -H "X-Key: $PH"
[ "$(cat "$work/out")" = 403 ] && ok "...status 403" || bad "status $(cat "$work/out")"
grep -q '^msb: blocked: ' "$work/body" && ok "...the body says msb: blocked" ||
	bad "403 body: $(cat "$work/body")"
logged "...and a deny https event" 'deny https www.test:443 sandbox="lab" reason='
grep -q "X-Key" "$work/www.log" 2>/dev/null && bad "www.test saw the request" ||
	ok "www.test never saw it"

expect "a placeholder over plain HTTP is answered 403" 0 \
	in_g curl -sS --max-time 20 -o "$work/body" -w '%{http_code}' http://www.test/ -H "X-Key: $PH"
[ "$(cat "$work/out")" = 403 ] && ok "...status 403" || bad "plain: status $(cat "$work/out")"
expect "plain HTTP without a placeholder passes" 0 in_g curl -sS --max-time 20 http://www.test/plain
contains "...to the server" "$work/out" '"target": "/plain"'

expect "Host other than the SNI is answered 403" 0 \
	c -o "$work/body" -w '%{http_code}' https://api.test/ -H "Host: www.test" -H "X-Key: $PH"
[ "$(cat "$work/out")" = 403 ] && ok "...status 403" || bad "Host: status $(cat "$work/out")"

lph=msb_api_key_0123456789abcdef.api.test
expect "a placeholder in the SNI is refused" 35 \
	c --resolve "$lph:443:1.2.3.5" "https://$lph/"
logged "...with a deny https event" "deny https $lph:443"
expect "a placeholder in a DNS name is REFUSED" 0 \
	in_g dig +time=5 +tries=1 @100.96.0.1 "$lph"
contains "...status REFUSED" "$work/out" "status: REFUSED"
logged "...with a deny dns event" "deny dns $lph"
expect "...with its \$ and in upper case too" 0 \
	in_g dig +time=5 +tries=1 @100.96.0.1 "\$MSB_API_KEY_0123456789ABCDEF.test"
contains "...status REFUSED" "$work/out" "status: REFUSED"

expect "no server name: verified for the address, a leaf for it" 0 \
	c https://1.2.3.4/noname
contains "...the server got it without SNI" "$work/out" '"sni": null'
expect "a blocked domain as the TLS server name is refused" 35 \
	c --resolve blocked.test:443:1.2.3.4 https://blocked.test/
logged "...with a deny event" 'deny https blocked.test:443 sandbox="lab" reason="blocked domain (the TLS server name)"'

# --- upstream certificates -------------------------------------------
expect "a bypassed host passes with the upstream's own certificate" 0 \
	in_g curl -sS --max-time 20 --cacert "$up/ca.pem" https://pinned.test/
contains "...to the server" "$work/out" '"sni": "pinned.test"'
expect "...which the sandbox CA alone does not verify" 60 c https://pinned.test/
expect "an upstream certificate from another CA: the client fails" 35 \
	c https://api.test:8443/
logged "...and the event says why" \
	'deny https api.test:8443 sandbox="lab" reason="the server'"'"'s certificate does not verify: '
expect "an expired upstream certificate: the client fails" 35 \
	c https://api.test:8444/
logged "...and the event says why" 'certificate has expired'

# --- bodies, keep-alive, pipelining ------------------------------------
printf 'a body with %s in it\n' "$PH" | gzip -c >"$work/body.gz"
want=$(sha256sum <"$work/body.gz" | cut -d' ' -f1)
expect "a gzip request body passes untouched" 0 \
	c --data-binary @"$work/body.gz" -H "Content-Encoding: gzip" https://api.test/upload
contains "...the server got the same bytes" "$work/out" "\"body_sha256\": \"$want\""
expect "a gzip response passes untouched" 0 c -o "$work/resp.gz" https://api.test/gzip
expect "...and decompresses" 0 sh -c "gzip -dc '$work/resp.gz' | grep -q '\"target\": \"/gzip\"'"
expect "a chunked request body" 0 \
	c -H "Transfer-Encoding: chunked" --data-binary @"$work/body.gz" https://api.test/chunked
contains "...arrives whole" "$work/out" "\"body_sha256\": \"$want\""
expect "a 4 MiB response" 0 c -o "$work/big" -D "$work/hdr" "https://api.test/big?n=4194304"
sum=$(sha256sum <"$work/big" | cut -d' ' -f1)
grep -qi "x-body-sha256: $sum" "$work/hdr" && ok "...arrives intact" || bad "4 MiB: digest differs"

# bodies: only BODY_KEY ("body": true), only to its host
printf '{"k": "%s"}' "$PH2" >"$work/b2.json"
want=$(printf '{"k": "%s"}' "$VAL2" | sha256sum | cut -d' ' -f1)
expect "a body secret in a body, to its host" 0 \
	c --data-binary @"$work/b2.json" https://api.test/body
contains "...substituted" "$work/out" "\"body_sha256\": \"$want\""
expect "...in a chunked body" 0 \
	c -H "Transfer-Encoding: chunked" --data-binary @"$work/b2.json" https://api.test/body
contains "...substituted" "$work/out" "\"body_sha256\": \"$want\""
contains "...and sent with a Content-Length" "$work/out" \
	"[\"Content-Length\", \"$(printf '{"k": "%s"}' "$VAL2" | wc -c)\"]"
expect "...with Expect: 100-continue (netd answers the 100)" 0 \
	c -H "Expect: 100-continue" --expect100-timeout 10 -w '\ntime=%{time_total}' \
	--data-binary @"$work/b2.json" https://api.test/body
contains "...substituted" "$work/out" "\"body_sha256\": \"$want\""
t=$(sed -n 's/^time=//p' "$work/out")
"$py" -c "import sys; sys.exit(0 if float('$t') < 5 else 1)" &&
	ok "...without waiting for the client's timeout" || bad "Expect: took $t s"
want=$(sha256sum <"$work/b2.json" | cut -d' ' -f1)
expect "a body secret in a body to another host" 0 \
	c --data-binary @"$work/b2.json" https://www.test/body
contains "...passes untouched" "$work/out" "\"body_sha256\": \"$want\""
printf '{"k": "%s"}' "$PH" >"$work/b1.json"
expect "a secret that is not for bodies, in a body" 0 \
	c -o /dev/null -w '%{http_code}' --data-binary @"$work/b1.json" https://api.test/body
[ "$(cat "$work/out")" = 403 ] && ok "...is answered 403" || bad "body with API_KEY: status $(cat "$work/out")"

cat >"$work/client.py" <<'EOF'
import http.client, json, socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
mode = sys.argv[1]
if mode == "keepalive":
    c = http.client.HTTPSConnection("api.test", context=ctx, timeout=20)
    seen = []
    for i in range(3):
        c.request("GET", "/k%d" % i, headers={"X-Key": sys.argv[3]})
        r = json.loads(c.getresponse().read())
        seen.append((r["conn"], r["seq"], sys.argv[4] in json.dumps(r)))
    print(seen)
elif mode == "pipeline":
    s = ctx.wrap_socket(socket.create_connection(("api.test", 443), 20),
                        server_hostname="api.test")
    req = "GET /p%d HTTP/1.1\r\nHost: api.test\r\nX-Key: " + sys.argv[3] + "\r\n\r\n"
    s.sendall(((req % 1) + (req % 2) + (req % 3).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")).encode())
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    print(data.count(b"HTTP/1.1 200"), data.count(sys.argv[4].encode()))
elif mode == "raw":
    # send argv[3] (Python bytes literal) over TLS, print the answer's
    # first line, or the error
    s = ctx.wrap_socket(socket.create_connection(("api.test", 443), 20),
                        server_hostname="api.test")
    try:
        s.sendall(eval(sys.argv[3]))
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        print(data.split(b"\r\n")[0].decode(), data.split(b"\r\n\r\n", 1)[-1].decode().strip())
    except OSError as e:
        print("error", e)
elif mode == "many":
    # to the address (one lookup would be 200 against netd's dns_rate)
    for i in range(int(sys.argv[3])):
        s = ctx.wrap_socket(socket.create_connection(("1.2.3.5", 443), 20),
                            server_hostname="api.test")
        s.sendall(b"GET /m HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n")
        d = b""
        while True:
            try:
                x = s.recv(65536)
            except ssl.SSLError:
                break
            if not x:
                break
            d += x
        assert d.startswith(b"HTTP/1.1 200"), d[:100]
        s.close()
    print("done")
EOF
expect "keep-alive: three requests on one connection" 0 \
	in_g "$py" "$work/client.py" keepalive "$sbca" "$PH" "$VAL"
grep -q '^\[(\([0-9]*\), 1, True), (\1, 2, True), (\1, 3, True)\]$' "$work/out" &&
	ok "...on one connection, each substituted" || bad "keep-alive: $(cat "$work/out")"
expect "pipelined requests" 0 in_g "$py" "$work/client.py" pipeline "$sbca" "$PH" "$VAL"
contains "...three answers, each substituted" "$work/out" "3 3"

is() { # is DESC WANT-PREFIX CMD...: CMD's output starts with WANT-PREFIX
	local desc=$1 want=$2 got
	shift 2
	got=$("$@" 2>&1)
	case $got in "$want"*) ok "$desc" ;; *) bad "$desc: got '$got'" ;; esac
}
is "a request that is not HTTP inside TLS: 403" \
	"HTTP/1.1 403 Forbidden msb: blocked: a malformed request" \
	in_g "$py" "$work/client.py" raw "$sbca" 'b"\x00\x01\x02 binary\r\n\r\n"'
is "a request smuggling Content-Length and chunked: 403" \
	"HTTP/1.1 403 Forbidden msb: blocked: a malformed request" \
	in_g "$py" "$work/client.py" raw "$sbca" \
	'b"POST / HTTP/1.1\r\nHost: api.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"'
is "a request head over 64 KiB: 403" \
	"HTTP/1.1 403 Forbidden msb: blocked: a malformed request: request head is too long" \
	in_g "$py" "$work/client.py" raw "$sbca" \
	'b"GET / HTTP/1.1\r\nHost: api.test\r\n" + b"X-A: " + b"a" * 70000 + b"\r\n\r\n"'
got=$(in_g "$py" -c '
import socket
s = socket.create_connection(("1.2.3.5", 443), 10)
s.sendall(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\xff")
try:
    print(s.recv(100))
except OSError as e:
    print("error", e.errno)' 2>&1)
case $got in "b'\\x15\\x03\\x03\\x00\\x02\\x02"* | "b''" | "error 104") ok "a malformed ClientHello is refused" ;;
*) bad "malformed ClientHello: $got" ;; esac
logged "...with a deny event" 'deny https 1.2.3.5:443 sandbox="lab"'

# --- CONNECT, git, raw ----------------------------------------------------
expect "HTTPS through a CONNECT proxy, secret substituted" 0 \
	c -x http://proxy.test:3128 https://api.test/viaproxy -H "Authorization: Bearer $PH"
contains "...the server got the value" "$work/out" "Bearer $VAL"
expect "git clone over HTTPS with the secret as password" 0 \
	in_g env GIT_SSL_CAINFO="$sbca" GIT_TERMINAL_PROMPT=0 \
	git clone -q "https://user:$PH@api.test:9443/r.git" "$work/clone"
[ "$(cat "$work/clone/README" 2>/dev/null)" = hello ] && ok "...the clone has the file" ||
	bad "git clone: no README"
expect "plain HTTP on an intercepted port passes" 0 \
	in_g curl -sS --max-time 20 http://1.2.3.53:443/on443
contains "...to the server" "$work/out" '"target": "/on443"'
got=$(in_g "$py" -c '
import socket
s = socket.create_connection(("1.2.3.53", 8443), 10)
s.sendall(b"\x00\x01 not TLS\n")
s.shutdown(socket.SHUT_WR)
d = b""
while True:
    x = s.recv(100)
    if not x: break
    d += x
print(d == b"\x00\x01 not TLS\n")' 2>&1)
[ "$got" = True ] && ok "a non-TLS flow on an intercepted port passes raw" ||
	bad "raw on 8443: $got"

cat >"$work/stall.py" <<'EOF'
import socket, ssl, sys, time
# a ClientHello, then silence: the guest leg never completes
ctx = ssl.create_default_context(cafile=sys.argv[1])
i, out = ssl.MemoryBIO(), ssl.MemoryBIO()
t = ctx.wrap_bio(i, out, server_hostname="api.test")
try:
    t.do_handshake()
except ssl.SSLWantReadError:
    pass
s = socket.create_connection(("1.2.3.5", 443), 10)
s.sendall(out.read())
s.settimeout(30)
t0 = time.monotonic()
try:
    while s.recv(65536):
        pass
except OSError:
    pass
print("closed" if time.monotonic() - t0 < 25 else "still open")
EOF
got=$(in_g "$py" "$work/stall.py" "$sbca" 2>&1)
[ "$got" = closed ] && ok "a guest that stalls its TLS handshake is cut off" ||
	bad "stalled handshake: $got"
logged "...with a refuse event" "the guest's TLS handshake did not complete in time"

# --- stats, memory ----------------------------------------------------
wait_for "stats" 10 grep -q '"secrets_substituted":[1-9]' "$work/stats.json"
for k in tls_flows http_requests http_blocked secrets_substituted; do
	grep -q "\"$k\":[1-9]" "$work/stats.json" && ok "stats: $k counted" ||
		bad "stats: $k: $(cat "$work/stats.json")"
done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$netd_pid/status"; }
fds() { ls "/proc/$netd_pid/fd" | wc -l; }
in_g "$py" "$work/client.py" many "$sbca" 20 >/dev/null
rss0=$(rss) fd0=$(fds)
expect "200 TLS connections" 0 in_g "$py" "$work/client.py" many "$sbca" 200
wait_for "descriptors back" 30 sh -c "[ \$(ls /proc/$netd_pid/fd | wc -l) -le $((fd0 + 2)) ]"
rss1=$(rss)
echo "# netd RSS ${rss0} kB -> ${rss1} kB, descriptors $fd0 -> $(fds)"
[ $((rss1 - rss0)) -lt 16384 ] && ok "RSS grew less than 16 MiB" ||
	bad "RSS grew from $rss0 to $rss1 kB"
kill -0 "$netd_pid" && ok "netd still runs" || bad "netd died"
grep -q 'seccomp: system call' "$work/net.log" && bad "seccomp: $(grep seccomp "$work/net.log")"

echo "# passed $pass, failed $fail"
[ $fail = 0 ]
