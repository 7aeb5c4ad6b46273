#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The man pages (written from msb's --help by src/cli/mkman.py) and the
# docs agree with the CLI:
# - every command in `msb --help` has a page, and each page renders with
#   man -l and without groff warnings;
# - every option in a command's --help (and its subcommands') appears in
#   its rendered page, and every option the page shows is in --help;
# - the long options docs/cli.md mentions are the ones msb's --help
#   texts have, both ways (--bogus, the docs' example of a wrong option,
#   aside).
#
#   test_man.sh MSB MANDIR
set -uo pipefail
MSB=$1 MANDIR=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
for tool in man groff; do
	command -v "$tool" >/dev/null || { echo "skip: $tool missing"; exit 77; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"

# the commands of a --help text's "Commands:" section
commands_of() {
	sed -n '/^Commands:$/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p'
}
# the options in a text: -x and --long (after a space, "[" or "(")
options_of() {
	grep -oE -- '(^|[ [(,|])--?[a-zA-Z][a-zA-Z0-9-]*' | sed 's/^[ [(,|]//' |
		grep -vE -- '^-[a-zA-Z]{2,}$' | sort -u
}

cmds=$("$MSB" --help | commands_of | grep -vx help)
[ -n "$cmds" ] && ok "msb --help lists commands" || bad "msb --help lists no commands"
for page in msb $(printf 'msb-%s\n' $cmds); do
	f=$MANDIR/$page.1
	if [ ! -f "$f" ]; then
		bad "$page.1: missing"
		continue
	fi
	MANWIDTH=100 man -l "$f" >"$work/$page.txt" 2>"$work/err"
	[ $? = 0 ] && [ -s "$work/$page.txt" ] && ok "$page.1 renders" ||
		bad "$page.1 does not render: $(head -c 300 "$work/err")"
	groff -man -Tutf8 -ww -z "$f" >"$work/warn" 2>&1
	[ -s "$work/warn" ] && bad "$page.1: groff warns: $(head -c 300 "$work/warn")" ||
		ok "$page.1: no groff warnings"
done

for c in $cmds; do
	{
		"$MSB" "$c" --help
		for s in $("$MSB" "$c" --help | commands_of); do
			"$MSB" "$c" "$s" --help
		done
	} >"$work/help-$c" 2>&1
	# man pages show "-" as a hyphen or a minus: fold both
	sed 's/‐/-/g; s/−/-/g' "$work/msb-$c.txt" >"$work/page-$c"
	options_of <"$work/help-$c" >"$work/h"
	options_of <"$work/page-$c" >"$work/p"
	missing=$(comm -23 "$work/h" "$work/p" | tr '\n' ' ')
	extra=$(comm -13 "$work/h" "$work/p" | tr '\n' ' ')
	[ -z "$missing" ] && ok "msb-$c.1 has every option of msb $c --help" ||
		bad "msb-$c.1 lacks: $missing"
	[ -z "$extra" ] && ok "msb-$c.1 shows no option --help lacks" ||
		bad "msb-$c.1 has options --help lacks: $extra"
	cat "$work/help-$c" >>"$work/help-all"
done

"$MSB" --help >>"$work/help-all"
grep -oE -- '--[a-z][a-z0-9-]+' "$work/help-all" | sort -u >"$work/h"
grep -oE -- '--[a-z][a-z0-9-]+' "$src/docs/cli.md" | grep -vx -- --bogus | sort -u >"$work/d"
missing=$(comm -23 "$work/h" "$work/d" | tr '\n' ' ')
extra=$(comm -13 "$work/h" "$work/d" | tr '\n' ' ')
[ -z "$missing" ] && ok "docs/cli.md mentions every long option of --help" ||
	bad "docs/cli.md lacks: $missing"
[ -z "$extra" ] && ok "every long option in docs/cli.md is in some --help" ||
	bad "docs/cli.md has options no --help has: $extra"

echo "test_man: $pass passed, $fail failed"
[ "$fail" = 0 ]
