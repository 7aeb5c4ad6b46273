#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Wrong options and stray or missing arguments: exit 2 and exactly one
# line "msb: CMD: ...; see 'msb CMD --help'". No VM is booted.
set -u
msb=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MSB_HOME="$work/home"
. "$(dirname "$0")/lib.sh"

# one_line DESC: stderr is one line starting "msb: " naming --help
one_line() {
	if [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "^msb: .*--help'$" "$work/err"; then
		ok "$1: one line"
	else
		bad "$1: stderr: $(head -c 300 "$work/err")"
	fi
}

# CMD ARGS | description (each row must exit 2)
while IFS='|' read -r args desc; do
	[ -n "$args" ] || continue
	# shellcheck disable=SC2086
	expect "$desc" 2 "$msb" $args
	one_line "$desc"
done <<'TABLE'
stop|stop without a name
stop -x box|stop with an unknown short option
stop --bogus box|stop with an unknown long option
stop -t|stop -t without a value
stop -t abc box|stop -t with a bad value
stop box -t|stop -t after the name without a value
kill|kill without a name
kill -q box|kill with an unknown option
kill -s HUP box|kill with an unsupported signal
kill --signal|kill --signal without a value
start|start without a name
start a b|start with a stray argument
start -z a|start with an unknown option
wait|wait without a name
wait a b|wait with a stray argument
wait --x a|wait with an unknown option
inspect|inspect without a name
inspect -f x a|inspect -f (not an option)
restart|restart without a name
restart a b|restart with a stray argument
ls x|ls with a stray argument
ls --format yaml|ls with an unknown format
ls -z|ls with an unknown option
TABLE

for c in stop kill start wait inspect restart ls; do
	expect "$c --help" 0 "$msb" "$c" --help
	contains "$c --help prints usage" "$work/out" "Usage: msb $c"
	expect "$c NAME --help" 0 "$msb" "$c" box -h
done
# options after the name are options, not names
expect "stop NAME -t 3 of a missing sandbox" 1 "$msb" stop nosuch -t 3
contains "stop -t after the name: the name is looked up" "$work/err" "nosuch"
expect "stop -- -t: a name after --" 1 "$msb" stop -- -t
contains "stop -- -t looks up \`-t\`" "$work/err" "-t"

expect "ls -a -q --json" 0 "$msb" ls -a -q
expect "ls --format json" 0 "$msb" ls --format json
contains "ls --format json is a JSON array" "$work/out" "[]"
echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
