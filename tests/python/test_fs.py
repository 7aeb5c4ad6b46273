# SPDX-License-Identifier: Apache-2.0
"""sandbox.fs on the shared sandbox: every method, its errors, and a
20 MiB round trip through every transfer path."""
import errno
import hashlib
import io
import os

import pytest

import microsandbox as m
from microsandbox import FileType


def test_write_read(sb):
    sb.fs.write("/tmp/f.bin", b"\x00\x01binary")
    assert sb.fs.read("/tmp/f.bin") == b"\x00\x01binary"
    sb.fs.write("/tmp/f.txt", "text \u00e9")
    assert sb.fs.read_text("/tmp/f.txt") == "text \u00e9"
    sb.fs.write("/tmp/f.txt", " more", append=True)
    assert sb.fs.read_text("/tmp/f.txt") == "text \u00e9 more"
    sb.fs.write("/tmp/f.txt", io.StringIO("from a text file"))
    assert sb.fs.read("/tmp/f.txt") == b"from a text file"
    sb.fs.write("/tmp/empty", b"")
    assert sb.fs.read("/tmp/empty") == b""
    sb.fs.write("/tmp/mode", b"x", mode=0o600)
    assert sb.fs.stat("/tmp/mode").mode == 0o600
    with pytest.raises(m.FsExists) as ei:
        sb.fs.write("/tmp/mode", b"y", exclusive=True)
    assert ei.value.errno == errno.EEXIST
    assert isinstance(ei.value, FileExistsError)


def test_stat_list_exists(sb):
    sb.fs.mkdir("/tmp/d1/d2/d3", parents=True)
    sb.fs.mkdir("/tmp/d1/d2/d3", parents=True)  # exists: fine with parents
    sb.fs.write("/tmp/d1/a", b"12345")
    sb.fs.symlink("/tmp/d1/l", "a")
    st = sb.fs.stat("/tmp/d1/a")
    assert st.name == "a" and st.is_file and st.size == 5
    assert st.uid == 0 and st.mtime > 1e9 and st.type is FileType.FILE
    ln = sb.fs.stat("/tmp/d1/l")
    assert ln.is_symlink and ln.target == "a"
    names = [(e.name, e.type) for e in sb.fs.list("/tmp/d1")]
    assert names == [("a", FileType.FILE), ("d2", FileType.DIR),
                     ("l", FileType.SYMLINK)]
    assert sb.fs.exists("/tmp/d1/d2") and not sb.fs.exists("/tmp/nope")
    assert sb.fs.stat("/tmp/d1/d2").is_dir


def test_mkdir_remove_rename_copy(sb):
    sb.fs.mkdir("/tmp/mk", mode=0o700)
    assert sb.fs.stat("/tmp/mk").mode == 0o700
    with pytest.raises(m.FsExists):
        sb.fs.mkdir("/tmp/mk")
    with pytest.raises(m.FsNotFound):
        sb.fs.mkdir("/tmp/no/such/parent")
    sb.fs.write("/tmp/mk/f", b"data")
    with pytest.raises(m.FsNotEmpty) as ei:
        sb.fs.remove("/tmp/mk")
    assert ei.value.errno == errno.ENOTEMPTY
    sb.fs.copy("/tmp/mk/f", "/tmp/mk/g")
    assert sb.fs.read("/tmp/mk/g") == b"data"
    with pytest.raises(m.FsError):
        sb.fs.copy("/tmp/mk", "/tmp/mk2")  # a directory needs recursive
    sb.fs.copy("/tmp/mk", "/tmp/mk2", recursive=True)
    assert sorted(e.name for e in sb.fs.list("/tmp/mk2")) == ["f", "g"]
    sb.fs.rename("/tmp/mk2", "/tmp/mk3")
    assert not sb.fs.exists("/tmp/mk2") and sb.fs.exists("/tmp/mk3/g")
    sb.fs.remove("/tmp/mk3/g")
    sb.fs.remove("/tmp/mk3", recursive=True)
    assert not sb.fs.exists("/tmp/mk3")
    sb.fs.chmod("/tmp/mk/f", 0o640)
    assert sb.fs.stat("/tmp/mk/f").mode == 0o640
    sb.fs.chown("/tmp/mk/f", 1000, 1000)
    st = sb.fs.stat("/tmp/mk/f")
    assert (st.uid, st.gid) == (1000, 1000)


def test_fs_errors(sb):
    with pytest.raises(m.FsNotFound) as ei:
        sb.fs.read("/no/such/file")
    e = ei.value
    assert isinstance(e, FileNotFoundError) and isinstance(e, m.FsError)
    assert isinstance(e, m.SandboxError)
    assert e.errno == errno.ENOENT and e.code == m.errors.MSB_ENOTFOUND
    assert "/no/such/file" in str(e)
    with pytest.raises(m.FsIsADirectory) as ei:
        sb.fs.read("/etc")
    assert ei.value.errno == errno.EISDIR
    with pytest.raises(m.FsNotADirectory) as ei:
        sb.fs.list("/etc/passwd")
    assert ei.value.errno == errno.ENOTDIR
    with pytest.raises(FileNotFoundError):
        sb.fs.stat("/nope")
    with pytest.raises(m.FsNotFound):
        sb.fs.remove("/nope")
    with pytest.raises(m.FsNotFound):
        sb.fs.rename("/nope", "/tmp/x")
    with pytest.raises(TypeError):
        sb.fs.write("/tmp/x", 12345)


def _sha(b):
    return hashlib.sha256(b).hexdigest()


def test_large_file_round_trip(sb, tmp_path):
    """20 MiB: write from bytes and from a file object (streamed), read
    back whole, streamed into a file, and copied to and from the host."""
    data = os.urandom(20 << 20)
    sb.fs.write("/tmp/big1", data)
    assert sb.fs.stat("/tmp/big1").size == len(data)
    assert sb.fs.read("/tmp/big1") == data
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    with open(src, "rb") as f:
        sb.fs.write("/tmp/big2", f)
    r = sb.exec("sha256sum", ["/tmp/big2"])
    assert r.stdout.split()[0] == _sha(data)
    out = io.BytesIO()
    assert sb.fs.read_into("/tmp/big2", out) == len(data)
    assert out.getvalue() == data
    sb.fs.copy_to_host("/tmp/big2", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data
    sb.fs.copy_from_host(src, "/tmp/big3")
    assert sb.exec("sha256sum", ["/tmp/big3"]).stdout.split()[0] == _sha(data)
    for p in ("/tmp/big1", "/tmp/big2", "/tmp/big3"):
        sb.fs.remove(p)


def test_copy_trees(sb, tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "x.txt").write_text("x")
    (tree / "y.sh").write_text("#!/bin/sh\n")
    os.chmod(tree / "y.sh", 0o755)
    sb.fs.copy_from_host(tree, "/tmp/tree")
    assert sb.fs.read_text("/tmp/tree/sub/x.txt") == "x"
    assert sb.fs.stat("/tmp/tree/y.sh").mode == 0o755
    sb.fs.copy_to_host("/tmp/tree", tmp_path / "out")
    assert (tmp_path / "out" / "sub" / "x.txt").read_text() == "x"
    with pytest.raises(m.NoSpaceError):
        sb.fs.copy_to_host("/tmp/tree", tmp_path / "out2", max_files=1)
    with pytest.raises(m.FsNotFound):
        sb.fs.copy_to_host("/tmp/none", tmp_path / "out3")


def test_write_source_errors(sb):
    class Bad(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, b):
            raise RuntimeError("reader failed")

    with pytest.raises(RuntimeError, match="reader failed"):
        sb.fs.write("/tmp/bad", Bad())

    class Sink:
        def write(self, b):
            raise OSError("disk on fire")

    sb.fs.write("/tmp/small", b"abc")
    with pytest.raises(OSError, match="disk on fire"):
        sb.fs.read_into("/tmp/small", Sink())
