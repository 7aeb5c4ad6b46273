#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration tests of msb cp with tar streams (`-`), sharing one booted
# sandbox: a tree round-trips through tar out and back in with modes and
# symlinks; setuid bits are dropped unless -a; tar member names are
# relative; --max-files/--max-size bound a tar out; tars with `../x`,
# `/abs`, hard links out of the tree or members below a symlink are
# refused and write nothing; copying with a stopped sandbox says how.
#   test_cp.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-cp-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
cleanup() {
	"$MSB" rm -f cp1 >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"

modes() { (cd "$1" && find . -printf '%p %m %y %l\n' | sort); }

expect "run -d --name cp1" 0 "$MSB" run -d --name cp1

# --- a tree in through a tar on stdin, and out again to a tar ---
tree=$work/tree
mkdir -p "$tree/sub/deep" "$tree/empty"
head -c 300000 /dev/urandom >"$tree/big.bin"
echo hello >"$tree/sub/a.txt"
printf '#!/bin/sh\necho ran\n' >"$tree/sub/deep/x.sh"
echo suid >"$tree/suid"
chmod 755 "$tree/sub/deep/x.sh"
chmod 600 "$tree/big.bin"
chmod 751 "$tree/sub"
chmod 4755 "$tree/suid"
chmod 700 "$tree/empty"
ln -s sub/a.txt "$tree/link"
ln -s /nonexistent/abs "$tree/dangling"
tar -C "$tree" -cf "$work/tree.tar" .

if "$MSB" cp - cp1:/root/in <"$work/tree.tar" >"$work/out" 2>"$work/err"; then
	ok "cp - NAME:DIR (tar on stdin)"
else
	bad "cp - NAME:DIR: $(cat "$work/err")"
fi
expect "script from the tar runs" 0 "$MSB" exec cp1 -- /root/in/sub/deep/x.sh
contains "script output" "$work/out" "ran"
expect "modes kept in the guest" 0 "$MSB" exec cp1 -- stat -c '%a %n' /root/in/suid /root/in/sub /root/in/empty /root/in/big.bin
[ "$(tr '\n' ' ' <"$work/out")" = "4755 /root/in/suid 751 /root/in/sub 700 /root/in/empty 600 /root/in/big.bin " ] &&
	ok "guest modes: suid, 751, 700, 600" || bad "guest modes: $(cat "$work/out")"
expect "symlink kept in the guest" 0 "$MSB" exec cp1 -- readlink /root/in/link
[ "$(cat "$work/out")" = sub/a.txt ] && ok "symlink target" || bad "symlink: $(cat "$work/out")"

"$MSB" cp cp1:/root/in - >"$work/out.tar" 2>"$work/err"
[ $? = 0 ] && ok "cp NAME:PATH - (tar on stdout)" || bad "cp NAME:PATH -: $(cat "$work/err")"
tar -tf "$work/out.tar" >"$work/names" 2>&1 && ok "tar t reads it" || bad "tar t: $(head -3 "$work/names")"
if grep -qvE '^in(/|$)' "$work/names" || grep -qE '(^|/)\.\.(/|$)' "$work/names"; then
	bad "member names: $(head -5 "$work/names")"
else
	ok "members relative, under in/ ($(wc -l <"$work/names") of them)"
fi
mkdir "$work/x1"
tar -C "$work/x1" -xf "$work/out.tar"
diff -r --no-dereference "$tree" "$work/x1/in" >/dev/null && ok "tree contents round-trip" || bad "tree contents differ"
# the setuid bit is dropped without -a; everything else is equal
sed 's/^\.\/suid 4755 /.\/suid 755 /' <(modes "$tree") >"$work/want"
modes "$work/x1/in" >"$work/got"
diff "$work/want" "$work/got" >/dev/null && ok "modes, types and symlinks round-trip (setuid dropped)" ||
	bad "modes differ: $(diff "$work/want" "$work/got" | head -5)"
"$MSB" cp -a cp1:/root/in/suid - 2>"$work/err" | tar -tvf - >"$work/v" 2>&1
contains "-a keeps the setuid bit" "$work/v" "-rwsr-xr-x"
n=$("$MSB" cp cp1:/root/in - 2>/dev/null | tar -t | wc -l)
[ "$n" = "$(wc -l <"$work/names")" ] && ok "cp ... - | tar t (a pipe)" || bad "through a pipe: $n members"
expect "a single file" 0 sh -c "\"$MSB\" cp cp1:/root/in/sub/a.txt - | tar -xOf - a.txt"
[ "$(cat "$work/out")" = hello ] && ok "single file member a.txt" || bad "single file: $(cat "$work/out")"

# limits apply to a tar out as to files
expect "--max-files bounds a tar out" 1 sh -c "\"$MSB\" cp --max-files 3 cp1:/root/in - >/dev/null"
contains "--max-files message" "$work/err" "--max-files"
expect "--max-size bounds a tar out" 1 sh -c "\"$MSB\" cp --max-size 1k cp1:/root/in - >/dev/null"
contains "--max-size message" "$work/err" "--max-size"
[ "$(wc -l <"$work/err")" = 1 ] && ok "one line" || bad "message: $(cat "$work/err")"

# a compressed tar in, and a tar into a new directory; hard link in-tree
mkdir -p "$work/hl" && echo shared >"$work/hl/a" && ln "$work/hl/a" "$work/hl/b"
tar -C "$work/hl" -czf "$work/hl.tgz" .
expect "gzip tar with a hard link" 0 sh -c "\"$MSB\" cp - cp1:/root/hl <\"$work/hl.tgz\""
expect "hard link copied" 0 "$MSB" exec cp1 -- cat /root/hl/b
[ "$(cat "$work/out")" = shared ] && ok "hard link content" || bad "hard link: $(cat "$work/out")"

# --- hostile tars: refused, nothing written ---
python3 - "$work" <<'PY'
import io, sys, tarfile
w = sys.argv[1]
def mk(name, members):
    with tarfile.open(f"{w}/{name}.tar", "w", format=tarfile.GNU_FORMAT) as t:
        for m in members:
            ti = tarfile.TarInfo(m[1])
            data = b""
            if m[0] == "file":
                data = b"evil\n"
                ti.size = len(data)
            elif m[0] == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, m[2]
            elif m[0] == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, m[2]
            elif m[0] == "dir":
                ti.type = tarfile.DIRTYPE
            t.addfile(ti, io.BytesIO(data) if data else None)
first = ("file", "ok.txt")
mk("dotdot", [first, ("file", "../x")])
mk("dotdot2", [first, ("file", "a/../../x")])
mk("abs", [first, ("file", "/abs")])
mk("hardout", [first, ("hard", "h", "../../etc/passwd")])
mk("hardabs", [first, ("hard", "h", "/etc/passwd")])
mk("hardlater", [first, ("hard", "h", "later"), ("file", "later")])
mk("undersym", [first, ("sym", "l", "/etc"), ("file", "l/evil")])
mk("oversym", [first, ("sym", "l", "/etc/evil"), ("file", "l")])
PY
for t in dotdot dotdot2 abs hardout hardabs hardlater undersym oversym; do
	expect "tar $t refused" 1 sh -c "\"$MSB\" cp - cp1:/root/evil-$t <\"$work/$t.tar\""
	contains "tar $t: says refused" "$work/err" "refused"
	[ "$(wc -l <"$work/err")" = 1 ] && ok "tar $t: one line" || bad "tar $t: $(cat "$work/err")"
done
expect "nothing written by refused tars" 0 "$MSB" exec cp1 -- sh -c 'ls -d /root/evil-* /x /abs /root/x /etc/evil 2>/dev/null; grep -c evil /etc/passwd || true'
[ "$(cat "$work/out")" = 0 ] && ok "no trace of the refused tars" || bad "refused tars wrote: $(cat "$work/out")"
expect "garbage is not a tar" 1 sh -c "head -c 5000 /dev/urandom | \"$MSB\" cp - cp1:/root/garbage"
contains "garbage message" "$work/err" "msb: tar"

# --- stopped sandbox: the error says how ---
expect "stop" 0 "$MSB" stop cp1
expect "cp out of a stopped sandbox" 1 sh -c "\"$MSB\" cp cp1:/root/in - >/dev/null"
contains "says how" "$work/err" "msb: sandbox \`cp1\` is not running: start it with \`msb start cp1\`"
expect "cp into a stopped sandbox" 1 "$MSB" cp "$tree" cp1:/root
contains "says how (in)" "$work/err" "start it with \`msb start cp1\`"
expect "start again" 0 "$MSB" start cp1
expect "the copy is on its disk" 0 "$MSB" exec cp1 -- cat /root/in/sub/a.txt
contains "disk kept" "$work/out" hello
echo "test_cp: $pass passed, $fail failed"
[ "$fail" = 0 ]
