#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Storage with real VMs: tmpfs mounts and rootfs patches.
#   test_storage.sh PATH/TO/msb
set -uo pipefail
MSB=$1
export MSB_HOME
MSB_HOME=$(mktemp -d /tmp/msb-storage-test-XXXXXX)
unset MSB_ACCEL
work=$(mktemp -d)
trap '"$MSB" rm -f patched writer r1 r2 holder rootw >/dev/null 2>&1; rm -rf "$MSB_HOME" "$work"' EXIT

. "$(dirname "$0")/lib.sh"

# --- tmpfs ---
expect "tmpfs mounts" 0 "$MSB" run --tmpfs /scratch:1m --tmpfs /big -- sh -c \
	'mount | grep " /scratch \| /big "; df -k /scratch | tail -1; stat -c %a /scratch;
	 dd if=/dev/zero of=/scratch/x bs=1k count=2048 2>/dev/null; echo "dd=$?"; ls -l /scratch/x'
contains "tmpfs at /scratch" "$work/out" "tmpfs on /scratch type tmpfs"
contains "its size limit" "$work/out" "size=1024k"
contains "another without a limit" "$work/out" "tmpfs on /big type tmpfs"
contains "mode 1777 by default" "$work/out" "1777"
contains "writing past the limit fails" "$work/out" "dd=1"
contains "it holds 1 MiB" "$work/out" "1048576"
expect "tmpfs relative path" 2 "$MSB" run --tmpfs scratch -- true
contains "tmpfs path message" "$work/err" "must be absolute"
expect "tmpfs bad size" 2 "$MSB" run --tmpfs /s:lots -- true

# --- host directories (virtio-fs) ---
mkdir -p "$work/share"
echo fromhost >"$work/share/h"
expect "bind mount" 0 "$MSB" run -v "$work/share:/mnt/s" -- sh -c 'cat /mnt/s/h; echo fromguest >/mnt/s/g; mount | grep " /mnt/s "'
contains "host files seen in the guest" "$work/out" "fromhost"
contains "a virtiofs mount" "$work/out" "type virtiofs"
[ "$(cat "$work/share/g" 2>/dev/null)" = fromguest ] && ok "guest files seen on the host" || bad "guest file not on the host"
expect "read-only bind" 0 "$MSB" run -v "$work/share:/mnt/s:ro" -- sh -c 'cat /mnt/s/g; echo x >/mnt/s/x 2>/dev/null; echo "write=$?"; mount -o remount,rw /mnt/s 2>/dev/null; echo y >/mnt/s/y 2>/dev/null; echo "after-remount=$?"'
contains "read-only bind refuses writes" "$work/out" "write=1"
contains "even after a remount in the guest" "$work/out" "after-remount=1"
[ ! -e "$work/share/x" ] && [ ! -e "$work/share/y" ] && ok "nothing written to a read-only share" || bad "a read-only share was written"
expect "missing host directory" 125 "$MSB" run -v "$work/nope:/x" -- true
contains "missing directory message" "$work/err" "nope"
expect "a file is not a directory" 125 "$MSB" run -v "$work/share/h:/x" -- true
contains "not a directory message" "$work/err" "not a directory"

# --- as an ordinary user: volumes, host directories, tmpfs ---
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	uhome=$(mktemp -d /tmp/msb-user-XXXXXX)
	mkdir -p "$uhome/share" "$uhome/bin" "$uhome/guest"
	echo mine >"$uhome/share/f"
	# The checkout may be private to root: the user gets its own copy of
	# msb, the library, the supervisor and the guest files.
	build=$(cd "$(dirname "$MSB")/../.." && pwd)
	cp "$MSB" "$build/src/vmm/msb-vmm" "$uhome/bin/"
	netd=$build/src/netd/msb-netd
	[ -x "$netd" ] && cp "$netd" "$uhome/bin/"
	cp -L "$build/src/lib/libmicrosandbox.so.0" "$uhome/bin/"
	cp -r --sparse=always "$MSB_TEST_GUEST_DIR"/. "$uhome/guest/"
	chown -R 65534:65534 "$uhome"
	asuser() {
		setpriv --reuid=65534 --regid=65534 --clear-groups env \
			HOME="$uhome" MSB_HOME="$uhome/msb" \
			LD_LIBRARY_PATH="$uhome/bin" MSB_VMM="$uhome/bin/msb-vmm" \
			MSB_NETD="$uhome/bin/msb-netd" \
			MSB_GUEST_DIR="$uhome/guest" "$@"
	}
	UMSB=$uhome/bin/msb
	expect "user: volume create" 0 asuser "$UMSB" volume create --quota 16m uvol
	expect "user: run with a volume, a share and a tmpfs" 0 asuser "$UMSB" run -v uvol:/v -v "$uhome/share:/s" --tmpfs /t:1m -- sh -c 'id -u; cat /s/f; echo fromguest >/s/g; echo vol >/v/x; cat /v/x; echo t >/t/x && echo tmpfs-ok'
	contains "user: guest runs as root" "$work/out" $'0\nmine'
	contains "user: volume works" "$work/out" "vol"
	contains "user: tmpfs works" "$work/out" "tmpfs-ok"
	[ "$(stat -c %u "$uhome/share/g" 2>/dev/null)" = 65534 ] && ok "user: guest root's files belong to the user" || bad "user: owner of g: $(stat -c %u "$uhome/share/g" 2>&1)"
	rm -rf "$uhome"
else
	ok "not root: the whole test ran as an ordinary user"
fi

# --- root size: the guest filesystem grows to it ---
expect "root size" 0 "$MSB" run --root-size 4G -- sh -c 'df -k / | tail -1'
size=$(awk '{ print $2 }' "$work/out")
[ -n "$size" ] && [ "$size" -gt 3500000 ] && ok "root grown to 4G ($size KiB)" || bad "root size: $(cat "$work/out")"
expect "root size below the image" 125 "$MSB" run --root-size 10 -- true
contains "root size message" "$work/err" "smaller than the image"

# --- root sources: raw and qcow2 disks, read-only unless asked ---
base="$MSB_TEST_GUEST_DIR/rootfs.ext4"
if [ -r "$base" ]; then
	qemu-img convert -O qcow2 "$base" "$work/root.qcow2"
	before=$(md5sum <"$work/root.qcow2")
	expect "qcow2 root" 0 "$MSB" run "$work/root.qcow2" -- sh -c 'echo x >/etc/scribble; cat /etc/scribble'
	contains "qcow2 root boots and takes writes" "$work/out" "x"
	[ "$(md5sum <"$work/root.qcow2")" = "$before" ] && ok "qcow2 root untouched after a run" || bad "qcow2 root file changed"
	cp --sparse=always "$base" "$work/root.raw"
	expect "writable raw root" 0 "$MSB" run --root-writable "$work/root.raw" -- sh -c 'echo kept >/etc/kept'
	expect "its change is in the file" 0 "$MSB" run "$work/root.raw" -- cat /etc/kept
	contains "writable root kept the change" "$work/out" "kept"
	expect "a wrong filesystem type" 125 "$MSB" run --root-fstype ext2 "$work/root.raw" -- true
	contains "fstype message" "$work/err" "(ext2)"
	expect "root-writable needs a disk" 125 "$MSB" run --root-writable -- true
	expect "a writable root, held" 0 "$MSB" run -d --name rootw --root-writable "$work/root.raw"
	expect "a second user refused" 125 "$MSB" run "$work/root.raw" -- true
	contains "root in use message" "$work/err" "in use by another sandbox"
	"$MSB" rm -f rootw >/dev/null 2>&1
	# a host directory as the root (virtio-fs): read-only unless asked
	mkdir "$work/rootdir"
	if debugfs -R "rdump / $work/rootdir" "$base" >/dev/null 2>&1; then
		expect "directory root" 0 "$MSB" run "$work/rootdir" -- sh -c 'mount | grep " / "; cat /etc/hostname >/dev/null && echo readable; echo x >/etc/x 2>/dev/null; echo "write=$?"'
		contains "root over virtiofs" "$work/out" "type virtiofs"
		contains "directory root is readable" "$work/out" "readable"
		contains "directory root read-only by default" "$work/out" "write=1"
		expect "writable directory root" 0 "$MSB" run --root-writable "$work/rootdir" -- sh -c 'echo fromguest >/root/z'
		[ "$(cat "$work/rootdir/root/z" 2>/dev/null)" = fromguest ] && ok "writable directory root writes the host directory" || bad "no /root/z on the host"
	else
		bad "debugfs rdump of $base failed"
	fi
else
	bad "no $base to test disk roots with"
fi

# --- rootfs patches: every kind, in order, before the command ---
mkdir -p "$work/tree/sub"
printf 'filedata\n' >"$work/tree/sub/f"
chmod 750 "$work/tree/sub"
chmod 640 "$work/tree/sub/f"
ln -s sub/f "$work/tree/link"
expect "patched run" 0 "$MSB" run --name patched -d \
	--tmpfs /scratch:2m \
	--patch-text /etc/greeting=hello \
	--patch-append /etc/hosts=$'127.0.0.1 myapp.local\n' \
	--patch-mkdir /app:700 \
	--patch-copy "$work/tree:/app/tree" \
	--patch-symlink /app/g=/etc/greeting \
	--patch-remove /etc/profile \
	--patch-remove /no/such/path \
	--patch-text /app/order=first --patch-text /app/order=second
expect "read the patches" 0 "$MSB" exec patched -- sh -c \
	'cat /etc/greeting; echo; grep -c myapp.local /etc/hosts; stat -c "%a %n" /app /app/tree/sub /app/tree/sub/f;
	 cat /app/tree/link; readlink /app/g; test -e /etc/profile || echo profile-gone; cat /app/order; echo'
contains "text" "$work/out" "hello"
contains "append, once" "$work/out" $'1\n'
contains "mkdir with its mode" "$work/out" "700 /app"
contains "copy keeps directory modes" "$work/out" "750 /app/tree/sub"
contains "copy keeps file modes" "$work/out" "640 /app/tree/sub/f"
contains "copy keeps symlinks" "$work/out" "filedata"
contains "symlink" "$work/out" "/etc/greeting"
contains "remove" "$work/out" "profile-gone"
contains "patches apply in order" "$work/out" "second"
# applied once: a restart neither repeats nor loses them; tmpfs comes back
expect "restart" 0 "$MSB" restart patched
expect "after restart" 0 "$MSB" exec patched -- sh -c 'grep -c myapp.local /etc/hosts; mount | grep -c " /scratch "'
contains "patches not applied again" "$work/out" $'1\n1'
expect "remove" 0 "$MSB" rm -f patched

# a patch that fails fails the create, names the patch, and leaves nothing
expect "failing patch" 125 "$MSB" run --name broken --patch-mkdir /ok --patch-text /no/dir/x=1 -- true
contains "names the patch" "$work/err" "rootfs patch 2 (text \`/no/dir/x\`) failed"
expect "nothing left" 0 "$MSB" ls
if grep -q broken "$work/out"; then bad "failed create left a sandbox"; else ok "failed create left no sandbox"; fi
[ -z "$(ls "$MSB_HOME/sandboxes" 2>/dev/null)" ] && ok "no sandbox folder left" || bad "sandbox folders left: $(ls "$MSB_HOME/sandboxes")"
expect "copy from a missing host path" 125 "$MSB" run --patch-copy /no/such/host:/x -- true
contains "missing host path message" "$work/err" "/no/such/host"
expect "patch with a relative path" 2 "$MSB" run --patch-text etc/x=1 -- true
expect "patches need a boot (create)" 125 "$MSB" create --name later --patch-text /x=1
contains "create refuses patches" "$work/err" "applied when a sandbox is created by booting"

# --- named volumes ---
expect "volume create" 0 "$MSB" volume create --quota 32m data
expect "volume create again" 1 "$MSB" volume create data
contains "volume exists message" "$work/err" "exists"
expect "volume bad quota" 2 "$MSB" volume create --quota lots other
expect "volume bad name" 1 "$MSB" volume create "../x"
# the writer/reader example: write in one sandbox, read-only in another
expect "writer" 0 "$MSB" run --name writer -v data:/data -- sh -c 'echo "from writer" >/data/note; mkdir -p /data/dir; echo deep >/data/dir/f'
expect "reader" 0 "$MSB" run -v data:/data:ro -- sh -c 'cat /data/note /data/dir/f; echo x >/data/y 2>/dev/null; echo "write=$?"; mount | grep " /data "'
contains "data survives the writer" "$work/out" "from writer"
contains "trees too" "$work/out" "deep"
contains "read-only refuses writes" "$work/out" "write=1"
contains "mounted ro" "$work/out" "(ro,"
# attachment rules: one read-write, or many read-only
expect "holder" 0 "$MSB" start writer
expect "second read-write refused" 125 "$MSB" run -v data:/data -- true
contains "the conflict names the holder" "$work/err" "mounted by \`writer\`"
expect "read-only while it is written refused" 125 "$MSB" run -v data:/data:ro -- true
expect "remove refused while mounted" 1 "$MSB" volume rm data
contains "remove message" "$work/err" "stop it first"
expect "volume ls" 0 "$MSB" volume ls
contains "ls shows who mounts it" "$work/out" "writer"
expect "stop the holder" 0 "$MSB" stop writer
expect "readers together" 0 sh -c "'$MSB' run -d --name r1 -v data:/d:ro && '$MSB' run -d --name r2 -v data:/d:ro && '$MSB' exec r2 -- cat /d/note"
contains "two readers at once" "$work/out" "from writer"
expect "writer refused while read" 1 "$MSB" start writer
contains "names the readers" "$work/err" "mounted by \`r1 (ro)\`, \`r2 (ro)\` ("
"$MSB" rm -f r1 r2 >/dev/null 2>&1
# quota: ENOSPC inside, the volume stays usable and its files intact
expect "fill past the quota" 0 "$MSB" run -v data:/data -- sh -c 'dd if=/dev/zero of=/data/big bs=1M count=64 2>/dev/null; echo "dd=$?"; rm /data/big; cat /data/note'
contains "writes past the quota fail" "$work/out" "dd=1"
contains "files intact after a full disk" "$work/out" "from writer"
expect "inspect" 0 "$MSB" volume inspect data
contains "inspect quota" "$work/out" "\"quota_bytes\": 33554432"
# persistence across restart and removal of the sandbox
expect "restart the writer" 0 "$MSB" restart writer
expect "data after restart" 0 "$MSB" exec writer -- cat /data/note
contains "restart keeps the mount" "$work/out" "from writer"
expect "remove the writer" 0 "$MSB" rm -f writer
expect "data after removal" 0 "$MSB" run -v data:/data:ro -- cat /data/note
contains "removal keeps the volume" "$work/out" "from writer"
# ten volumes at once (one virtio-scsi controller, one device slot)
ten=""
for i in 0 1 2 3 4 5 6 7 8 9; do
	"$MSB" volume create --quota 16m "v$i" >/dev/null || bad "create v$i"
	ten="$ten -v v$i:/vol/$i"
done
expect "ten volumes" 0 "$MSB" run $ten -- sh -c 'for i in 0 1 2 3 4 5 6 7 8 9; do echo $i >/vol/$i/id; done; mount | grep -c " /vol/"'
contains "all ten mounted" "$work/out" "10"
expect "ten volumes again" 0 "$MSB" run $ten --tmpfs /t -- sh -c 'cat /vol/*/id | tr -d "\n"'
contains "each kept its own data" "$work/out" "0123456789"
# host-side access through libext2fs: list and copy out, checksums equal
expect "fill a tree" 0 "$MSB" run -v v0:/v -- sh -c 'mkdir -p /v/t/sub; echo one >/v/t/f; chmod 640 /v/t/f; ln -s f /v/t/link; head -c 300000 /dev/urandom >/v/t/sub/bin; cd /v/t && md5sum f sub/bin'
cp "$work/out" "$work/sums"
expect "volume ls NAME" 0 "$MSB" volume ls v0
contains "lists the root" "$work/out" " t"
expect "volume ls NAME PATH" 0 "$MSB" volume ls v0 /t
contains "modes in the listing" "$work/out" "-0640"
contains "symlinks in the listing" "$work/out" "link -> f"
expect "volume cp out" 0 "$MSB" volume cp v0:/t "$work/t"
(cd "$work/t" && md5sum f sub/bin) >"$work/hostsums"
if cmp -s "$work/sums" "$work/hostsums"; then ok "copied out intact (md5)"; else bad "checksums differ: $(cat "$work/sums" "$work/hostsums")"; fi
[ "$(stat -c %a "$work/t/f")" = 640 ] && ok "modes kept" || bad "mode of f: $(stat -c %a "$work/t/f")"
[ "$(readlink "$work/t/link")" = f ] && ok "symlinks kept" || bad "link: $(readlink "$work/t/link")"
# and copying in: into a directory, then read in a guest
mkdir -p "$work/in/sub"
echo infile >"$work/in/f"
chmod 604 "$work/in/f"
ln -s f "$work/in/link"
head -c 400000 /dev/urandom >"$work/in/sub/bin"
(cd "$work/in" && md5sum f sub/bin) >"$work/insums"
expect "volume cp in" 0 "$MSB" volume cp "$work/in" v1:/
expect "copied in, read by a guest" 0 "$MSB" run -v v1:/v -- sh -c 'cd /v/in && md5sum f sub/bin; stat -c %a f; readlink link'
head -2 "$work/out" >"$work/guestsums"
if cmp -s "$work/insums" "$work/guestsums"; then ok "copied in intact (md5)"; else bad "checksums differ: $(cat "$work/insums" "$work/guestsums")"; fi
contains "copy in keeps modes" "$work/out" "604"
contains "copy in keeps symlinks" "$work/out" $'\nf'
if e2fsck -fn "$MSB_HOME/volumes/v1/disk.img" >/dev/null 2>&1; then ok "filesystem clean after copying in"; else bad "e2fsck finds errors after copy in"; fi
head -c $((20 << 20)) /dev/zero >"$work/big"
expect "copy in past the quota" 1 "$MSB" volume cp "$work/big" v1:/big
contains "full volume message" "$work/err" "is full"
if e2fsck -fn "$MSB_HOME/volumes/v1/disk.img" >/dev/null 2>&1; then ok "filesystem clean after filling it"; else bad "e2fsck finds errors after a full copy"; fi
expect "volume ls missing path" 1 "$MSB" volume ls v0 /nope
expect "run -d holding v0" 0 "$MSB" run -d --name holder -v v0:/v
expect "host access refused while mounted read-write" 1 "$MSB" volume ls v0
expect "copy in refused while mounted" 1 "$MSB" volume cp "$work/in" v0:/x
contains "refusal names the holder" "$work/err" "\`holder\`"
"$MSB" rm -f holder >/dev/null 2>&1
expect "unknown volume" 125 "$MSB" run -v nope:/x -- true
contains "unknown volume message" "$work/err" "no volume named \`nope\`"
expect "volume rm" 0 "$MSB" volume rm data v0 v1 v2 v3 v4 v5 v6 v7 v8 v9
expect "volume ls empty" 0 "$MSB" volume ls
if grep -q data "$work/out"; then bad "volume left after rm"; else ok "volumes removed"; fi

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
