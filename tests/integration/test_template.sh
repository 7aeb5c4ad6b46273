#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Integration tests of warm templates (docs/snapshots.md) with real VMs: the
# first sandbox of a configuration saves one, the next restores it; restored
# and cold-booted sandboxes answer alike (environment, host name, mounts,
# resolver, clock) while each has its own randomness; a damaged template
# falls back to a cold boot and is removed; another key boots cold; two
# first creators at once both work; --no-template, MSB_NO_TEMPLATE; msb
# template ls/rm/prune and the size cap.
#   test_template.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-tmpl-test-XXXXXX)
unset MSB_ACCEL MSB_NO_TEMPLATE MSB_TEMPLATE_MAX_MB
work=$(mktemp -d)
names="cold1 warm1 warm2 plain env1 bad1 bad2 mem1 mem2 c1 c2 k1"
cleanup() {
	for n in $names; do "$MSB" rm -f "$n" >/dev/null 2>&1; done
	pkill -9 -f "$MSB_HOME/" 2>/dev/null
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"
log_of() { cat "$MSB_HOME/sandboxes/$1/logs/vmm.log"; }
# logged NAME TEXT DESC: vmm.log of sandbox NAME has TEXT
logged() {
	if log_of "$1" | grep -qF -- "$2"; then ok "$3"; else
		bad "$3: \`$2\` not in $1's vmm.log: $(log_of "$1" | grep -i template | tail -3)"
	fi
}
ntemplates() { "$MSB" template ls -q | wc -l; }
only_state() { ls "$MSB_HOME"/templates/*/state 2>/dev/null | head -1; }
common=(--hostname same -e FOO=bar -m 512)

# 1. The first sandbox saves the template, the second restores it.
expect "first run" 0 "$MSB" run -d --name cold1 "${common[@]}"
logged cold1 "none yet: saving it" "first boot: no template yet"
logged cold1 "saved (" "first boot saves it"
[ "$(ntemplates)" = 1 ] && ok "template ls: one" || bad "template ls: $(ntemplates)"
expect "second run" 0 "$MSB" run -d --name warm1 "${common[@]}"
logged warm1 "restored in" "second boot restores it"
expect "third run" 0 "$MSB" run -d --name warm2 "${common[@]}"
logged warm2 "restored in" "third boot restores it"
expect "cold run (--no-template)" 0 "$MSB" run -d --name plain --no-template "${common[@]}"
logged plain "not used (--no-template)" "--no-template boots cold"
if log_of plain | grep -q "restored in\|saved ("; then
	bad "--no-template touched a template"
else ok "--no-template: no save, no restore"; fi

# 2. Restored and cold sandboxes answer the same questions the same way.
probe='echo "host=$(hostname)"; env | grep -v "^HOSTNAME=\|^PWD=\|^SHLVL=\|^_=" | sort;
awk "{print \$1, \$2, \$3}" /proc/mounts | sort; cat /etc/resolv.conf /etc/hosts'
for n in cold1 warm1 plain; do
	"$MSB" exec "$n" -- sh -c "$probe" >"$work/probe.$n" 2>&1
done
contains "probe sees the host name" "$work/probe.warm1" "host=same"
contains "probe sees the env" "$work/probe.warm1" "FOO=bar"
cmp -s "$work/probe.cold1" "$work/probe.warm1" &&
	ok "restored = cold (saving boot): env, host name, mounts, resolver" ||
	bad "restored differs from the saving boot: $(diff "$work/probe.cold1" "$work/probe.warm1" | head -5)"
cmp -s "$work/probe.plain" "$work/probe.warm1" &&
	ok "restored = cold (--no-template): env, host name, mounts, resolver" ||
	bad "restored differs from a cold boot: $(diff "$work/probe.plain" "$work/probe.warm1" | head -5)"

# The clock: within 1 s of the host's, read around the guest's.
for n in warm1 warm2; do
	before=$(date +%s)
	g=$("$MSB" exec "$n" -- date +%s)
	after=$(date +%s)
	if [ -n "$g" ] && [ "$g" -ge $((before - 1)) ] && [ "$g" -le $((after + 1)) ]; then
		ok "$n: clock within 1 s of the host"
	else bad "$n: guest clock $g, host $before..$after"; fi
done
# A command that sets the clock wrong: the next exec starts with the host's
# time again (a clock ping goes ahead of every exec request).
g=$("$MSB" exec warm1 -- sh -c 'date -s "2001-01-01 00:00:00" >/dev/null; date +%s')
[ -n "$g" ] && [ "$g" -lt 1000000000 ] &&
	ok "a command set the guest clock to 2001" ||
	bad "date -s did not set the guest clock: $g"
before=$(date +%s)
g=$("$MSB" exec warm1 -- date +%s)
after=$(date +%s)
if [ -n "$g" ] && [ "$g" -ge $((before - 1)) ] && [ "$g" -le $((after + 1)) ]; then
	ok "the next exec has the host's clock again"
else bad "after date -s: guest clock $g, host $before..$after"; fi

# Randomness: two clones of one template differ (urandom, kernel uuid,
# boot_id), and from the saving boot.
for n in cold1 warm1 warm2; do
	"$MSB" exec "$n" -- sh -c 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"' >"$work/rnd.$n"
	"$MSB" exec "$n" -- cat /proc/sys/kernel/random/boot_id >"$work/boot.$n"
done
[ -s "$work/rnd.warm1" ] && ! cmp -s "$work/rnd.warm1" "$work/rnd.warm2" &&
	! cmp -s "$work/rnd.cold1" "$work/rnd.warm1" &&
	ok "urandom differs across clones" ||
	bad "urandom: $(cat "$work/rnd.cold1") $(cat "$work/rnd.warm1") $(cat "$work/rnd.warm2")"
[ -s "$work/boot.warm1" ] && ! cmp -s "$work/boot.warm1" "$work/boot.warm2" &&
	ok "boot_id differs across clones" ||
	bad "boot_id: $(cat "$work/boot.warm1") $(cat "$work/boot.warm2")"
for n in warm1 warm2 plain; do "$MSB" rm -f "$n" >/dev/null 2>&1; done

# 3. MSB_NO_TEMPLATE=1 boots cold.
expect "MSB_NO_TEMPLATE=1" 0 env MSB_NO_TEMPLATE=1 "$MSB" run -d --name env1 "${common[@]}"
logged env1 "not used (MSB_NO_TEMPLATE is set)" "MSB_NO_TEMPLATE: cold boot"
"$MSB" rm -f env1 >/dev/null 2>&1

# 4. A damaged template: a stream that does not load makes QEMU exit; the
# sandbox boots cold all the same, and the template is removed.
state=$(only_state)
head -c 1000000 "$state" >"$work/state" && cat "$work/state" >"$state"
expect "truncated template: the run works" 0 "$MSB" run -d --name bad1 "${common[@]}"
logged bad1 "restore failed" "truncated template: restore failed, logged"
logged bad1 "booting cold; the template is removed" "truncated template: cold boot"
[ ! -e "$state" ] && ok "truncated template removed" || bad "truncated template still there"
expect "exec after the fallback" 0 "$MSB" exec bad1 -- hostname
contains "fallback sandbox answers" "$work/out" "same"
"$MSB" rm -f bad1 >/dev/null 2>&1
# The next one saves a good template again; then garbage in its place is
# refused before QEMU starts, replaced by a new save.
expect "run after removal saves again" 0 "$MSB" run -d --name bad2 "${common[@]}"
logged bad2 "saved (" "a new template after the removal"
"$MSB" rm -f bad2 >/dev/null 2>&1
state=$(only_state)
echo "not a migration stream" >"$state"
expect "garbage template: the run works" 0 "$MSB" run -d --name bad2 "${common[@]}"
logged bad2 "was not a valid template (removed)" "garbage template: removed, logged"
logged bad2 "saved (" "garbage template: replaced"
"$MSB" rm -f bad2 >/dev/null 2>&1

# 5. Another key (memory) boots cold and saves its own; the size cap keeps
# only what fits (the least recently used goes).
expect "other memory" 0 env MSB_TEMPLATE_MAX_MB=100000 "$MSB" run -d --name mem1 --hostname same -m 384
logged mem1 "none yet: saving it" "another key: no template, cold boot"
[ "$(ntemplates)" = 2 ] && ok "two templates" || bad "template ls: $(ntemplates)"
"$MSB" rm -f mem1 >/dev/null 2>&1
one=$(du -m "$(only_state)" | cut -f1)
expect "third key under a small cap" 0 env MSB_TEMPLATE_MAX_MB=$((one + one / 2)) "$MSB" run -d --name mem2 --hostname same -m 320
logged mem2 "least recently used removed" "the cap removes the least recently used"
[ "$(ntemplates)" = 1 ] && ok "cap: one template kept" || bad "cap: $(ntemplates) templates"
"$MSB" rm -f mem2 >/dev/null 2>&1

# 6. Two first creators at once: one saves, both work.
expect "prune --all" 0 "$MSB" template prune --all
[ "$(ntemplates)" = 0 ] && ok "prune --all: none left" || bad "after prune: $(ntemplates)"
"$MSB" run -d --name c1 "${common[@]}" >"$work/c1" 2>&1 &
p1=$!
"$MSB" run -d --name c2 "${common[@]}" >"$work/c2" 2>&1 &
p2=$!
wait $p1 && wait $p2 && ok "two first creators: both started" ||
	bad "two first creators: $(cat "$work/c1" "$work/c2" | tail -3)"
expect "exec c1" 0 "$MSB" exec c1 -- hostname
expect "exec c2" 0 "$MSB" exec c2 -- hostname
saves=$( (log_of c1; log_of c2) | grep -c "saved (")
[ "$saves" = 1 ] && ok "one of them saved" || bad "saves: $saves"
[ "$(ntemplates)" = 1 ] && ok "one template" || bad "templates: $(ntemplates)"

# 7. A creator killed (kill -9) while its template is in the making leaves
# no state; the next one cleans up and saves it.
for n in c1 c2; do "$MSB" rm -f "$n" >/dev/null 2>&1; done
"$MSB" template prune --all >/dev/null
"$MSB" run -d --name k1 "${common[@]}" >/dev/null 2>&1 &
p1=$!
for _ in $(seq 600); do
	ls "$MSB_HOME"/templates/*/state.tmp.* >/dev/null 2>&1 &&
		[ -s "$MSB_HOME/sandboxes/k1/lock" ] && break
	sleep 0.1
done
vpid=$(cat "$MSB_HOME/sandboxes/k1/lock" 2>/dev/null)
if [ -n "$vpid" ] && kill -9 "$vpid" 2>/dev/null; then
	wait $p1
	[ -z "$(only_state)" ] && ok "killed creator: no state" ||
		bad "killed creator left a state: $(only_state)"
	"$MSB" rm -f k1 >/dev/null 2>&1
	expect "run after a killed creator" 0 "$MSB" run -d --name k1 "${common[@]}"
	logged k1 "saved (" "the next creator saves it"
	ls "$MSB_HOME"/templates/*/state.tmp.* >/dev/null 2>&1 &&
		bad "temp files left: $(ls "$MSB_HOME"/templates/*/)" ||
		ok "no temp file left"
else
	wait $p1
	bad "killed creator: no supervisor to kill (pid '$vpid')"
fi
"$MSB" rm -f k1 >/dev/null 2>&1

# 8. msb template ls / rm.
expect "a template to list" 0 "$MSB" run --name k1 "${common[@]}" -- true
expect "template ls" 0 "$MSB" template ls
contains "ls header" "$work/out" "LAST USED"
contains "ls: tcg or kvm" "$work/out" "512M"
expect "template ls --json" 0 "$MSB" template ls --json
contains "ls --json" "$work/out" '"memory_mib": 512'
id=$("$MSB" template ls -q | head -1)
expect "template rm (prefix)" 0 "$MSB" template rm "${id:0:8}"
[ "$(ntemplates)" = 0 ] && ok "rm: none left" || bad "after rm: $(ntemplates)"
expect "template rm unknown" 1 "$MSB" template rm 0123
contains "rm unknown message" "$work/err" "no template"
expect "template usage" 2 "$MSB" template frob
contains "usage error" "$work/err" "--help"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
