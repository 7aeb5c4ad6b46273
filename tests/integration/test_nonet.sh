#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A build without a network (meson -Dnet=false; registered only there):
# every network option but --network none is a usage error naming the
# build; a sandbox with the default preset boots with no network device
# (lo only) and msb inspect says its preset is none.
set -u
msb=$1
work=$(mktemp -d)
export MSB_HOME="$work/home"
trap '"$msb" rm -f nonet >/dev/null 2>&1; rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"

while IFS='|' read -r args desc; do
	[ -n "$args" ] || continue
	# shellcheck disable=SC2086
	expect "$desc" 2 "$msb" run $args -- true
	if [ "$(wc -l <"$work/err")" -eq 1 ] &&
		grep -q "^msb: run: .*: this build has no network (built with -Dnet=false); see 'msb run --help'$" "$work/err"; then
		ok "$desc: one line naming the build"
	else
		bad "$desc: stderr: $(head -c 300 "$work/err")"
	fi
done <<'CASES'
--network public|--network public
--network all|--network all
--allow api.example.com:443|--allow
--deny 10.0.0.0/8|--deny
--block-domain ads.example.com|--block-domain
--block-domain-suffix .example.com|--block-domain-suffix
-p 8080:80|-p
CASES

expect "create with the default network" 0 "$msb" create --name nonet
expect "start" 0 "$msb" start nonet
expect "the guest has lo only" 0 "$msb" exec nonet -- ls /sys/class/net
if [ "$(tr -d '\n' <"$work/out")" = lo ]; then
	ok "no network device"
else
	bad "network devices: $(cat "$work/out")"
fi
expect "inspect" 0 "$msb" inspect nonet
contains "inspect: the preset is none" "$work/out" '"preset": "none"'
expect "--network none is accepted" 0 "$msb" run --network none -- true
expect "rm -f" 0 "$msb" rm -f nonet

echo "# $pass passed, $fail failed"
[ "$fail" -eq 0 ]
