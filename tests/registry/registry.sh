#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Local OCI registries for tests: Debian's docker-registry (distribution 2.8)
# on 127.0.0.1, free ports, in three instances:
#   noauth  anonymous pull and push
#   basic   htpasswd (bcrypt) basic authentication
#   token   bearer tokens from tests/registry/token_server (RS256 JWT)
#
#   registry.sh start DIR TOKEN_SERVER   start all three; write DIR/env
#   registry.sh stop DIR                 stop them; no process is left
#   registry.sh push DIR KIND SRC NAME:TAG [SKOPEO_ARGS...]
#                                        skopeo copy SRC (oci:LAYOUT:tag...)
#                                        to registry KIND (noauth|basic|token)
#
# DIR/env (for `source`): REG_NOAUTH, REG_BASIC, REG_TOKEN (host:port),
# REG_USER, REG_PASS, TOKEN_LOG (one line per token request: "STATUS
# ACCOUNT SCOPE...").
# Exit status 77 (skip) when docker-registry is not installed.
#
# Sourced (`source registry.sh`), it only defines cmd_start, cmd_stop and
# cmd_push: the servers are then children of the sourcing shell, which
# reaps them when it stops them.
set -uo pipefail

USER_NAME=testuser
USER_PASS=testpass
KINDS="noauth basic token"

die() {
	echo "registry.sh: $*" >&2
	exit 1
}

# wait_for SECONDS CMD...: poll CMD every 50 ms.
wait_for() {
	local n=$(($1 * 20))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.05
	done
}

# alive PID NAME: PID runs (not a zombie) and is NAME.
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ] || return 1
	grep -qF -- "$2" "/proc/$1/cmdline" 2>/dev/null
}

# stop_pid PIDFILE NAME: TERM, then KILL after 2 s.
stop_pid() {
	local pid
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	if alive "$pid" "$2"; then
		kill -TERM "$pid" 2>/dev/null
		if ! wait_for 2 eval "! alive $pid $2"; then
			kill -KILL "$pid" 2>/dev/null
			wait_for 2 eval "! alive $pid $2" ||
				echo "registry.sh: $2 ($pid) survives" >&2
		fi
	fi
	# reap it if it is a child of this shell (sourced use)
	wait "$pid" 2>/dev/null
	rm -f "$1"
}

cmd_stop() {
	local dir=$1 k
	for k in $KINDS; do
		stop_pid "$dir/$k/registry.pid" docker-registry
	done
	stop_pid "$dir/token/server.pid" token_server
}

# write_config DIR KIND: the registry's YAML configuration.
write_config() {
	local d=$1/$2 auth=""
	case $2 in
	basic)
		auth="auth:
  htpasswd:
    realm: msb-test
    path: $d/htpasswd"
		;;
	token)
		auth="auth:
  token:
    realm: http://127.0.0.1:$(cat "$d/token.port")/token
    service: msb-test-registry
    issuer: msb-test-issuer
    rootcertbundle: $d/cert.pem"
		;;
	esac
	cat >"$d/config.yml" <<-EOF
		version: 0.1
		log:
		  level: info
		  accesslog:
		    disabled: false
		storage:
		  filesystem:
		    rootdirectory: $d/data
		  delete:
		    enabled: true
		http:
		  addr: 127.0.0.1:0
		  secret: msb-test-secret
		$auth
	EOF
}

listening() {
	grep -qo 'listening on 127.0.0.1:[0-9]*' "$1"
}

cmd_start() {
	local dir=$1 token_server=$2 k port
	command -v docker-registry >/dev/null || exit 77
	[ -x "$token_server" ] || die "token server \`$token_server\` is not executable"
	mkdir -p "$dir" || die "mkdir \`$dir\`"
	dir=$(cd "$dir" && pwd)
	for k in $KINDS; do
		mkdir -p "$dir/$k/data" || die "mkdir \`$dir/$k\`"
	done

	htpasswd -Bbn "$USER_NAME" "$USER_PASS" >"$dir/basic/htpasswd" ||
		die "htpasswd failed"

	# token server: key and self-signed certificate for the registry
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
		-subj /CN=msb-test-token -keyout "$dir/token/key.pem" \
		-out "$dir/token/cert.pem" >/dev/null 2>&1 ||
		die "openssl: cannot make the token key"
	: >"$dir/token/requests.log"
	rm -f "$dir/token/token.port"
	"$token_server" -k "$dir/token/key.pem" -u "$USER_NAME" \
		-p "$USER_PASS" -i msb-test-issuer -P "$dir/token/token.port" \
		-l "$dir/token/requests.log" \
		</dev/null >"$dir/token/server.log" 2>&1 &
	echo $! >"$dir/token/server.pid"
	if ! wait_for 10 test -s "$dir/token/token.port"; then
		cmd_stop "$dir"
		die "token server did not start: $(cat "$dir/token/server.log")"
	fi

	for k in $KINDS; do
		write_config "$dir" "$k"
		docker-registry serve "$dir/$k/config.yml" \
			</dev/null >"$dir/$k/registry.log" 2>&1 &
		echo $! >"$dir/$k/registry.pid"
	done
	{
		for k in $KINDS; do
			if ! wait_for 20 listening "$dir/$k/registry.log"; then
				cmd_stop "$dir"
				die "registry $k did not start: $(tail -3 "$dir/$k/registry.log")"
			fi
			port=$(grep -o 'listening on 127.0.0.1:[0-9]*' \
				"$dir/$k/registry.log" | head -1)
			port=${port##*:}
			echo "REG_${k^^}=127.0.0.1:$port"
		done
		echo "REG_USER=$USER_NAME"
		echo "REG_PASS=$USER_PASS"
		echo "TOKEN_LOG=$dir/token/requests.log"
	} >"$dir/env.tmp" || exit 1
	mv "$dir/env.tmp" "$dir/env"
}

cmd_push() {
	local dir=$1 kind=$2 src=$3 dst=$4 creds=()
	shift 4
	# shellcheck disable=SC1091
	source "$dir/env" || die "no \`$dir/env\`: start first"
	local var="REG_${kind^^}"
	[ -n "${!var:-}" ] || die "unknown registry kind \`$kind\`"
	[ "$kind" = noauth ] || creds=(--dest-creds "$REG_USER:$REG_PASS")
	skopeo --insecure-policy copy --quiet --dest-tls-verify=false \
		"${creds[@]}" "$@" "$src" "docker://${!var}/$dst"
}

# sourced: functions only
if [ "${BASH_SOURCE[0]}" != "$0" ]; then
	return 0
fi

case ${1:-} in
start)
	[ $# -eq 3 ] || die "usage: registry.sh start DIR TOKEN_SERVER"
	cmd_start "$2" "$3"
	;;
stop)
	[ $# -eq 2 ] || die "usage: registry.sh stop DIR"
	cmd_stop "$2"
	;;
push)
	[ $# -ge 5 ] || die "usage: registry.sh push DIR KIND SRC NAME:TAG [ARGS...]"
	shift
	cmd_push "$@"
	;;
*)
	die "usage: registry.sh start DIR TOKEN_SERVER | stop DIR | push DIR KIND SRC NAME:TAG"
	;;
esac
