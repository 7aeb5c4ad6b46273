#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Processes that outlive their exec: the result comes when the command
# exits, not when its background children close stdout; they keep running
# (a server started by one exec answers the next) unless --kill-group.
# Real VMs.
#   test_procs.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-procs-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
cleanup() {
	"$MSB" rm -f pbox >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
# running PATTERN: whether a process matching PATTERN runs in pbox.
running() {
	"$MSB" exec pbox -- sh -c "ps -o pid,args | grep -v grep | grep -q -- '$1'"
}

expect "run -d" 0 "$MSB" run -d --name pbox

# `sleep 8 &` holds stdout; the result must not wait for it: when exec
# has returned, the sleep is still running (no timing threshold).
expect "background sleep does not hold the result" 0 \
	"$MSB" exec pbox -- sh -c 'sleep 8 & echo done'
contains "command output arrives" "$work/out" "done"
if running 'sleep 8$'; then ok "exec returned while its sleep runs"; else
	bad "sleep 8 not running after exec returned"
fi

# --timeout is the command's: it exited 0 at once, nothing timed out.
expect "--timeout applies to the command, not its children" 0 \
	"$MSB" exec --timeout 2 pbox -- sh -c 'sleep 9 & echo ok9'
contains "output with --timeout" "$work/out" "ok9"
if running 'sleep 9$'; then ok "child outlives a --timeout exec"; else
	bad "sleep 9 was killed"
fi

# Output written by the command itself is all there, however much.
expect "large output before exit" 0 "$MSB" exec pbox -- sh -c \
	'i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done; sleep 7 &'
contains "last line of large output" "$work/out" "line2999"

# --kill-group: what the command left in its group dies with it.
expect "--kill-group" 0 "$MSB" exec --kill-group pbox -- \
	sh -c 'sleep 6 & echo kg'
contains "--kill-group output" "$work/out" "kg"
if running 'sleep 6$'; then bad "sleep 6 survived --kill-group"; else
	ok "--kill-group killed the background child"
fi

# A background server started by one exec answers the next one.
expect "loopback up" 0 "$MSB" exec pbox -- ip link set lo up
expect "start a server in the background" 0 "$MSB" exec pbox -- \
	sh -c 'echo hello-from-httpd > /tmp/index.html; httpd -f -h /tmp -p 127.0.0.1:8080 & echo started'
contains "server exec returned" "$work/out" "started"
got=
for _ in $(seq 100); do
	got=$("$MSB" exec pbox -- wget -q -O - http://127.0.0.1:8080/index.html 2>/dev/null) && break
	sleep 0.1
done
if [ "$got" = hello-from-httpd ]; then ok "the server answers after its exec returned"; else
	bad "server did not answer: \`$got\`"
fi
if running 'httpd -f'; then ok "httpd still running"; else bad "httpd gone"; fi

# The same with setsid and stdout redirected (the nohup idiom).
expect "setsid server" 0 "$MSB" exec pbox -- \
	sh -c 'setsid sleep 300 >/dev/null 2>&1 &'
if running 'sleep 300$'; then ok "setsid background process survives"; else
	bad "setsid sleep 300 gone"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
