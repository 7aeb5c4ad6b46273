#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# imgtool.py - layer tarballs and OCI JSON that umoci cannot make, for build.sh
#
# Layer tarballs are written entry by entry with tarfile, so that they can
# hold what a builder cannot put on disk without root (device nodes, other
# owners, security.* xattrs) and what no sane tool would produce (escaping
# paths). Every entry has a fixed mtime, owner and order, so the same input
# gives the same bytes. build.sh adds them to images with
# `umoci raw add-layer` (which gzips them deterministically).
#
# Subcommands (all paths are created or overwritten):
#   busybox-tar OUT BUSYBOX [PATH=TEXT...]  busybox rootfs (+ extra files)
#   files-tar OUT PATH=TEXT...              files (parents created)
#   layers-tars DIR                         DIR/l1.tar l2.tar l3.tar
#   escape-tars DIR                         DIR/<tag>*.tar, see escape_tars()
#   zstd LAYOUT SRC DST                     DST = SRC with zstd layers
#   index LAYOUT TAG REF...                 TAG = image index of REFs
#   gc LAYOUT                               drop unreferenced blobs
#   digest LAYOUT TAG                       print TAG's digest
#   check-layers ROOTFS [--rootless]        assert ROOTFS is the layers
#                                           image, correctly unpacked

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

# 2024-01-01T00:00:00Z: the mtime of every entry unless said otherwise.
EPOCH = 1704067200
# 2001-09-09T01:46:40Z: the "old" file in the layers image.
OLD_MTIME = 1000000000

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def die(msg):
    sys.stderr.write("imgtool.py: %s\n" % msg)
    sys.exit(1)


class Layer:
    """A tar being written: entries go out in the order they are added."""

    def __init__(self, path):
        self.tf = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)

    def _add(self, ti, data=None, fmt=None):
        ti.mtime = ti.mtime if ti.mtime else EPOCH
        ti.uname = ti.gname = ""
        saved = self.tf.format
        if fmt is not None:
            self.tf.format = fmt
        try:
            self.tf.addfile(ti, io.BytesIO(data) if data is not None
                            else None)
        finally:
            self.tf.format = saved

    @staticmethod
    def _info(name, kind, mode, uid, gid, mtime, xattrs):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.mtime = mtime
        for key, value in (xattrs or {}).items():
            # Values are bytes; these are all valid UTF-8, so tarfile
            # writes them as they are (no hdrcharset record).
            ti.pax_headers["SCHILY.xattr." + key] = value.decode("utf-8")
        return ti

    def dir(self, name, mode=0o755, uid=0, gid=0, mtime=EPOCH, xattrs=None):
        self._add(self._info(name, tarfile.DIRTYPE, mode, uid, gid, mtime,
                             xattrs))

    def file(self, name, data, mode=0o644, uid=0, gid=0, mtime=EPOCH,
             xattrs=None, fmt=None):
        if isinstance(data, str):
            data = data.encode("utf-8")
        ti = self._info(name, tarfile.REGTYPE, mode, uid, gid, mtime, xattrs)
        ti.size = len(data)
        self._add(ti, data, fmt)

    def symlink(self, name, target, uid=0, gid=0, fmt=None):
        ti = self._info(name, tarfile.SYMTYPE, 0o777, uid, gid, EPOCH, None)
        ti.linkname = target
        self._add(ti, fmt=fmt)

    def hardlink(self, name, target, mode=0o644, uid=0, gid=0):
        ti = self._info(name, tarfile.LNKTYPE, mode, uid, gid, EPOCH, None)
        ti.linkname = target
        self._add(ti)

    def device(self, name, kind, major, minor, mode):
        ti = self._info(name, kind, mode, 0, 0, EPOCH, None)
        ti.devmajor, ti.devminor = major, minor
        self._add(ti)

    def close(self):
        self.tf.close()


def parse_extra(args):
    out = []
    for arg in args:
        path, sep, text = arg.partition("=")
        if not sep or not path:
            die("expected PATH=TEXT, got %r" % arg)
        out.append((path.strip("/"), text))
    return out


def add_files(layer, files, have):
    """Adds files, and before each any parent directory not in have."""
    for path, text in files:
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in have:
                layer.dir(d)
                have.add(d)
        layer.file(path, text + "\n")


def busybox_tar(out, busybox, extra):
    """A root filesystem: /bin/busybox, one symlink per applet from
    `busybox --list-full`, a root and nobody user, and the usual dirs."""
    with open(busybox, "rb") as f:
        binary = f.read()
    applets = subprocess.run([busybox, "--list-full"], check=True,
                             capture_output=True, text=True).stdout.split()
    if "bin/sh" not in applets:
        die("%s --list-full has no bin/sh" % busybox)
    dirs = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755,
            "proc": 0o555, "root": 0o700, "run": 0o755, "sbin": 0o755,
            "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755,
            "usr/sbin": 0o755, "var": 0o755, "var/tmp": 0o1777}
    entries = [(d, "dir") for d in dirs]
    entries += [("bin/busybox", "busybox"), ("etc/passwd", PASSWD),
                ("etc/group", GROUP)]
    for a in applets:
        a = a.strip("/")
        if a != "bin/busybox":
            entries.append((a, "applet"))
    for path, text in extra:
        entries.append((path, ("extra", text)))
    layer = Layer(out)
    have = set()
    for path, what in sorted(entries):
        parts = path.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in have:
                die("%s: parent %s is not a known directory" % (path, d))
        if what == "dir":
            layer.dir(path, dirs[path])
            have.add(path)
        elif what == "busybox":
            layer.file(path, binary, 0o755)
        elif what == "applet":
            layer.symlink(path, "/bin/busybox")
        elif isinstance(what, tuple):
            layer.file(path, what[1] + "\n")
        else:
            layer.file(path, what)
    layer.close()


def files_tar(out, files):
    layer = Layer(out)
    add_files(layer, files, set())
    layer.close()


# struct vfs_cap_data, revision 2, effective bit set, CAP_NET_RAW (13)
# permitted: what `setcap cap_net_raw+ep FILE` writes.
CAP_NET_RAW_EP = (b"\x01\x00\x00\x02" + (1 << 13).to_bytes(4, "little") +
                  bytes(12))

# Long names: LONG_DIR/LONG_FILE is 241 bytes (a PAX path record);
# GNU_NAME is written with a GNU ././@LongLink header; USTAR_NAME fits a
# ustar header only by using the 155-byte prefix field.
LONG_DIR = "long/" + "d" * 90
LONG_FILE = "f" * 145 + ".txt"
GNU_NAME = "long/gnu-" + "g" * 140 + ".txt"
USTAR_NAME = "long/" + "u" * 90 + "/" + "v" * 60 + ".txt"

UTF8_DIR = "utf8/ünïcødé-dir"
UTF8_FILE = "utf8/héllo wörld — 日本語.txt"


def layers_tars(outdir):
    """Three layers that go on top of the busybox layer; see README.md."""
    user = dict(uid=1000, gid=1000)

    # Layer 1: the base of everything the later layers change.
    l1 = Layer(os.path.join(outdir, "l1.tar"))
    l1.dir("bin")
    l1.file("bin/capable", "#!/bin/sh\necho capable\n", 0o755,
            xattrs={"security.capability": CAP_NET_RAW_EP})
    l1.file("bin/setuid", "#!/bin/sh\necho setuid\n", 0o4755)
    l1.file("bin/setgid", "#!/bin/sh\necho setgid\n", 0o2755)
    l1.dir("etc")
    l1.file("etc/passwd", PASSWD + "user:x:1000:1000:user:/home/user:/bin/sh\n")
    l1.file("etc/group", GROUP + "user:x:1000:\n")
    l1.dir("flip")
    l1.file("flip/inner.txt", "inside the first flip directory\n")
    l1.dir("home")
    l1.dir("home/user", 0o700, **user)
    l1.file("home/user/notes.txt", "owned by 1000:1000\n", 0o600, **user)
    l1.dir("links")
    l1.file("links/original.txt", "one inode, three names\n")
    l1.hardlink("links/same-layer", "links/original.txt")
    l1.dir("long")
    l1.dir(LONG_DIR)
    l1.file(LONG_DIR + "/" + LONG_FILE, "a long name\n")
    l1.symlink("long/symlink-long-target",
               LONG_DIR[len("long/"):] + "/" + LONG_FILE)
    l1.hardlink("long/hardlink-long-target", LONG_DIR + "/" + LONG_FILE)
    l1.dir("nodes")
    l1.device("nodes/null", tarfile.CHRTYPE, 1, 3, 0o666)
    l1.device("nodes/loop0", tarfile.BLKTYPE, 7, 0, 0o660)
    l1.device("nodes/fifo", tarfile.FIFOTYPE, 0, 0, 0o644)
    l1.dir("old")
    l1.file("old/2001.txt", "last changed in 2001\n", mtime=OLD_MTIME)
    l1.dir("opaque")
    l1.file("opaque/old.txt", "hidden by layer 2\n")
    l1.dir("opaque/olddir")
    l1.file("opaque/olddir/deep.txt", "hidden by layer 2\n")
    l1.dir("setgid-dir", 0o2775, gid=1000)
    l1.dir("symlinks")
    l1.symlink("symlinks/relative", "../links/original.txt")
    l1.symlink("symlinks/absolute", "/links/original.txt")
    l1.symlink("symlinks/dangling", "/does/not/exist")
    l1.symlink("symlinks/dir", "../opaque")
    l1.dir("utf8")
    l1.dir(UTF8_DIR)
    l1.file(UTF8_DIR + "/Ω.txt", "non-ASCII directory\n")
    l1.file(UTF8_FILE, "non-ASCII name\n")
    l1.dir("whiteout")
    l1.file("whiteout/gone.txt", "deleted by layer 2\n")
    l1.file("whiteout/kept.txt", "still here\n")
    l1.dir("whiteout/gone-dir")
    l1.file("whiteout/gone-dir/x.txt", "deleted with its directory\n")
    l1.dir("work", **user)
    l1.file("work/hello.txt", "layer 1\n", **user)
    l1.dir("xattr", xattrs={"user.dir": b"on a directory"})
    l1.file("xattr/file.txt", "has xattrs\n",
            xattrs={"user.test": b"hello xattr"})
    l1.close()

    # Layer 2: whiteouts, an opaque directory, a directory turned into a
    # file, a hardlink into layer 1, a changed file. Whiteouts come before
    # their siblings, as the image spec recommends.
    l2 = Layer(os.path.join(outdir, "l2.tar"))
    l2.file(".wh.linuxrc", "")  # a symlink of the busybox layer
    l2.file("flip", "a file now, a directory again in layer 3\n")
    l2.dir("links")
    l2.hardlink("links/cross-layer", "links/original.txt")
    l2.dir("long")
    l2.file(GNU_NAME, "GNU long name\n", fmt=tarfile.GNU_FORMAT)
    l2.dir("opaque")
    l2.file("opaque/.wh..wh..opq", "")
    l2.file("opaque/new.txt", "the only file left in /opaque\n")
    l2.dir("whiteout")
    l2.file("whiteout/.wh.gone-dir", "")
    l2.file("whiteout/.wh.gone.txt", "")
    l2.dir("work", **user)
    l2.file("work/hello.txt", "layer 2\n", **user)
    l2.close()

    # Layer 3: the file becomes a directory again.
    l3 = Layer(os.path.join(outdir, "l3.tar"))
    l3.dir("flip", 0o750)
    l3.file("flip/again.txt", "a directory again\n")
    l3.dir("long")
    l3.dir(os.path.dirname(USTAR_NAME))
    l3.file(USTAR_NAME, "ustar prefix field\n", fmt=tarfile.USTAR_FORMAT)
    l3.close()


def escape_tars(outdir):
    """Malicious layers: each must make a converter refuse the image.
    dotdot.tar     an entry ../escape.txt
    symlink.tar    evil -> /etc, then a regular file evil/passwd
    symlink2-a.tar evil -> /etc; symlink2-b.tar: evil/passwd (next layer)
    hardlink.tar   a hardlink whose target is ../../x"""
    t = Layer(os.path.join(outdir, "dotdot.tar"))
    t.file("ok.txt", "harmless\n")
    t.file("../escape.txt", "written outside the root\n")
    t.close()
    t = Layer(os.path.join(outdir, "symlink.tar"))
    t.symlink("evil", "/etc")
    t.file("evil/passwd", "root::0:0:pwned:/root:/bin/sh\n")
    t.close()
    t = Layer(os.path.join(outdir, "symlink2-a.tar"))
    t.symlink("evil", "/etc")
    t.close()
    t = Layer(os.path.join(outdir, "symlink2-b.tar"))
    t.file("evil/passwd", "root::0:0:pwned:/root:/bin/sh\n")
    t.close()
    t = Layer(os.path.join(outdir, "hardlink.tar"))
    t.file("ok.txt", "harmless\n")
    t.hardlink("x-link", "../../x")
    t.close()

def check_layers(root, rootless):
    """Asserts that ROOT is the layers image unpacked by the OCI rules.
    rootless: skip what a non-root unpack cannot do (owners, devices,
    security.* xattrs). Prints each failure; returns how many."""
    import stat
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    def p(rel):
        return os.path.join(root, rel)

    def lst(rel):
        try:
            return os.lstat(p(rel))
        except OSError:
            return None

    def listing(rel):
        try:
            return sorted(os.listdir(p(rel)))
        except OSError as e:
            return "error: %s" % e

    def read(rel):
        try:
            with open(p(rel), "rb") as f:
                return f.read()
        except OSError as e:
            return "error: %s" % e

    def xattr(rel, key):
        try:
            return os.getxattr(p(rel), key, follow_symlinks=False)
        except OSError as e:
            return "error: %s" % e

    def mode(rel):
        st = lst(rel)
        return stat.S_IMODE(st.st_mode) if st else None

    def owner(rel):
        st = lst(rel)
        return (st.st_uid, st.st_gid) if st else None

    def link(rel):
        try:
            return os.readlink(p(rel))
        except OSError as e:
            return "error: %s" % e

    st = lst("bin/busybox")
    check(st is not None and stat.S_ISREG(st.st_mode), "bin/busybox is a file")
    check(link("bin/sh") == "/bin/busybox", "bin/sh -> /bin/busybox")
    check(lst("linuxrc") is None, "linuxrc whited out")
    check(mode("tmp") == 0o1777, "tmp is 1777")
    check(mode("bin/capable") == 0o755, "bin/capable is 0755")
    check(mode("bin/setuid") == 0o4755, "bin/setuid is 4755")
    check(mode("bin/setgid") == 0o2755, "bin/setgid is 2755")
    check(mode("setgid-dir") == 0o2775, "setgid-dir is 2775")
    check(b"user:x:1000:1000:" in read("etc/passwd"), "etc/passwd has user")
    st = lst("flip")
    check(st is not None and stat.S_ISDIR(st.st_mode), "flip is a directory")
    check(mode("flip") == 0o750, "flip is 0750")
    check(listing("flip") == ["again.txt"], "flip holds only again.txt")
    check(mode("home/user") == 0o700, "home/user is 0700")
    check(mode("home/user/notes.txt") == 0o600, "notes.txt is 0600")
    ino = set()
    for name in ("original.txt", "same-layer", "cross-layer"):
        st = lst("links/" + name)
        check(st is not None and stat.S_ISREG(st.st_mode),
              "links/%s is a file" % name)
        if st:
            ino.add((st.st_dev, st.st_ino))
            check(st.st_nlink == 3, "links/%s has 3 links" % name)
    check(len(ino) == 1, "links/* are one inode")
    check(read("links/cross-layer") == b"one inode, three names\n",
          "links/cross-layer content")
    longf = LONG_DIR + "/" + LONG_FILE
    check(read(longf) == b"a long name\n", "long PAX name")
    check(len(longf.encode()) > 200, "long name is over 200 bytes")
    a, b = lst(longf), lst("long/hardlink-long-target")
    check(a and b and a.st_ino == b.st_ino, "long hardlink")
    check(read("long/symlink-long-target") == b"a long name\n",
          "long symlink target")
    check(read(GNU_NAME) == b"GNU long name\n", "GNU long name")
    check(read(USTAR_NAME) == b"ustar prefix field\n", "ustar prefix name")
    check(lst("nodes/fifo") is not None and
          stat.S_ISFIFO(lst("nodes/fifo").st_mode), "nodes/fifo is a fifo")
    check(lst("old/2001.txt") is not None and
          lst("old/2001.txt").st_mtime == OLD_MTIME, "old/2001.txt mtime")
    check(listing("opaque") == ["new.txt"], "opaque holds only new.txt")
    check(link("symlinks/relative") == "../links/original.txt",
          "relative symlink")
    check(link("symlinks/absolute") == "/links/original.txt",
          "absolute symlink")
    check(link("symlinks/dangling") == "/does/not/exist", "dangling symlink")
    check(link("symlinks/dir") == "../opaque", "directory symlink")
    check(read(UTF8_FILE) == b"non-ASCII name\n", "UTF-8 file name")
    check(read(UTF8_DIR + "/Ω.txt") == b"non-ASCII directory\n",
          "UTF-8 directory name")
    check(listing("whiteout") == ["kept.txt"], "whiteout holds only kept.txt")
    check(read("work/hello.txt") == b"layer 2\n", "work/hello.txt from layer 2")
    check(xattr("xattr/file.txt", "user.test") == b"hello xattr",
          "user.test xattr")
    check(xattr("xattr", "user.dir") == b"on a directory",
          "user.dir xattr on a directory")
    if not rootless:
        check(owner("home/user") == (1000, 1000), "home/user is 1000:1000")
        check(owner("home/user/notes.txt") == (1000, 1000),
              "notes.txt is 1000:1000")
        check(owner("work") == (1000, 1000), "work is 1000:1000")
        check(owner("setgid-dir") == (0, 1000), "setgid-dir is 0:1000")
        check(owner("bin/busybox") == (0, 0), "bin/busybox is 0:0")
        st = lst("nodes/null")
        check(st is not None and stat.S_ISCHR(st.st_mode) and
              (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3),
              "nodes/null is c 1 3")
        st = lst("nodes/loop0")
        check(st is not None and stat.S_ISBLK(st.st_mode) and
              (os.major(st.st_rdev), os.minor(st.st_rdev)) == (7, 0),
              "nodes/loop0 is b 7 0")
        check(xattr("bin/capable", "security.capability") == CAP_NET_RAW_EP,
              "bin/capable has cap_net_raw+ep")
    for f in failures:
        sys.stderr.write("%s: expected %s\n" % (root, f))
    return len(failures)


# ---- OCI layout JSON ----

def blob_path(layout, digest):
    algo, _, hexd = digest.partition(":")
    if algo != "sha256" or len(hexd) != 64:
        die("%s: unexpected digest %r" % (layout, digest))
    return os.path.join(layout, "blobs", "sha256", hexd)


def read_blob(layout, digest):
    with open(blob_path(layout, digest), "rb") as f:
        return f.read()


def write_blob(layout, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blob_path(layout, digest)
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
    return digest


def dump(obj):
    # Compact and key order as given: the bytes are what gets digested.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False
                      ).encode("utf-8")


def load_index(layout):
    with open(os.path.join(layout, "index.json"), "rb") as f:
        return json.load(f)


def save_index(layout, index):
    path = os.path.join(layout, "index.json")
    with open(path + ".tmp", "wb") as f:
        f.write(dump(index))
    os.rename(path + ".tmp", path)


REF = "org.opencontainers.image.ref.name"


def find_tag(index, layout, tag):
    for i, d in enumerate(index["manifests"]):
        if d.get("annotations", {}).get(REF) == tag:
            return i, d
    die("%s: no tag %r" % (layout, tag))


def set_tag(index, desc, tag):
    desc = dict(desc)
    desc["annotations"] = {REF: tag}
    index["manifests"] = [d for d in index["manifests"]
                          if d.get("annotations", {}).get(REF) != tag]
    index["manifests"].append(desc)


def zstd_image(layout, src, dst):
    """Tags as DST the image SRC with each gzip layer replaced by the same
    tar compressed by zstd (so the config and its diff_ids stay)."""
    index = load_index(layout)
    _, desc = find_tag(index, layout, src)
    manifest = json.loads(read_blob(layout, desc["digest"]))
    for layer in manifest["layers"]:
        if layer["mediaType"] != MT_GZIP:
            die("%s: layer %s is %s" % (layout, layer["digest"],
                                        layer["mediaType"]))
        tar = gzip.decompress(read_blob(layout, layer["digest"]))
        # -19 and one thread: the same input gives the same bytes.
        data = subprocess.run(["zstd", "-q", "-19", "-T1", "-c"], input=tar,
                              check=True, capture_output=True).stdout
        layer["mediaType"] = MT_ZSTD
        layer["digest"] = write_blob(layout, data)
        layer["size"] = len(data)
    data = dump(manifest)
    set_tag(index, {"mediaType": MT_MANIFEST,
                    "digest": write_blob(layout, data),
                    "size": len(data)}, dst)
    save_index(layout, index)


def make_index(layout, tag, refs):
    """TAG becomes an image index of the manifests tagged REFs, with each
    one's platform taken from its config."""
    index = load_index(layout)
    entries = []
    for ref in refs:
        _, desc = find_tag(index, layout, ref)
        manifest = json.loads(read_blob(layout, desc["digest"]))
        config = json.loads(read_blob(layout, manifest["config"]["digest"]))
        platform = {"architecture": config["architecture"],
                    "os": config["os"]}
        if config.get("variant"):
            platform["variant"] = config["variant"]
        entries.append({"mediaType": MT_MANIFEST, "digest": desc["digest"],
                        "size": desc["size"], "platform": platform})
    data = dump({"schemaVersion": 2, "mediaType": MT_INDEX,
                 "manifests": entries})
    set_tag(index, {"mediaType": MT_INDEX, "digest": write_blob(layout, data),
                    "size": len(data)}, tag)
    save_index(layout, index)


def gc(layout):
    """Removes blobs no tag reaches (umoci leaves the ones it replaced)."""
    keep = set()
    todo = list(load_index(layout)["manifests"])
    while todo:
        desc = todo.pop()
        if desc["digest"] in keep:
            continue
        keep.add(desc["digest"])
        if desc.get("mediaType") in (MT_MANIFEST, MT_INDEX):
            obj = json.loads(read_blob(layout, desc["digest"]))
            todo += obj.get("manifests", []) + obj.get("layers", [])
            if "config" in obj:
                todo.append(obj["config"])
    bdir = os.path.join(layout, "blobs", "sha256")
    for name in os.listdir(bdir):
        if "sha256:" + name not in keep:
            os.unlink(os.path.join(bdir, name))


def main(argv):
    if len(argv) < 2:
        die("usage: imgtool.py SUBCOMMAND ARGS... (see the top of the file)")
    cmd, args = argv[1], argv[2:]
    if cmd == "busybox-tar" and len(args) >= 2:
        busybox_tar(args[0], args[1], parse_extra(args[2:]))
    elif cmd == "files-tar" and len(args) >= 2:
        files_tar(args[0], parse_extra(args[1:]))
    elif cmd == "layers-tars" and len(args) == 1:
        layers_tars(args[0])
    elif cmd == "escape-tars" and len(args) == 1:
        escape_tars(args[0])
    elif cmd == "zstd" and len(args) == 3:
        zstd_image(args[0], args[1], args[2])
    elif cmd == "index" and len(args) >= 3:
        make_index(args[0], args[1], args[2:])
    elif cmd == "gc" and len(args) == 1:
        gc(args[0])
    elif cmd == "check-layers" and len(args) in (1, 2):
        if len(args) == 2 and args[1] != "--rootless":
            die("check-layers ROOTFS [--rootless]")
        if check_layers(args[0], len(args) == 2):
            sys.exit(1)
    elif cmd == "digest" and len(args) == 2:
        print(find_tag(load_index(args[0]), args[0], args[1])[1]["digest"])
    else:
        die("bad arguments for %r (see the top of the file)" % cmd)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except subprocess.CalledProcessError as e:
        die("%s failed (exit status %d): %s" % (
            " ".join(map(str, e.cmd)), e.returncode,
            (e.stderr or b"").decode("utf-8", "replace").strip()[-300:]))
    except OSError as e:
        die(str(e))
