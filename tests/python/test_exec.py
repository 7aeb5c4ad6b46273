# SPDX-License-Identifier: Apache-2.0
"""Commands on the shared sandbox: exec, shell, streams, background
processes, metrics and inspection (synchronous API)."""
import io
import os
import signal
import threading

import pytest

import microsandbox as m
from microsandbox import (CommandFailed, CommandNotFound, ExecError,
                          ExecTimeout, Exited, Started, Stderr, Stdout)


def test_version():
    assert m.library_version() == "0.1.0"


def test_exec_forms(sb):
    assert sb.exec("echo", ["a", "b"]).stdout == "a b\n"
    assert sb.exec(["echo", "c"]).stdout == "c\n"
    r = sb.exec("true")
    assert r.ok and r.exit_code == 0 and r.stdout == "" and r.signal == 0
    r = sb.exec("sh", ["-c", "printf '\\377x'; echo e >&2; exit 7"])
    assert r.stdout_bytes == b"\xffx" and r.stdout == "\ufffdx"
    assert r.stderr == "e\n" and r.stderr_bytes == b"e\n"
    assert r.exit_code == 7 and not r.ok
    with pytest.raises(CommandFailed) as ei:
        r.check()
    assert ei.value.result is r
    assert sb.exec("true").check().ok


def test_exec_options(sb):
    r = sb.exec("sh", ["-c", "echo $FOO $BAR; pwd; id -u"],
                env={"FOO": "x", "BAR": "y z"}, cwd="/tmp", user="1000")
    assert r.stdout.split("\n")[:3] == ["x y z", "/tmp", "1000"]
    assert sb.exec("sh", ["-c", "echo $A"], env=["A=1"]).stdout == "1\n"
    assert sb.exec("sh", ["-c", "ulimit -n"],
                   rlimits=["nofile=123"]).stdout == "123\n"
    assert sb.exec("tty", tty=True).stdout.startswith("/dev/pts/")
    assert sb.exec("sh", ["-c", "kill -9 $$"]).signal == 9


def test_exec_stdin(sb):
    assert sb.exec("cat", stdin=b"bytes").stdout == "bytes"
    assert sb.exec("cat", stdin="str \u00e9").stdout == "str \u00e9"
    assert sb.exec("cat", stdin=io.BytesIO(b"filelike")).stdout == "filelike"
    r, w = os.pipe()
    os.write(w, b"from a pipe")
    os.close(w)
    with os.fdopen(r, "rb") as f:
        assert sb.exec("cat", stdin=f).stdout == "from a pipe"
    assert sb.exec("cat").stdout == ""  # empty stdin: never waits


def test_shell(sb):
    r = sb.shell("echo $((6*7)); echo err >&2; exit 3")
    assert (r.stdout, r.stderr, r.exit_code) == ("42\n", "err\n", 3)
    assert sb.shell("pwd", cwd="/etc").stdout == "/etc\n"


def test_exec_errors(sb):
    with pytest.raises(CommandNotFound) as ei:
        sb.exec("no-such-command")
    assert ei.value.code == m.errors.MSB_ECMDNOTFOUND
    assert ei.value.exec_failure == "not_found"
    assert "no-such-command" in str(ei.value)
    assert isinstance(ei.value, ExecError)
    with pytest.raises(ExecError) as ei:
        sb.exec("true", cwd="/no/such/dir")
    assert ei.value.exec_failure == "cwd"
    with pytest.raises(ExecError) as ei:
        sb.exec("true", user="nosuchuser")
    assert ei.value.exec_failure == "user"
    with pytest.raises(ExecError):
        sb.exec("/etc/passwd")
    with pytest.raises(ExecTimeout) as ei:
        sb.exec("sleep", ["30"], timeout=0.5)
    assert isinstance(ei.value, TimeoutError)
    assert isinstance(ei.value, m.SandboxTimeoutError)
    with pytest.raises(m.InvalidArgumentError):
        sb.exec("true", rlimits=["bogus=1"])
    with pytest.raises(ValueError):
        sb.exec([])
    with pytest.raises(TypeError):
        sb.exec("echo", "not-a-list")


def test_stream_stdin(sb):
    """A 4 MiB stdin through cat while reading its output: write_stdin
    never deadlocks on a command that writes while it reads."""
    chunk = bytes(range(256)) * 1024  # 256 KiB
    with sb.exec_stream("cat") as s:
        for _ in range(16):
            s.write_stdin(chunk)
        s.close_stdin()
        out = bytearray()
        kinds = []
        for ev in s:
            kinds.append(type(ev))
            if isinstance(ev, Stdout):
                out += ev.data
        assert kinds[0] is Started and kinds[-1] is Exited
        assert s.pid is not None and s.exited.exit_code == 0
        assert bytes(out) == chunk * 16


def test_stream_events(sb):
    with sb.exec_stream("sh", ["-c", "read x; echo out:$x; echo err >&2; "
                                     "exit 4"], stdin=b"first\n") as s:
        evs = list(s)
    assert isinstance(evs[0], Started)
    assert b"".join(e.data for e in evs if isinstance(e, Stdout)) == \
        b"out:first\n"
    errs = [e for e in evs if isinstance(e, Stderr)]
    assert b"".join(e.data for e in errs) == b"err\n" and errs[0].text
    assert evs[-1] == Exited(4, 0) and not evs[-1].ok


def test_stream_signal_wait(sb):
    with sb.exec_stream("sleep", ["60"]) as s:
        assert isinstance(next(s), Started)
        assert s.next_event(timeout=0) is None
        assert s.fileno() >= 0
        s.signal(signal.SIGTERM)
        ex = s.wait()
        assert ex.signal == signal.SIGTERM and ex.exit_code == -1
        assert s.next_event() is None
    with sb.exec_stream("sleep", ["60"]) as s:
        s.kill()
        assert s.wait().signal == signal.SIGKILL


def test_stream_tty_resize(sb):
    with sb.exec_stream("sh", ["-c", "read x; stty size"], tty=True,
                        rows=10, cols=40) as s:
        assert s.tty
        s.resize(33, 99)
        s.write_stdin("go\n")
        r = s.collect()
    assert "33 99" in r.stdout


def test_stream_collect_and_start_error(sb):
    with sb.exec_stream("sh", ["-c", "echo hi; exit 2"]) as s:
        r = s.collect()
    assert r.stdout == "hi\n" and r.exit_code == 2
    with sb.exec_stream("no-such-command") as s:
        with pytest.raises(CommandNotFound):
            list(s)
    s = sb.exec_stream("cat")
    s.close()
    with pytest.raises(m.StateError):
        s.write_stdin(b"x")


def test_spawn(sb):
    p = sb.spawn("sh", ["-c", "echo started; read x; echo got:$x"],
                 stdin=True)
    assert p.id > 0
    info = p.info()
    assert info.running and info.detached and "echo started" in info.command
    assert p.id in [q.id for q in sb.processes()]
    with p.attach(logs=True, follow=True, stdin=True) as a:
        a.write_stdin(b"hello\n")
        r = a.collect()
    assert r.stdout == "started\ngot:hello\n" and r.exit_code == 0
    assert p.wait() == Exited(0, 0)
    assert p.logs().stdout == "started\ngot:hello\n"
    p.remove()
    assert p.id not in [q.id for q in sb.processes()]
    with pytest.raises(m.NotFoundError):
        p.info()


def test_spawn_signal_remove(sb):
    p = sb.spawn("sleep", ["60"])
    with pytest.raises(m.StateError):
        p.remove()
    p.signal(signal.SIGTERM)
    assert p.wait().signal == signal.SIGTERM
    q = sb.spawn("sleep", ["60"])
    q.kill()
    assert q.wait().signal == signal.SIGKILL
    r = sb.spawn("sleep", ["60"])
    r.remove(force=True)
    p.remove()
    q.remove()
    with pytest.raises(m.NotFoundError):
        sb.process(r.id).wait()
    with pytest.raises(CommandNotFound):
        sb.spawn("no-such-command")


def test_metrics(sb):
    mt = sb.metrics()
    assert isinstance(mt, m.Metrics)
    assert mt.memory_bytes > 0 and mt.guest_memory_total_bytes > 0
    assert mt.uptime_ms > 0 and mt.cpu_time_ms > 0


def test_inspect_config_list(sb):
    d = sb.inspect()
    assert d["name"] == sb.name and d["status"] == "running"
    assert d["labels"] == {"test": "shared"} or "test=shared" in str(
        d["labels"])
    assert sb.config()["memory_mib"] == 512
    assert sb.status == "running"
    infos = {i.name: i for i in m.Sandbox.list()}
    i = infos[sb.name]
    assert i.status == "running" and i.ephemeral and i.labels == {
        "test": "shared"}
    assert i.cpus == 1 and i.memory_mib == 512 and i.pid > 0


def test_concurrent_calls_one_sandbox(sb):
    """Several threads on one Sandbox object: each call gets a handle of
    its own while another thread holds the first."""
    errors = []

    def work(i):
        try:
            for j in range(5):
                r = sb.exec("sh", ["-c", "sleep 0.1; echo %d-%d" % (i, j)])
                assert r.stdout == "%d-%d\n" % (i, j)
                assert sb.fs.exists("/etc")
        except BaseException as e:
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
