#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Terminal sessions (msb exec -it, msb shell) driven through tmux, and
# resource limits (--ulimit), with one real VM.
#   test_tty.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-tty-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
sock="msb-tty-$$"
T() { tmux -L "$sock" "$@"; }
n=0 S=s0 # the current session
cleanup() {
	T kill-server 2>/dev/null
	"$MSB" rm -f tty >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"

# wait_for TEXT: until the pane shows TEXT (30 s at most).
wait_for() {
	for _ in $(seq 300); do
		T capture-pane -t "$S" -p >"$work/pane" 2>/dev/null
		grep -qF -- "$1" "$work/pane" && return 0
		sleep 0.1
	done
	return 1
}
# pane_has DESC TEXT
pane_has() {
	if wait_for "$2"; then ok "$1"; else
		bad "$1: \`$2\` not on the screen:"
		sed 's/^/    | /' "$work/pane" | grep -v '^    | $'
	fi
}
# session CMD: a fresh tmux session of 100x30 running CMD, then recording
# its exit status and the terminal settings before and after.
session() {
	n=$((n + 1)) S=s$n
	T new-session -d -x 100 -y 30 -s "$S" \
		"stty -g >'$work/before'; $1; echo EXIT=\$? >'$work/exit'; stty -g >'$work/after'; sleep 600"
}
# exited DESC STATUS: the session's command ended with STATUS and left
# the terminal as it found it.
exited() {
	for _ in $(seq 300); do
		[ -s "$work/after" ] && break
		sleep 0.1
	done
	contains "$1: exit status" "$work/exit" "EXIT=$2"
	if cmp -s "$work/before" "$work/after"; then
		ok "$1: terminal restored"
	else
		bad "$1: terminal settings changed"
	fi
	rm -f "$work/exit" "$work/before" "$work/after"
}

expect "create the sandbox" 0 "$MSB" run --name tty -d

# --- msb exec -it: size, resize, Ctrl-C, exit status, raw mode undone ---
session "'$MSB' exec -it tty -- sh"
pane_has "the guest shell prompts" "/ #"
T send-keys -t "$S" 'stty size' Enter
pane_has "terminal has the local size" "30 100"
T resize-window -t "$S" -x 120 -y 40
T send-keys -t "$S" 'clear; stty size' Enter
pane_has "resize reaches the guest" "40 120"
T send-keys -t "$S" 'tty; echo term=$TERM' Enter
pane_has "the command has a pseudo-terminal" "/dev/pts/"
pane_has "TERM is passed" "term="
T send-keys -t "$S" 'sleep 300' Enter
sleep 1
T send-keys -t "$S" C-c
T send-keys -t "$S" 'echo "rc=$?"' Enter
pane_has "Ctrl-C interrupts the guest command" "rc=130"
T send-keys -t "$S" 'exit 3' Enter
exited "exec -it" 3

# --- msb shell ---
session "'$MSB' shell tty"
T send-keys -t "$S" 'echo "shell on $(tty)"' Enter
pane_has "msb shell is interactive" "shell on /dev/pts/"
T send-keys -t "$S" 'exit' Enter
exited "msb shell" 0

# --- command not found with -it: an error, the terminal untouched ---
session "'$MSB' exec -it tty -- no-such-command"
exited "exec -it missing command" 127

# --- -t without a local terminal ---
expect "exec -t without a terminal" 0 "$MSB" exec -t tty -- sh -c 'stty size; tty'
contains "default size 24x80" "$work/out" "24 80"
contains "a pseudo-terminal" "$work/out" "/dev/pts/"
printf 'one\ntwo\n' >"$work/in"
"$MSB" exec -i -t tty -- sh -c 'cat >/tmp/got; wc -l </tmp/got' <"$work/in" >"$work/out" 2>"$work/err"
contains "exec -it from a file: input then EOF" "$work/out" "2"

# --- resource limits ---
expect "--ulimit nofile" 0 "$MSB" exec --ulimit nofile=64:128 tty -- sh -c 'ulimit -n; ulimit -Hn'
contains "soft limit set" "$work/out" "64"
contains "hard limit set" "$work/out" "128"
expect "--ulimit fsize kills a big write" 153 "$MSB" exec --ulimit fsize=1024 tty -- sh -c 'head -c 4096 /dev/zero >/tmp/f'
expect "--ulimit unknown resource" 2 "$MSB" exec --ulimit bogus=1 tty -- true
contains "unknown resource message" "$work/err" "unknown resource"
expect "--ulimit soft above hard" 2 "$MSB" exec --ulimit nofile=10:5 tty -- true
expect "--ulimit the guest refuses" 126 "$MSB" exec --ulimit nofile=99999999 tty -- true
contains "refused limit message" "$work/err" "cannot set resource limit"
expect "run --ulimit" 0 "$MSB" run --ulimit nproc=50 -- sh -c 'ulimit -u'
contains "run applies the limit" "$work/out" "50"

expect "remove the sandbox" 0 "$MSB" rm -f tty
echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
