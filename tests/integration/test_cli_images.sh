#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Images by ID, and the commands around one sandbox booted from an ID,
# with a real registry and one real VM:
# - image ls (IMAGE ID column), -q (each image once), --json,
#   --format json, msb images -q; pull --insecure;
# - image inspect/rm by ID prefix, full ID, sha256: ID or manifest digest;
#   an ambiguous prefix names the candidates; an ID under two references
#   is not removed by ID; rm by ID removes one platform;
# - run -d from an ID prefix; inspect's one array and its fields (image
#   ID and digest, times, env, volumes, mounts, network, limits, exec
#   defaults, main process, restart policy), a missing name among others;
# - start on a running sandbox and stop on a stopped one succeed; rm of a
#   running one names -f; logs -s/--source/--follow; metrics -w/--json.
#
#   test_cli_images.sh MSB TOKEN_SERVER
set -uo pipefail
MSB=$1 TOKEN_SERVER=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
for tool in docker-registry skopeo umoci python3; do
	command -v "$tool" >/dev/null || { echo "skip: $tool missing"; exit 77; }
done

export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-cli-img-XXXXXX)
work=$(mktemp -d)
regdir=$work/registries
images=$work/images
unset MSB_ACCEL
watch_pid=
cleanup() {
	[ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null
	"$MSB" rm -f box cfg >/dev/null 2>&1
	"$src/tests/registry/registry.sh" stop "$regdir" >/dev/null 2>&1
	rm -rf "$MSB_HOME" "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/lib.sh"

# jget FILE EXPR: EXPR of the JSON in FILE (d), a string as is, else JSON
jget() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2" 2>&1
}
# is DESC GOT WANT
is() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got \`$2\`, wanted \`$3\`"; fi
}
# one_line DESC: stderr is one line starting "msb: "
one_line() {
	if [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q '^msb: ' "$work/err"; then
		ok "$1: one line"
	else
		bad "$1: stderr: $(head -c 300 "$work/err")"
	fi
}
# wait_for DESC SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_for() {
	local desc=$1 n=$(($2 * 10))
	shift 2
	until "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || { bad "$desc: not within the deadline"; return 1; }
		sleep 0.1
	done
	ok "$desc"
}

"$src/tests/images/build.sh" "$images" busybox multi >"$work/build.log" 2>&1 ||
	{ tail -20 "$work/build.log"; echo "FAIL - build test images"; exit 1; }
# the config digest (the image ID) of LAYOUT:TAG
layout_id() {
	python3 -c 'import json, sys
lay, tag = sys.argv[1], sys.argv[2]
blob = lambda d: json.load(open(lay + "/blobs/sha256/" + d[7:]))
m = [m for m in json.load(open(lay + "/index.json"))["manifests"]
     if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
print(blob(m["digest"])["config"]["digest"])' "$1" "$2"
}
# A twin of busybox whose ID starts with the same digit as busybox's: a
# label changes its config until it does (about 16 tries; the same every
# run, umoci's output depends on its inputs only).
cp -r "$images/busybox" "$work/twin"
want=$(layout_id "$images/busybox" latest)
twin=
for i in $(seq 1 400); do
	umoci config --image "$work/twin:latest" --tag "t$i" --config.label "n=$i" --no-history ||
		break
	id=$(layout_id "$work/twin" "t$i")
	[ "${id:7:1}" = "${want:7:1}" ] && { twin=t$i; break; }
done
[ -n "$twin" ] || { echo "FAIL - no twin image with the ID prefix ${want:7:1}"; exit 1; }
mkdir -p "$regdir"
"$src/tests/registry/registry.sh" start "$regdir" "$TOKEN_SERVER" >"$work/reg.log" 2>&1 ||
	{ cat "$work/reg.log"; echo "FAIL - start registries"; exit 1; }
# shellcheck disable=SC1091
. "$regdir/env"
# shellcheck disable=SC1091
. "$images/images.env"
"$src/tests/images/push.sh" "$images" "$REG_NOAUTH" busybox:latest multi:latest >"$work/push.log" 2>&1 ||
	{ tail -20 "$work/push.log"; echo "FAIL - push images"; exit 1; }
# the same image under a second name
"$src/tests/registry/registry.sh" push "$regdir" noauth "oci:$images/busybox:latest" \
	busybox2:latest --preserve-digests >>"$work/push.log" 2>&1 ||
	{ tail -20 "$work/push.log"; echo "FAIL - push busybox2"; exit 1; }
"$src/tests/registry/registry.sh" push "$regdir" noauth "oci:$work/twin:$twin" \
	twin:latest --preserve-digests >>"$work/push.log" 2>&1 ||
	{ tail -20 "$work/push.log"; echo "FAIL - push twin"; exit 1; }
R=$REG_NOAUTH

expect "pull --insecure -q" 0 "$MSB" pull --insecure -q "$R/busybox:latest"
is "pull -q prints the digest" "$(cat "$work/out")" "$IMG_BUSYBOX_DIGEST"
expect "pull --quiet the same image by another name" 0 "$MSB" pull --quiet "$R/busybox2:latest"
is "pull --quiet prints the digest" "$(cat "$work/out")" "$IMG_BUSYBOX_DIGEST"
expect "pull multi" 0 "$MSB" pull -q "$R/multi:latest"
expect "pull multi for arm64" 0 "$MSB" pull -q --platform linux/arm64 "$R/multi:latest"
expect "pull twin" 0 "$MSB" pull -q "$R/twin:latest"

# --- image ls ---
expect "image ls --json" 0 "$MSB" image ls --json
cp "$work/out" "$work/ls.json"
is "--json: an array of the five entries" "$(jget "$work/ls.json" 'len(d)')" 5
bb=$(jget "$work/ls.json" "[i['id'] for i in d if i['reference'] == '$R/busybox:latest'][0]")
bb2=$(jget "$work/ls.json" "[i['id'] for i in d if i['reference'] == '$R/busybox2:latest'][0]")
amd=$(jget "$work/ls.json" "[i['id'] for i in d if i['platform'] == 'linux/amd64' and 'multi' in i['reference']][0]")
arm=$(jget "$work/ls.json" "[i['id'] for i in d if i['platform'] == 'linux/arm64'][0]")
tw=$(jget "$work/ls.json" "[i['id'] for i in d if i['reference'] == '$R/twin:latest'][0]")
is "the twin's ID starts as busybox's" "${tw:7:1}" "${bb:7:1}"
[[ $bb =~ ^sha256:[0-9a-f]{64}$ ]] && ok "--json: the ID is the config digest" || bad "--json id: $bb"
is "one image under two references: one ID" "$bb2" "$bb"
[ "$amd" != "$arm" ] && [ "$amd" != "$bb" ] && ok "each platform its own ID" ||
	bad "IDs: $bb $amd $arm"
is "--json: the manifest digest" \
	"$(jget "$work/ls.json" "[i['digest'] for i in d if i['id'] == '$bb'][0]")" "$IMG_BUSYBOX_DIGEST"
expect "image ls --format json" 0 "$MSB" image ls --format json
is "--format json is --json" "$(cat "$work/out")" "$(cat "$work/ls.json")"
expect "image ls" 0 "$MSB" image ls
contains "image ls: an IMAGE ID column" "$work/out" "IMAGE ID"
grep -q "^$R/busybox:latest *linux/amd64 *${bb:7:12} " "$work/out" &&
	ok "image ls: the short ID (12 digits) after the platform" ||
	bad "image ls row: $(grep "busybox:" "$work/out")"
expect "image ls -q" 0 "$MSB" image ls -q
sort "$work/out" >"$work/q"
printf '%s\n' "${bb:7:12}" "${amd:7:12}" "${arm:7:12}" "${tw:7:12}" | sort >"$work/q.want"
is "-q: each image's short ID once" "$(cat "$work/q")" "$(cat "$work/q.want")"
expect "msb images -q" 0 "$MSB" images -q
is "msb images takes image ls's options" "$(sort "$work/out")" "$(cat "$work/q.want")"
expect "msb images --json" 0 "$MSB" images --json
is "msb images --json" "$(cat "$work/out")" "$(cat "$work/ls.json")"

# --- IDs: prefixes, full IDs, digests ---
# the shortest prefix of ID @1 that no other ID starts with
unique_prefix() {
	python3 -c 'import json, sys
ids = {i["id"][7:] for i in json.load(open(sys.argv[1]))}
me = sys.argv[2][7:]
print(next(me[:n] for n in range(1, 65)
           if sum(i.startswith(me[:n]) for i in ids) == 1))' "$work/ls.json" "$1"
}
short=$(unique_prefix "$bb")
echo "# busybox ID ${bb:7:12}, shortest unique prefix $short"
for id in "$short" "${bb:7:12}" "${bb:7}" "$bb" "$IMG_BUSYBOX_DIGEST"; do
	expect "image inspect $id" 0 "$MSB" image inspect "$id"
	is "image inspect $id: that image" "$(jget "$work/out" 'd[0]["id"]')" "$bb"
done
expect "image inspect: an arm64 ID" 0 "$MSB" image inspect "${arm:7:12}"
is "the arm64 entry" "$(jget "$work/out" 'd[0]["platform"]')" linux/arm64
expect "image inspect: one array for several" 0 "$MSB" image inspect "${amd:7:12}" "$R/busybox:latest"
is "two images in the array" "$(jget "$work/out" '[i["id"] for i in d]')" "[\"$amd\", \"$bb\"]"
expect "image inspect: a missing one among others" 1 "$MSB" image inspect "${amd:7:12}" "$R/nosuch:latest"
is "the others are printed" "$(jget "$work/out" 'len(d)')" 1
one_line "image inspect of a missing image"
expect "image inspect sha256:abc" 1 "$MSB" image inspect sha256:abc
contains "a malformed digest is named" "$work/err" "invalid image digest \`sha256:abc\`"
nomatch=$(for c in 0 1 2 3 4 5 6 7 8 9 a b c d e f; do
	grep -q "\"id\": \"sha256:$c" "$work/ls.json" || { echo "${c}${c}${c}${c}"; break; }
done)
if [ -n "$nomatch" ]; then
	expect "image inspect $nomatch: no such ID" 1 "$MSB" image inspect "$nomatch"
	one_line "image inspect $nomatch"
fi
# An ambiguous prefix: the digits busybox's and the twin's IDs share.
amb=$(python3 -c 'import os.path, sys
print(os.path.commonprefix(sys.argv[1:]))' "${bb:7}" "${tw:7}")
expect "image inspect $amb: ambiguous" 1 "$MSB" image inspect "$amb"
contains "the ambiguous prefix is named" "$work/err" "image ID \`$amb\` is ambiguous"
contains "... with the candidates" "$work/err" "${bb:7:12} ($R/busybox2:latest)"
contains "... both" "$work/err" "${tw:7:12} ($R/twin:latest)"
one_line "ambiguous prefix"
expect "run from an ambiguous prefix" 125 "$MSB" run --pull never "$amb" -- true
contains "run: the ambiguous prefix is named" "$work/err" "image ID \`$amb\` is ambiguous"
one_line "run from an ambiguous prefix"

expect "image rm by ID: two references" 1 "$MSB" image rm "$short"
contains "the references are named" "$work/err" "is stored as \`$R/busybox2:latest\`, \`$R/busybox:latest\`: remove it by reference"
expect "image rm by reference" 0 "$MSB" image rm "$R/busybox2:latest"
expect "image rm of one platform by ID" 0 "$MSB" image rm "${arm:7:12}"
expect "image ls -q after" 0 "$MSB" image ls -q
is "the arm64 image is gone, amd64 kept" "$(sort "$work/out")" "$(printf '%s\n' "${bb:7:12}" "${amd:7:12}" "${tw:7:12}" | sort)"
expect "image rm of a removed ID" 1 "$MSB" image rm "${arm:7:12}"
one_line "image rm of a removed ID"

# --- one sandbox, booted from an ID prefix ---
expect "run -d from an ID prefix" 0 "$MSB" run -d --name box "$short" sleep 100000
expect "inspect box" 0 "$MSB" inspect box
cp "$work/out" "$work/box.json"
is "inspect: an array of one" "$(jget "$work/box.json" 'len(d)')" 1
is "inspect: running" "$(jget "$work/box.json" 'd[0]["status"]')" running
is "inspect: the image, recorded by its full ID" "$(jget "$work/box.json" 'd[0]["image"]')" "$bb"
is "inspect: the image's ID" "$(jget "$work/box.json" 'd[0]["image_id"]')" "$bb"
is "inspect: the image's digest" "$(jget "$work/box.json" 'd[0]["image_digest"]')" "$IMG_BUSYBOX_DIGEST"
is "inspect: the image's reference" "$(jget "$work/box.json" 'd[0]["image_reference"]')" "$R/busybox:latest"
is "inspect: the platform" "$(jget "$work/box.json" 'd[0]["platform"]')" linux/amd64
is "inspect: started" "$(jget "$work/box.json" 'd[0]["started"] >= d[0]["created"]')" true
is "inspect: not finished" "$(jget "$work/box.json" 'd[0]["finished"]')" null
is "inspect: the main process" "$(jget "$work/box.json" 'd[0]["main"]["cmd"]')" '["sleep", "100000"]'
is "inspect: no exit code yet" "$(jget "$work/box.json" 'd[0]["exit_code"]')" null
expect "image rm of an image in use, by ID" 1 "$MSB" image rm "$short"
contains "in use: the sandbox is named" "$work/err" "is used by sandbox \`box\`"

expect "start on a running sandbox: a no-op" 0 "$MSB" start box
is "start prints the name" "$(cat "$work/out")" box
expect "rm of a running sandbox" 1 "$MSB" rm box
contains "rm names -f" "$work/err" "msb rm -f"
one_line "rm of a running sandbox"

expect "metrics --json box" 0 "$MSB" metrics --json box
is "metrics --json: the sandbox" "$(jget "$work/out" 'd["name"]')" box
"$MSB" metrics -w box >"$work/watch" 2>&1 &
watch_pid=$!
two_frames() { [ "$(grep -c '^NAME ' "$work/watch")" -ge 2 ]; }
wait_for "metrics -w repeats" 30 two_frames
grep -q '^box ' "$work/watch" && ok "metrics -w shows the sandbox" || bad "metrics -w: $(head -3 "$work/watch")"
kill "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null
watch_pid=

expect "logs -s kernel" 0 "$MSB" logs -s kernel box
[ -s "$work/out" ] && ok "the kernel console" || bad "logs -s kernel: empty"
expect "logs --source vmm" 0 "$MSB" logs box --source vmm
[ -s "$work/out" ] && ok "the supervisor's log" || bad "logs --source vmm: empty"
expect "logs --source main" 0 "$MSB" logs --source main box

expect "stop" 0 "$MSB" stop box
expect "stop of a stopped sandbox: a no-op" 0 "$MSB" stop box
is "stop prints the name" "$(cat "$work/out")" box
expect "stop -t 1 of a stopped sandbox" 0 "$MSB" stop -t 1 box
expect "logs --follow of a stopped sandbox ends" 0 "$MSB" logs --follow box
expect "inspect after stop" 0 "$MSB" inspect box
is "inspect: stopped" "$(jget "$work/out" 'd[0]["status"]')" stopped
is "inspect: finished" "$(jget "$work/out" 'd[0]["finished"] >= d[0]["started"]')" true
is "inspect: why it stopped" "$(jget "$work/out" 'd[0]["exit_reason"].startswith("stopped")')" true

# --- a created sandbox: the whole config ---
expect "volume create" 0 "$MSB" volume create vol1
expect "create with every kind of option" 0 "$MSB" create --name cfg -e A=1 \
	-w /tmp -u 1000 --ulimit nofile=64 --timeout 90 --tmpfs /scratch:1m \
	-v vol1:/data:ro --label k=v --restart on-failure:2 --hostname hh \
	--memory 256 --cpus 2 --idle-timeout 1h --entrypoint /bin/sh \
	"$R/multi:latest" -- -c 'exit 0'
expect "inspect cfg, a missing name, box" 1 "$MSB" inspect cfg nosuch box
one_line "inspect of a missing sandbox"
contains "the missing name" "$work/err" "no sandbox named \`nosuch\`"
cp "$work/out" "$work/cfg.json"
is "the others are printed, in order" "$(jget "$work/cfg.json" '[i["name"] for i in d]')" '["cfg", "box"]'
is "created" "$(jget "$work/cfg.json" 'd[0]["status"]')" created
is "never started" "$(jget "$work/cfg.json" '[d[0]["started"], d[0]["finished"]]')" "[null, null]"
is "image ID" "$(jget "$work/cfg.json" 'd[0]["image_id"]')" "$amd"
is "image digest" "$(jget "$work/cfg.json" 'd[0]["image_digest"]')" "$IMG_MULTI_AMD64_DIGEST"
is "env" "$(jget "$work/cfg.json" 'd[0]["env"]')" '["A=1"]'
is "volumes" "$(jget "$work/cfg.json" 'd[0]["volumes"]')" '[{"name": "vol1", "path": "/data", "readonly": true}]'
is "mounts" "$(jget "$work/cfg.json" 'd[0]["mounts"]')" '[{"type": "tmpfs", "target": "/scratch", "size_bytes": 1048576, "mode": 0}]'
is "network" "$(jget "$work/cfg.json" 'd[0]["network"]')" \
	'{"preset": "public", "rules": [], "block_domains": [], "block_suffixes": [], "ports": []}'
is "limits" "$(jget "$work/cfg.json" 'd[0]["limits"]')" \
	'{"cpus": 2, "memory_mib": 256, "ulimits": ["nofile=64"], "root_size_mib": null, "boot_timeout_s": 60, "idle_timeout_s": 3600, "max_duration_s": null, "on_idle": "stop"}'
is "exec defaults" "$(jget "$work/cfg.json" 'd[0]["exec_defaults"]')" \
	'{"workdir": "/tmp", "user": "1000", "timeout_ms": 90000}'
is "hostname" "$(jget "$work/cfg.json" 'd[0]["hostname"]')" hh
is "main process" "$(jget "$work/cfg.json" 'd[0]["main"]')" '{"entrypoint": ["/bin/sh"], "cmd": ["-c", "exit 0"], "stdin": false, "tty": false}'
is "restart policy" "$(jget "$work/cfg.json" 'd[0]["restart"]')" '{"policy": "on-failure", "max": 2}'
is "labels" "$(jget "$work/cfg.json" 'd[0]["labels"]')" '{"k": "v"}'
is "the stored options" "$(jget "$work/cfg.json" 'd[0]["config"]["rlimits"]')" '["nofile=64"]'
expect "rm --force of a created sandbox" 0 "$MSB" rm --force cfg
expect "rm box" 0 "$MSB" rm box
expect "image rm by ID once unused" 0 "$MSB" image rm "$short"
expect "image prune" 0 "$MSB" image prune
expect "image ls -q at the end" 0 "$MSB" image ls -q
is "only multi and the twin are left" "$(sort "$work/out")" "$(printf '%s\n' "${amd:7:12}" "${tw:7:12}" | sort)"

echo "test_cli_images: $pass passed, $fail failed"
[ "$fail" = 0 ]
