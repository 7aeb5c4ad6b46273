# SPDX-License-Identifier: Apache-2.0
# Helpers of the shell integration tests (sourced). Needs $work.
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
# expect DESC WANT_STATUS CMD...: run CMD (stdin empty), output in
# $work/out and $work/err, check its exit status.
expect() {
	local desc=$1 want=$2
	shift 2
	"$@" >"$work/out" 2>"$work/err" </dev/null
	local got=$?
	if [ "$got" = "$want" ]; then ok "$desc"; else
		bad "$desc: exit $got, wanted $want"
		sed 's/^/    stderr: /' "$work/err" | tail -5
	fi
}
# contains DESC FILE TEXT
contains() {
	if grep -qF -- "$3" "$2"; then ok "$1"; else
		bad "$1: \`$3\` not in: $(head -c 400 "$2")"
	fi
}
