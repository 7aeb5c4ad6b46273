#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# TLS interception and secrets end to end (issue 12; docs/network.md,
# "TLS interception and secrets"): real clients in a Debian guest (curl,
# python urllib and http.client, git, openssl s_client), msb and its netd
# in a network namespace, the test's own upstream CA and HTTPS servers
# (tls_servers.py) in an "internet" namespace, names from dnsmasq, the
# netlab of test_net_guest.sh:
#   1.2.3.5  api.test v2.api.test: echo (HTTPS :443 and :8443, HTTP :80)
#   1.2.3.4  other.test: echo (HTTPS)      1.2.3.6  git.test: git (Basic)
#   1.2.3.12 gitpub.test: git (no auth)    1.2.3.10 pinned.test: echo
#   1.2.3.7  alien.test (certificate of another CA), 1.2.3.8 wrong.test
#            (a certificate for another name), 1.2.3.9 expired.test
#   1.2.3.11 proxy.test: a CONNECT proxy on :3128
# Two sandboxes stay booted: s1 (secrets, --tls-ca, a bypass) and s2
# (--tls-intercept, ports 443 and 8443, no --tls-ca). The secrets' values
# are random and reach msb only through its environment (`--secret
# NAME@HOST`); the test then looks for them where they must not be: the
# guest's environment and memory (the state file of `msb suspend`), and
# every file under MSB_HOME but secrets.json.
#
#   test_tls.sh MSB
set -u
msb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
lab=$here/netd_lab.py
srv=$here/tls_servers.py

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root"
	exit 77
fi
for t in ip dnsmasq "$py" debootstrap mkfs.ext4 sha256sum openssl git; do
	command -v "$t" >/dev/null || {
		echo "SKIP: $t not installed"
		exit 77
	}
done
[ -x /usr/lib/git-core/git-http-backend ] || {
	echo "SKIP: git http-backend not installed"
	exit 77
}

work=$(mktemp -d /tmp/test_tls.XXXXXX)
apilog=$work/srv/api.log
export MSB_HOME=$work/home
. "$here/lib.sh"
A=msbtl$$a I=msbtl$$i
. "$here/netlab.sh"
. "$here/tlslab.sh"
cleanup() {
	ip netns exec $A "$msb" rm -f s1 s2 >/dev/null 2>&1
	netlab_cleanup
	rm -rf "$work"
}
trap cleanup EXIT

# seen DESC TARGET TEXT: api.test's log has TEXT in a request for TARGET
seen() {
	if grep -F "\"target\": \"$2\"" "$apilog" | grep -qF -- "$3"; then ok "$1"; else
		bad "$1: $(grep -F "\"target\": \"$2\"" "$apilog" | head -c 400)"
	fi
}
# lacks DESC FILE TEXT: TEXT is not in FILE
lacks() {
	if grep -sqF -- "$3" "$2"; then bad "$1: found in $2"; else ok "$1"; fi
}
# netlog SANDBOX TEXT: TEXT is in the sandbox's net.log (msb logs -s net)
netlog() {
	m logs -s net "$1" >"$work/netlog" 2>&1 && grep -qF -- "$2" "$work/netlog"
}
tg() { echo python3 /opt/tls_guest.py "$@"; }
# code403 DESC SANDBOX CURL-ARGS: curl prints 403 and the blocking line
code403() {
	local desc=$1 sb=$2
	gx "$sb" sh -c "curl -sS -o /tmp/o -w '%{http_code}\n' $3; cat /tmp/o"
	if [ "$(head -1 "$work/out")" = 403 ] && grep -q '^msb: blocked: ' "$work/out"; then
		ok "$desc: 403 ($(sed -n 2p "$work/out" | head -c 120))"
	else bad "$desc: $(head -c 300 "$work/out") $(head -c 200 "$work/err")"; fi
}

# --- the guest's root: Debian with curl, python3, git, openssl -----------
netlab_guest_image

# --- secrets, certificates, repositories ----------------------------------
# values: 40 random hex digits (the memory search looks for any 16 of them
# in a row); GIT_TOKEN goes in Basic credentials, BODY_KEY in bodies
v1=$(openssl rand -hex 20) v2=$(openssl rand -hex 20) vb=$(openssl rand -hex 20)
mkdir -p "$work/srv"
printf '%s\n' "$v1" "$v2" "$vb" >"$work/srv/secrets"
# the words the memory search looks for: the values and the Basic
# credentials they end up in on the upstream side
{
	printf '%s\n' "$v1" "$v2" "$vb"
	printf 'user:%s' "$v1" | base64 -w0
	echo
	printf 'x:%s' "$v2" | base64 -w0
	echo
} >"$work/srv/words"
c=$work/srv/certs
tlslab_standard "$c" api.test '*.api.test' other.test git.test gitpub.test \
	pinned.test alien.test expired.test 1.2.3.5 || {
	echo "FAIL - make the test's certificates"
	exit 1
}
echo "user:$v1" >"$work/srv/basic-api"
echo "x:$v2" >"$work/srv/basic-git"
mkdir -p "$work/srv/repos"
git init -q --bare -b main "$work/srv/repos/r.git"
git init -q -b main "$work/srv/w"
for i in $(seq 20); do head -c 30000 /dev/urandom | base64 >"$work/srv/w/f$i"; done
git -C "$work/srv/w" add . &&
	git -C "$work/srv/w" -c user.email=t@test -c user.name=t commit -qm files &&
	git -C "$work/srv/w" push -q "$work/srv/repos/r.git" main || {
	echo "FAIL - make the git repository"
	exit 1
}
head_commit=$(git -C "$work/srv/w" rev-parse HEAD)

# --- the lab -------------------------------------------------------------
netlab_ns $A $I
netlab_internet $A $I
for n in 6 7 8 9 10 11 12; do ip -n $I addr add "1.2.3.$n/24" dev "vi$$"; done
netlab_resolv $A "nameserver 1.2.3.53"
netlab_resolv $I "nameserver 1.2.3.53"
cat >"$work/hosts" <<EOF
1.2.3.4 other.test
1.2.3.5 api.test v2.api.test
1.2.3.6 git.test
1.2.3.7 alien.test
1.2.3.8 wrong.test
1.2.3.9 expired.test
1.2.3.10 pinned.test
1.2.3.11 proxy.test
1.2.3.12 gitpub.test
EOF
netlab_dnsmasq $I "$work/hosts"
# serve NAME MODE ADDR PORT ARGS...: tls_servers.py in the internet
# namespace, its log in $work/srv/NAME.log, ready file NAME.ready
ready=()
serve() {
	local name=$1 mode=$2 addr=$3 port=$4
	shift 4
	netlab_bg ip netns exec $I "$py" "$srv" "$mode" --addr "$addr" \
		--port "$port" --ready "$work/srv/$name.ready" \
		--log "$work/srv/$name.log" "$@"
	ready+=("$work/srv/$name.ready")
}
good=(--cert "$c/good.chain.pem" --key "$c/good.key")
serve api echo 1.2.3.5 443 "${good[@]}" --secret-file "$work/srv/secrets"
serve api80 echo 1.2.3.5 80 --plain --secret-file "$work/srv/secrets"
serve api8443 echo 1.2.3.5 8443 "${good[@]}" --secret-file "$work/srv/secrets"
serve other echo 1.2.3.4 443 "${good[@]}" --secret-file "$work/srv/secrets"
serve git git 1.2.3.6 443 "${good[@]}" --repo "$work/srv/repos" \
	--basic-file "$work/srv/basic-git"
serve gitpub git 1.2.3.12 443 "${good[@]}" --repo "$work/srv/repos"
serve alien echo 1.2.3.7 443 --cert "$c/alien.chain.pem" --key "$c/alien.key"
serve wrong echo 1.2.3.8 443 --cert "$c/wrong.chain.pem" --key "$c/wrong.key"
serve expired echo 1.2.3.9 443 --cert "$c/expired.chain.pem" --key "$c/expired.key"
serve pinned echo 1.2.3.10 443 "${good[@]}" --secret-file "$work/srv/secrets"
serve proxy proxy 1.2.3.11 3128
for f in "${ready[@]}"; do
	wait_for "server $(basename "$f" .ready)" 30 test -e "$f" || exit 1
done
wait_for "dnsmasq" 30 grep -q "started" "$work/dnsmasq.log" || exit 1
# the lab itself, from msb's namespace without msb (the servers' fault
# would otherwise look like msb's)
an() { ip netns exec $A "$@" >"$work/out" 2>"$work/err" </dev/null; }
an curl -sS --cacert "$c/ca.pem" https://api.test/lab
contains "lab: api.test over TLS (the test's CA)" "$work/out" '"sni": "api.test"'
an curl -sS --cacert "$c/ca.pem" -x http://proxy.test:3128 https://api.test/labpx
contains "lab: the proxy" "$work/out" '"target": "/labpx"'
an env GIT_SSL_CAINFO="$c/ca.pem" git ls-remote https://gitpub.test/r.git
contains "lab: git ls-remote" "$work/out" "$head_commit"
an curl -sS --cacert "$c/ca.pem" https://alien.test/
[ -s "$work/out" ] && bad "lab: alien.test accepted" || ok "lab: alien.test is refused by curl"
[ $fail = 0 ] || exit 1

# --- the sandboxes ---------------------------------------------------------
copy=(--patch-copy "$here/tls_guest.py:/opt/tls_guest.py"
	--patch-copy "$here/netguest.py:/opt/netguest.py"
	--patch-copy "$c/ca.pem:/opt/upstream-ca.pem")
export API_KEY=$v1 GIT_TOKEN=$v2 BODY_KEY=$vb
env -u NOPE_KEY ip netns exec $A "$msb" run --secret 'NOPE_KEY@api.test' \
	"$img" -- true >"$work/out" 2>"$work/err" </dev/null
r=$?
if { [ $r = 1 ] || [ $r = 2 ]; } && [ "$(wc -l <"$work/err")" = 1 ] &&
	grep -q '^msb: .*NOPE_KEY' "$work/err"; then
	ok "secret: NAME@HOST with NAME unset is refused (exit $r): $(cat "$work/err")"
else bad "secret: NAME@HOST with NAME unset: exit $r: $(head -c 300 "$work/err")"; fi
expect "boot s1 (three secrets, --tls-ca, a bypass)" 0 m run -d --name s1 \
	--secret 'API_KEY@api.test,*.api.test' --secret GIT_TOKEN@git.test \
	--secret BODY_KEY@api.test --secret-body BODY_KEY \
	--tls-ca "$c/ca.pem" --tls-bypass pinned.test \
	"${copy[@]}" "$img" -- sleep 100000
expect "boot s2 (--tls-intercept, ports 443 and 8443, no --tls-ca)" 0 \
	m run -d --name s2 --tls-intercept --tls-port 443 --tls-port 8443 \
	"${copy[@]}" "$img" -- sleep 100000
unset API_KEY GIT_TOKEN BODY_KEY
[ $fail = 0 ] || exit 1
# the placeholder (from the guest's environment)
gx s1 sh -c 'echo "$API_KEY"'
ph=$(cat "$work/out")
case $ph in
'$MSB_API_KEY_'[0-9a-f]*) [ ${#ph} = 29 ] && ok "guest: API_KEY is a placeholder ($ph)" ||
	bad "guest: API_KEY='$ph'" ;;
*) bad "guest: API_KEY='$ph'" ;;
esac

# --- the guest's environment ------------------------------------------------
gx s1 sh -c 'env; cat /proc/[0-9]*/environ | tr "\0" "\n"'
contains "guest: env holds the placeholder" "$work/out" "API_KEY=$ph"
for v in "$v1" "$v2" "$vb"; do
	lacks "guest: env and /proc/*/environ lack the value ${v:0:6}..." "$work/out" "$v"
done

# --- substitution for its hosts --------------------------------------------
gx s1 sh -c 'curl -sS https://api.test/v1/x -H "Authorization: Bearer $API_KEY"'
contains "curl: the answer says one secret reached api.test" "$work/out" '"secrets": 1'
contains "...the server saw the value in the header" "$apilog" "\"Bearer $v1\""
lacks "...the guest did not (the echo redacts it)" "$work/out" "$v1"
gx s1 sh -c 'curl -sS "https://api.test/q?key=$API_KEY&a=1"'
contains "curl: the value in the request target" "$apilog" "\"/q?key=$v1&a=1\""
gx s1 $(tg get https://v2.api.test/u 'X-Api-Key:$API_KEY')
contains "python urllib: *.api.test gets it (200)" "$work/out" "200"
seen "...the server saw it" /u "\"$v1\""
gx s1 sh -c 'curl -sS -u "user:$API_KEY" https://api.test/basic'
contains "Basic auth: the guest's credentials were user:placeholder" "$work/out" \
	'"basic": "user:[secret]"'
contains "...the server saw user:value" "$apilog" "\"basic\": \"user:$v1\""
gx s1 openssl s_client -connect api.test:443 -servername api.test </dev/null
contains "openssl s_client: the leaf is verified by default" "$work/out" \
	"Verify return code: 0 (ok)"
contains "...issued by the sandbox's CA" "$work/out" "O = microsandbox"
wait_for "net.log: the request with the secret's name" 30 netlog s1 \
	'http GET api.test/v1/x status=200' && ok "net.log: http GET api.test/v1/x status=200"
grep -F 'http GET api.test/v1/x' "$work/netlog" | grep -q 'secrets=API_KEY' &&
	ok "net.log: ...secrets=API_KEY" || bad "net.log: $(grep -F api.test/v1/x "$work/netlog")"
netlog s1 'http GET api.test/q?...' && ok "net.log: the query is not logged" ||
	bad "net.log: no 'http GET api.test/q?...'"

# --- keep-alive, pipelining ------------------------------------------------
gx s1 python3 /opt/tls_guest.py ka api.test /ka 3 'Authorization:Bearer $API_KEY'
c1=$(sed -n '1s/.*conn=\([0-9]*\).*/\1/p' "$work/out")
if [ "$(cat "$work/out")" = "200 conn=$c1 seq=1 secrets=1
200 conn=$c1 seq=2 secrets=1
200 conn=$c1 seq=3 secrets=1" ]; then
	ok "keep-alive (http.client): 3 requests on one connection, each substituted"
else bad "keep-alive: $(cat "$work/out" "$work/err" | head -c 400)"; fi
gx s1 python3 /opt/tls_guest.py pipe api.test 3 'Authorization:Bearer $API_KEY'
c1=$(sed -n '1s/.*conn=\([0-9]*\).*/\1/p' "$work/out")
if [ "$(cat "$work/out")" = "200 conn=$c1 seq=1 secrets=1
200 conn=$c1 seq=2 secrets=1
200 conn=$c1 seq=3 secrets=1" ]; then
	ok "pipelined: 3 requests in one write, each substituted"
else bad "pipelined: $(cat "$work/out" "$work/err" | head -c 400)"; fi

# --- bodies: opt-in substitution, gzip untouched ---------------------------
gx s1 sh -c 'curl -sS --data-binary "key=$BODY_KEY" https://api.test/body'
contains "body (--secret-body): substituted" "$work/srv/api.log" "\"body\": \"key=$vb\""
contains "...Content-Length rewritten" "$work/out" "\"body_len\": $((4 + ${#vb}))"
gx s1 sh -c 'curl -sS -H "Transfer-Encoding: chunked" --data-binary "chunk=$BODY_KEY" https://api.test/chunked'
contains "body, chunked: substituted" "$work/srv/api.log" "\"body\": \"chunk=$vb\""
# API_KEY did not opt in: in a body to a host where BODY_KEY did, a 403
code403 "body: a secret that did not opt in" s1 \
	'--data-binary "key=$API_KEY" https://api.test/nobody'
lacks "...never substituted" "$work/srv/api.log" "\"body\": \"key=$v1"
gx s1 sh -c 'curl -sS --data-binary "key=$BODY_KEY" https://other.test/b'
lacks "body: a body secret sent to another host never becomes its value" \
	"$work/srv/other.log" "$vb"
gx s1 sh -c 'printf "{\"k\":\"%s\"}" "$BODY_KEY" | gzip -n >/tmp/b.gz
	sha256sum </tmp/b.gz | cut -d" " -f1
	curl -sS --data-binary @/tmp/b.gz -H "Content-Encoding: gzip" https://api.test/gz'
sent=$(head -1 "$work/out")
contains "a gzip request body passes untouched" "$work/out" "\"body_sha256\": \"$sent\""
gx s1 sh -c 'curl -sS -o /tmp/g.gz https://api.test/gzip && gzip -dc </tmp/g.gz'
contains "a gzip answer arrives compressed, intact" "$work/out" '"target": "/gzip"'
gx s1 sh -c 'curl -sS --compressed https://api.test/gzip'
contains "curl --compressed: decoded" "$work/out" '"target": "/gzip"'
gx s1 $(tg get https://api.test/big?n=3000000)
contains "a 3 MB answer" "$work/out" "200"
gx s1 sh -c 'curl -sS -D /tmp/h -o /tmp/big "https://api.test/big?n=5000000" &&
	sha256sum </tmp/big | cut -d" " -f1; grep -i x-body-sha256 /tmp/h'
want=$(sed -n 's/^[Xx]-[Bb]ody-[Ss]ha256: *\([0-9a-f]*\).*/\1/p' "$work/out" | tr -d '\r')
[ -n "$want" ] && [ "$(head -1 "$work/out")" = "$want" ] &&
	ok "a 5 MB answer, intact (sha256)" || bad "big: $(head -c 300 "$work/out")"

# --- other hosts, plain HTTP, Host != SNI: 403 ------------------------------
code403 "a placeholder to another host" s1 \
	'https://other.test/x -H "Authorization: Bearer $API_KEY"'
lacks "...never reached it" "$work/srv/other.log" "MSB_API_KEY"
code403 "a placeholder over plain HTTP" s1 \
	'http://api.test/plain -H "Authorization: Bearer $API_KEY"'
lacks "...never reached the server" "$work/srv/api80.log" "MSB_API_KEY"
code403 "Host != SNI" s1 \
	'https://api.test/h -H "Host: other.test" -H "Authorization: Bearer $API_KEY"'
code403 "a secret of git.test sent to api.test" s1 \
	'https://api.test/g -H "Authorization: Bearer $GIT_TOKEN"'
gx s1 $(tg get https://other.test/x 'X-K:$API_KEY')
contains "python urllib: 403 too" "$work/out" "403"
gx s1 sh -c 'curl -sS -w "%{http_code}\n" -o /dev/null https://other.test/plain'
contains "no placeholder: another host answers (intercepted)" "$work/out" "200"
wait_for "net.log: a deny event for the plain-HTTP placeholder" 30 netlog s1 \
	'deny' && ok "net.log: deny events"
grep -F deny "$work/netlog" | head -3 | sed 's/^/# /'

# --- placeholders in names: DNS, SNI, CONNECT ------------------------------
gx s1 sh -c 'python3 /opt/netguest.py dns "$API_KEY.test"'
contains "DNS: a name with the placeholder is REFUSED" "$work/out" "REFUSED"
gx s1 sh -c 'python3 /opt/netguest.py dns "$(echo "$API_KEY" | tr a-z A-Z | tr -d \$).test"'
contains "...in another case too" "$work/out" "REFUSED"
if grep -qi "msb_api_key" "$work/dnsmasq.log"; then
	bad "DNS: the placeholder reached the resolver"
else ok "DNS: the placeholder never reached the resolver"; fi
gx s1 sh -c 'openssl s_client -connect api.test:443 -servername "x$API_KEY" </dev/null; echo "rc=$?"'
if grep -q 'rc=0' "$work/out" && grep -q 'Verify return code: 0' "$work/out"; then
	bad "SNI with the placeholder: a handshake"
else ok "SNI with the placeholder: no handshake"; fi
gx s1 $(tg connect proxy.test 3128 '$API_KEY.test:443')
contains "CONNECT to a placeholder host: 403" "$work/out" " 403"
lacks "...never reached the proxy" "$work/srv/proxy.log" "MSB_API_KEY"

# --- a CONNECT proxy (HTTPS_PROXY) -----------------------------------------
gx s1 sh -c 'HTTPS_PROXY=http://proxy.test:3128 curl -sS https://api.test/px -H "Authorization: Bearer $API_KEY"'
contains "HTTPS_PROXY (curl): substituted through the proxy" "$work/out" '"secrets": 1'
contains "...the proxy saw the CONNECT" "$work/srv/proxy.log" 'CONNECT api.test:443'
seen "...the server saw the value" /px "Bearer $v1"
gx s1 sh -c 'https_proxy=http://proxy.test:3128 python3 /opt/tls_guest.py get https://api.test/pxpy "X-K:\$API_KEY"'
contains "HTTPS_PROXY (python urllib)" "$work/out" '"secrets": 1'
seen "...the server saw the value" /pxpy "\"$v1\""

# --- git over HTTPS ---------------------------------------------------------
gx s1 sh -c 'git clone -q https://gitpub.test/r.git /tmp/r1 && git -C /tmp/r1 rev-parse HEAD && ls /tmp/r1 | wc -l'
contains "git clone over HTTPS" "$work/out" "$head_commit"
[ "$(tail -1 "$work/out")" = 20 ] && ok "...20 files" || bad "git: $(cat "$work/out")"
gx s1 sh -c 'git clone -q "https://x:$GIT_TOKEN@git.test/r.git" /tmp/r2 && git -C /tmp/r2 rev-parse HEAD'
contains "git clone with a token (Basic, after a 401)" "$work/out" "$head_commit"
contains "...the server saw the value" "$work/srv/git.log" "\"basic\": \"x:$v2\""

# --- bypass: a pinned host passes untouched ---------------------------------
gx s1 openssl s_client -connect pinned.test:443 -servername pinned.test </dev/null
contains "bypass: the upstream's own certificate reaches the guest" "$work/out" \
	"msb test upstream CA ca"
lacks "...not one of the sandbox's CA" "$work/out" "O = microsandbox"
is "bypass: curl without the upstream CA fails (60)" "60" s1 sh -c \
	'curl -sS -o /dev/null https://pinned.test/ 2>/dev/null; echo $?'
gx s1 sh -c 'curl -sS --cacert /opt/upstream-ca.pem https://pinned.test/p -H "X-K: $API_KEY"'
contains "bypass: with it, the server answers" "$work/out" '"sni": "pinned.test"'
lacks "...and never sees a value" "$work/srv/pinned.log" "$v1"

# --- bad upstream certificates: a failure in the guest, a logged reason ----
for h in alien wrong expired; do
	gx s1 sh -c "curl -sS -o /dev/null https://$h.test/ 2>&1; echo rc=\$?"
	if grep -q 'rc=0' "$work/out"; then bad "upstream $h.test: accepted"; else
		ok "upstream $h.test: curl fails ($(grep -o 'rc=[0-9]*' "$work/out"))"
	fi
	wait_for "net.log: deny https $h.test:443" 30 netlog s1 "deny https $h.test:443" &&
		ok "net.log: deny https $h.test:443 ($(grep -F "$h.test:443" "$work/netlog" |
			grep -o 'reason=.*' | head -1 | head -c 100))"
done
gx s1 $(tg get https://alien.test/)
contains "python urllib: the alien upstream fails" "$work/out" "error"
lacks "the alien server saw no request" "$work/srv/alien.log" '"method"'
gx s2 sh -c 'curl -sS -o /dev/null https://api.test/ 2>&1; echo rc=$?'
if grep -q 'rc=0' "$work/out"; then bad "s2 (no --tls-ca): the private upstream accepted"; else
	ok "s2 (no --tls-ca): the private upstream is refused"
fi

# --- ports: 443 by default, --tls-port for others ---------------------------
gx s1 openssl s_client -connect api.test:8443 -servername api.test </dev/null
contains "ports: s1 (default) leaves 8443 alone: the upstream's certificate" \
	"$work/out" "msb test upstream CA ca"
gx s1 sh -c 'curl -sS --cacert /opt/upstream-ca.pem https://api.test:8443/p -H "X-K: $API_KEY"'
contains "...the server answers" "$work/out" '"target": "/p"'
lacks "...and never sees a value there" "$work/srv/api8443.log" "$v1"
gx s2 sh -c 'curl -sS -o /dev/null https://api.test:8443/ 2>&1; echo rc=$?'
wait_for "ports: s2 (--tls-port 8443) intercepts 8443: deny https api.test:8443" 30 \
	netlog s2 "deny https api.test:8443" &&
	ok "ports: s2 (--tls-port 8443) intercepts 8443 (its upstream refused, logged)"

# --- the CA differs between two sandboxes ----------------------------------
ca1=$MSB_HOME/sandboxes/s1/tls/ca.pem ca2=$MSB_HOME/sandboxes/s2/tls/ca.pem
if [ -s "$ca1" ] && [ -s "$ca2" ] && ! cmp -s "$ca1" "$ca2"; then
	ok "CA: each sandbox has its own"
else bad "CA: $ca1, $ca2 missing or equal"; fi
if [ "$(stat -c %a "$MSB_HOME/sandboxes/s1/tls/ca.key" 2>/dev/null)" = 600 ]; then
	ok "CA: ca.key is 0600"
else bad "CA: ca.key mode $(stat -c %a "$MSB_HOME/sandboxes/s1/tls/ca.key" 2>&1)"; fi
gx s1 sh -c 'openssl s_client -connect other.test:443 -servername other.test -showcerts </dev/null 2>/dev/null |
	sed -n "/BEGIN CERT/,/END CERT/p" | sed "/END CERT/q"'
cp "$work/out" "$work/leaf1.pem"
if openssl verify -CAfile "$ca1" "$work/leaf1.pem" >/dev/null 2>&1 &&
	! openssl verify -CAfile "$ca2" "$work/leaf1.pem" >/dev/null 2>&1; then
	ok "CA: s1's leaf verifies with s1's CA, not s2's"
else bad "CA: leaf of s1: $(openssl verify -CAfile "$ca1" "$work/leaf1.pem" 2>&1 | tail -1)"; fi
gx s2 cat /etc/ssl/certs/ca-certificates.crt
if grep -qF "$(sed -n 2p "$ca2")" "$work/out" && ! grep -qF "$(sed -n 2p "$ca1")" "$work/out"; then
	ok "CA: s2's trust bundle holds its own CA, not s1's"
else bad "CA: s2's bundle"; fi

# --- where the value must not be -------------------------------------------
# home_clean DESC: no file under MSB_HOME but secrets.json holds a value;
# secrets.json does (the test's control)
home_clean() {
	local f hits
	hits=$(grep -rlaF -f <(printf '%s\n' "$v1" "$v2" "$vb") "$MSB_HOME" |
		grep -v '/secrets\.json$')
	if [ -z "$hits" ]; then ok "$1: no file under MSB_HOME holds a value"; else
		bad "$1: values in: $hits"
	fi
}
sj=$MSB_HOME/sandboxes/s1/secrets.json
if [ "$(stat -c %a "$sj" 2>/dev/null)" = 600 ] && grep -qF "$v1" "$sj"; then
	ok "secrets.json: 0600, holds the value"
else bad "secrets.json: $(stat -c %a "$sj" 2>&1)"; fi
expect "inspect s1" 0 m inspect s1
lacks "inspect: no value" "$work/out" "$v1"
contains "inspect: the secret's name" "$work/out" "API_KEY"
expect "ls --json" 0 m ls --json
lacks "ls --json: no value" "$work/out" "$v1"
m logs s1 >"$work/logs" 2>&1
m logs -s net s1 >>"$work/logs" 2>&1
for v in "$v1" "$v2" "$vb"; do lacks "msb logs: no value ${v:0:6}..." "$work/logs" "$v"; done
home_clean "running"
procs=$(for p in $(ip netns pids $A); do tr '\0' ' ' </proc/$p/cmdline 2>/dev/null; echo; done)
case $procs in
*"$v1"* | *"$v2"* | *"$vb"*) bad "a process's command line holds a value" ;;
*) ok "no command line of msb's processes holds a value" ;;
esac
# their environments (msb run had the values in its own): not the guest's
# and not under MSB_HOME, so a note rather than a failure
envs=$(for p in $(ip netns pids $A); do
	tr '\0' '\n' </proc/$p/environ 2>/dev/null | grep -lF "$v1" >/dev/null &&
		echo "$p:$(cat /proc/$p/comm)"
done)
[ -z "$envs" ] || echo "# note: the environment of these processes holds API_KEY's value: $envs"

# guest memory: the state `msb suspend` saves (all of RAM)
expect "suspend s1" 0 m suspend s1
st=$MSB_HOME/sandboxes/s1/suspended
if [ -d "$st" ] && [ -n "$(find "$st" -type f -size +1M)" ]; then
	"$py" "$srv" scan "$work/srv/words" $(find "$st" -type f) >"$work/scan"
	if [ "$(head -1 "$work/scan")" = "hits=0" ]; then
		ok "guest memory (suspended state): no value, no credentials"
	else bad "guest memory: $(cat "$work/scan")"; fi
	printf '%s\n' "$ph" >"$work/srv/ph"
	"$py" "$srv" scan "$work/srv/ph" $(find "$st" -type f) >"$work/scan"
	if [ "$(head -1 "$work/scan")" != "hits=0" ]; then
		ok "...where the placeholder is found (the search works: $(head -1 "$work/scan"))"
	else bad "guest memory: not even the placeholder found"; fi
else bad "no state file under $st"; fi
home_clean "suspended"
expect "resume s1" 0 m resume s1

# --- stop/start: the secrets survive ---------------------------------------
expect "stop s1" 0 m stop s1
expect "start s1" 0 m start s1
is "after start: the same placeholder" "$ph" s1 sh -c 'echo "$API_KEY"'
gx s1 sh -c 'curl -sS https://api.test/again -H "Authorization: Bearer $API_KEY"'
contains "after start: substituted" "$work/out" '"secrets": 1'
seen "...the server saw the value" /again "Bearer $v1"
home_clean "after stop/start"

expect "rm -f s1 s2" 0 m rm -f s1 s2
echo "# $pass passed, $fail failed"
[ "$fail" -eq 0 ]
