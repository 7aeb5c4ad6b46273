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
ls --json=1|ls --json with a value
inspect -x a|inspect with an unknown option
rm|rm without a name
rm -x a|rm with an unknown option
rm --force=1 a|rm --force with a value
logs|logs without a name
logs a b|logs with a stray argument
logs -x a|logs with an unknown option
logs --source bogus a|logs with an unknown source
logs a -s|logs -s without a value
logs a --follow=1|logs --follow with a value
cp|cp without paths
cp a|cp with one path
cp a b:/x c|cp with a stray argument
cp -x a b:/x|cp with an unknown option
cp --max-size 0 a b:/x|cp with a bad --max-size
cp --max-files x b:/x a|cp with a bad --max-files
cp b:/x a --max-size|cp --max-size without a value
cp a b|cp without a sandbox side
cp a:/x b:/y|cp with two sandbox sides
pull|pull without an image
pull a b|pull with a stray argument
pull -x a|pull with an unknown option
pull --platform bogus a|pull with an invalid platform
pull a --platform|pull --platform without a value
pull --username u a|pull --username without a password on stdin
metrics -x|metrics with an unknown option
metrics --watch=1|metrics --watch with a value
metrics --json=1|metrics --json with a value
image|image without a command
image frob|image with an unknown command
image --bogus|image with an unknown option
image ls x|image ls with a stray argument
image ls -x|image ls with an unknown option
image ls --format yaml|image ls with an unknown format
image ls --format|image ls --format without a value
images x|images with a stray argument
images -z|images with an unknown option
image inspect|image inspect without an image
image inspect -x a|image inspect with an unknown option
image rm|image rm without an image
image rm --bogus a|image rm with an unknown option
image prune x|image prune with a stray argument
image prune -a|image prune with an unknown option
TABLE

for c in stop kill start wait inspect restart ls; do
	expect "$c --help" 0 "$msb" "$c" --help
	contains "$c --help prints usage" "$work/out" "Usage: msb $c"
	expect "$c NAME --help" 0 "$msb" "$c" box -h
done
# help of every command here, also after other words
for c in rm logs cp pull metrics image "image ls" images "image inspect" \
	"image rm" "image prune"; do
	# shellcheck disable=SC2086
	expect "$c --help" 0 "$msb" $c --help
	contains "$c --help prints usage" "$work/out" "Usage: msb ${c%% *}"
	[ "$c" = image ] && continue # `image word` is no command
	# shellcheck disable=SC2086
	expect "$c WORD -h" 0 "$msb" $c word -h
done

# options after the name are options, not names
expect "stop NAME -t 3 of a missing sandbox" 1 "$msb" stop nosuch -t 3
contains "stop -t after the name: the name is looked up" "$work/err" "nosuch"
expect "stop -- -t: a name after --" 1 "$msb" stop -- -t
contains "stop -- -t looks up \`-t\`" "$work/err" "-t"

expect "rm NAME -f of a missing sandbox" 1 "$msb" rm nosuch -f
contains "rm -f after the name: the name is looked up" "$work/err" "no sandbox named \`nosuch\`"
expect "logs NAME -f -s kernel of a missing sandbox" 1 "$msb" logs nosuch -f -s kernel
contains "logs: the name is looked up" "$work/err" "no sandbox named \`nosuch\`"
expect "metrics NAME --json of a missing sandbox" 1 "$msb" metrics nosuch --json
contains "metrics: the name is looked up" "$work/err" "no sandbox named \`nosuch\`"
expect "cp HOST NAME:PATH -a of a missing sandbox" 1 "$msb" cp /etc/hostname nosuch:/tmp -a
contains "cp: the name is looked up" "$work/err" "no sandbox named \`nosuch\`"
expect "cp --archive NAME:PATH HOST of a missing sandbox" 1 "$msb" cp --archive nosuch:/etc "$work/x"
contains "cp --archive: the name is looked up" "$work/err" "no sandbox named \`nosuch\`"
# metrics --watch ends when nothing is left to watch
expect "metrics --watch of a missing sandbox ends" 1 timeout 30 "$msb" metrics --watch nosuch
contains "metrics --watch: the name is looked up" "$work/err" "no sandbox named \`nosuch\`"
expect "metrics -w with no sandbox running ends" 0 timeout 30 "$msb" metrics -w

# inspect and image inspect print one array, errors for the missing
expect "inspect of a missing sandbox" 1 "$msb" inspect nosuch
[ "$(cat "$work/out")" = "[]" ] && ok "inspect: an empty array" || bad "inspect: $(cat "$work/out")"
[ "$(wc -l <"$work/err")" -eq 1 ] && ok "inspect: one error line" || bad "inspect: $(cat "$work/err")"
expect "image inspect of a missing image" 1 "$msb" image inspect nosuch:1 abc
[ "$(cat "$work/out")" = "[]" ] && ok "image inspect: an empty array" || bad "image inspect: $(cat "$work/out")"
[ "$(wc -l <"$work/err")" -eq 2 ] && ok "image inspect: an error line each" || bad "image inspect: $(cat "$work/err")"

# the image list of an empty store
expect "image ls -q" 0 "$msb" image ls -q
[ -s "$work/out" ] && bad "image ls -q: $(cat "$work/out")" || ok "image ls -q: nothing"
expect "images --quiet" 0 "$msb" images --quiet
[ -s "$work/out" ] && bad "images --quiet: $(cat "$work/out")" || ok "images --quiet: nothing"
expect "image ls --json" 0 "$msb" image ls --json
contains "image ls --json: an empty array" "$work/out" "[]"
expect "images --format json" 0 "$msb" images --format json
contains "images --format json: an empty array" "$work/out" "[]"
expect "image prune" 0 "$msb" image prune
contains "image prune: what was freed" "$work/out" "freed 0 B"

expect "ls -a -q --json" 0 "$msb" ls -a -q
expect "ls --format json" 0 "$msb" ls --format json
contains "ls --format json is a JSON array" "$work/out" "[]"
echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
