"""tasktonic.local with real processes: one daemon per user and name, safe before auth.

Every test gets its own runtime directory (``XDG_RUNTIME_DIR`` of the test and of every
process it starts) and, at the end, kills every daemon that directory's logs name, so a failing
test leaves nothing running and nothing touches the real runtime directory.
"""
from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tasktonic import ttTonic
from tasktonic.local import (
    ConnectionFailedError,
    DaemonConnectionError,
    HandshakeError,
    LoopbackSingletonError,
    ProtocolError,
    RemoteError,
    local_singleton,
    wire,
)
from tasktonic.local.client import Connection
from tasktonic.local.runtime_dir import RuntimeFiles, pid_alive
from tests.conftest import run_app
from tests.local_services import Tally

ROOT = Path(__file__).resolve().parent.parent
COUNTER = "tests.local_services:Counter"
WAIT = 10.0  # the longest any condition below is waited for before the test fails


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll ``condition`` until it is true; fail the test naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def started_pids(root: Path) -> list[int]:
    """Every daemon pid the logs under ``root`` say was started."""
    pids = []
    for log in root.glob("**/tasktonic-local/*/daemon.log"):
        pids += [int(p) for p in re.findall(r"started, pid (\d+)", log.read_text())]
    return pids


def kill(pid: int) -> None:
    """SIGKILL ``pid`` if it still runs: a daemon may reach its idle timeout and exit first."""
    with contextlib.suppress(ProcessLookupError):
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private runtime root (short, for Unix socket paths); its daemons are killed after."""
    root = Path(tempfile.mkdtemp(prefix="ttl"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(root))
    try:
        yield root
    finally:
        for pid in started_pids(root):
            kill(pid)
        shutil.rmtree(root, ignore_errors=True)


def child(code: str, *args: str) -> subprocess.Popen:
    """A Python process running ``code`` with our environment and the repository importable."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> str:
    """The process's output once it has exited successfully (killed and failed otherwise)."""
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"child did not exit:\n{out}\n{err}")
    assert process.returncode == 0, err
    return out


def daemon_log(name: str) -> str:
    return RuntimeFiles.for_name(name).log.read_text()


# -- the design document's API -----------------------------------------------------------

def test_proxy_forwards_calls_ping_reports_and_shutdown_cleans(runtime: Path) -> None:
    svc = local_singleton("counter", factory=COUNTER, idle_ttl=5.0)
    with svc.proxy() as obj:
        assert obj.ping() == "pong"
        assert obj.inc() == 1
        assert obj.inc(step=41) == 42
        assert obj.echo(1, "two", b"\x00three", [4.0], key={"n": None}) == [
            [1, "two", b"\x00three", [4.0]], {"key": {"n": None}}]
        info = svc.ping()
    assert info["pid"] != os.getpid() and pid_alive(info["pid"])
    assert info["active"] == 2  # the proxy's connection and the ping's own
    assert info["protocol"] == wire.PROTOCOL_VERSION and info["uptime"] > 0
    assert info["transport"] == "unix"
    files = RuntimeFiles.for_name("counter")
    assert stat.S_IMODE(files.directory.stat().st_mode) == 0o700
    for path in (files.token, files.metadata, files.socket):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert json.loads(files.metadata.read_text())["pid"] == info["pid"]  # JSON, not pickle
    svc.shutdown()
    assert not pid_alive(info["pid"])  # shutdown() returns once the daemon has exited
    assert sorted(p.name for p in files.directory.iterdir()) == ["daemon.log", "lock"]
    svc.shutdown()  # a second shutdown finds nothing to stop


def test_the_design_documents_scenarios_run_with_only_the_import_changed(
        runtime: Path) -> None:
    # quickstart (the document's own serializer choice)
    svc = local_singleton(name="my-counter", factory=COUNTER, idle_ttl=10.0,  # no idle exit
                          serializer="pickle")                                # between steps
    with svc.proxy() as obj:
        assert obj.ping() == "pong"
        assert obj.inc() == 1
    # A: an oversized payload fails fast, the daemon stays healthy (16 MiB by default)
    with svc.proxy() as p, pytest.raises(ProtocolError):
        p.echo(b"x" * (17 * 1024 * 1024))
    # C: private methods are denied by the daemon
    with svc.proxy() as p, pytest.raises(RemoteError):
        p._private()
    # D and E: warm-up without a proxy, health check, deterministic shutdown
    svc.ensure_started()
    info = svc.ping()
    assert {"pid", "active", "protocol"} <= set(info)
    with svc.proxy() as obj:
        assert obj.inc() == 2  # the same object all along
    svc.shutdown()
    assert not pid_alive(info["pid"]) and not svc.files.metadata.exists()


def test_remote_errors_carry_type_message_and_traceback(runtime: Path) -> None:
    svc = local_singleton("errors", factory=COUNTER)
    with svc.proxy() as obj:
        with pytest.raises(RemoteError) as failed:
            obj.fail("boom")
        assert failed.value.type_name == "ValueError" and failed.value.message == "boom"
        assert "raise ValueError(message)" in failed.value.traceback_text
        with pytest.raises(RemoteError) as private:
            obj._private()  # the proxy forwards it: the daemon itself refuses it
        assert private.value.type_name == "PermissionError"
        assert "'_private'" in private.value.message
        with pytest.raises(RemoteError, match="AttributeError"):
            obj.no_such_method()
        assert obj.inc() == 1  # the connection goes on after each error
    svc.shutdown()


def test_a_result_msgpack_cannot_carry_is_a_remote_error_and_pickle_is_opt_in(
        runtime: Path) -> None:
    plain = local_singleton("plain", factory="tests.local_services:Plain")
    with plain.proxy() as obj, pytest.raises(RemoteError, match="TypeError"):
        obj.opaque()
    plain.shutdown()
    pickled = local_singleton("pickled", factory="tests.local_services:Plain",
                              serializer="pickle")
    with pickled.proxy() as obj:
        assert obj.opaque() == Path("/")
        # the pickler's words differ by version ("Can't pickle local object" up to 3.12,
        # "Can't get local object" from 3.13): the lambda's name is in both
        with pytest.raises(RemoteError, match="local object .*<lambda>") as unsendable:
            obj.unpicklable()
        assert unsendable.value.traceback_text == "the result of unpicklable() cannot be sent"
        assert obj.opaque() == Path("/")
    mismatch = local_singleton("pickled", factory="tests.local_services:Plain")
    with pytest.raises(HandshakeError, match="serializer mismatch.*'msgpack'.*'pickle'"):
        mismatch.ensure_started()
    pickled.shutdown()


def test_factory_keywords_build_the_object_when_the_daemon_starts(runtime: Path) -> None:
    svc = local_singleton("keywords", factory=COUNTER, factory_kwargs={"start": 41})
    with svc.proxy() as obj:
        assert obj.inc() == 42
    svc.shutdown()
    with pytest.raises(TypeError, match="JSON"):
        local_singleton("keywords", factory=COUNTER, factory_kwargs={"start": object()})


def test_errors_form_the_documented_tree() -> None:
    assert issubclass(ConnectionFailedError, DaemonConnectionError)
    assert issubclass(HandshakeError, DaemonConnectionError)
    for error in (DaemonConnectionError, ProtocolError, RemoteError):
        assert issubclass(error, LoopbackSingletonError)


def test_arguments_are_checked_in_the_caller(runtime: Path) -> None:
    with pytest.raises(ValueError, match="scope"):
        local_singleton("x", factory=COUNTER, scope="machine")
    with pytest.raises(ValueError, match="module:attribute"):
        local_singleton("x", factory="tests.local_services.Counter")
    with pytest.raises(ValueError, match="serializer"):
        local_singleton("x", factory=COUNTER, serializer="json")
    with pytest.raises(ValueError, match="name"):
        local_singleton("../escape", factory=COUNTER)


def test_missing_msgpack_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "msgpack", None)
    with pytest.raises(ImportError, match=r"tasktonic\[local\]"):
        local_singleton("x", factory=COUNTER)


def test_a_runtime_directory_others_can_enter_is_refused(runtime: Path) -> None:
    (runtime / "tasktonic-local").mkdir(mode=0o755)
    os.chmod(runtime / "tasktonic-local", 0o755)
    with pytest.raises(PermissionError, match="0700"):
        local_singleton("x", factory=COUNTER).ensure_started()


def test_loopback_tcp_serves_where_a_unix_socket_path_would_be_too_long(
        runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = runtime / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    svc = local_singleton("tcp", factory=COUNTER)
    with svc.proxy() as obj:
        assert obj.inc() == 1
        info = svc.ping()
    assert info["transport"] == "tcp"
    host, _port = svc.files.read_metadata()["address"]
    assert host == "127.0.0.1"
    svc.shutdown()
    assert not pid_alive(info["pid"])


def test_without_xdg_runtime_dir_a_private_directory_of_our_own_is_used(
        runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(runtime))
    files = RuntimeFiles.for_name("fallback")
    assert files.directory == runtime / f"tasktonic-local-{os.getuid()}" / "fallback"
    files.prepare()
    assert stat.S_IMODE(files.root.stat().st_mode) == 0o700
    files.new_token()
    assert stat.S_IMODE(files.token.stat().st_mode) == 0o600


def test_a_factory_that_fails_is_reported_with_the_daemon_log(runtime: Path) -> None:
    svc = local_singleton("broken", factory="tests.local_services:NoSuchThing")
    with pytest.raises(ConnectionFailedError, match="NoSuchThing"):
        svc.ensure_started()


# -- many processes --------------------------------------------------------------------

INCREMENT = """
import sys
from tasktonic.local import local_singleton
svc = local_singleton("shared", factory="tests.local_services:Counter", idle_ttl=5.0,
                      start_timeout=20.0)  # 8 interpreters starting on a small machine
with svc.proxy() as obj:
    for _ in range(int(sys.argv[1])):
        obj.inc()
"""


def test_eight_processes_increment_one_counter_exactly(runtime: Path) -> None:
    workers = [child(INCREMENT, "1000") for _ in range(8)]
    for worker in workers:
        finish(worker)
    svc = local_singleton("shared", factory=COUNTER)
    with svc.proxy() as obj:
        assert obj.get() == 8000
    assert len(started_pids(runtime)) == 1
    svc.shutdown()


START_TOGETHER = """
import os, sys, time
from tasktonic.local import local_singleton
svc = local_singleton("together", factory="tests.local_services:Counter", idle_ttl=5.0,
                      start_timeout=20.0)  # 8 interpreters starting on a small machine
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
svc.ensure_started()
print(svc.ping()["pid"])
"""


def test_eight_processes_starting_at_once_make_one_daemon(runtime: Path) -> None:
    go = runtime / "go"
    workers = [child(START_TOGETHER, str(go)) for _ in range(8)]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
    go.touch()
    pids = {int(finish(worker).strip()) for worker in workers}
    assert len(pids) == 1
    assert started_pids(runtime) == list(pids)  # one daemon was ever started
    local_singleton("together", factory=COUNTER).shutdown()


def test_a_killed_daemon_is_replaced_on_next_use(runtime: Path) -> None:
    svc = local_singleton("phoenix", factory=COUNTER)
    with svc.proxy() as obj:
        assert obj.inc() == 1
    first = svc.ping()["pid"]
    kill(first)
    wait_for(lambda: not pid_alive(first), "the killed daemon to disappear")
    with svc.proxy() as obj:
        assert obj.inc() == 1  # a fresh object in a fresh daemon
    second = svc.ping()["pid"]
    assert second != first
    svc.shutdown()


def test_corrupt_or_stale_metadata_is_recovered(runtime: Path) -> None:
    svc = local_singleton("stale", factory=COUNTER)
    files = svc.files
    files.prepare()
    files.metadata.write_text('{"pid": 12')  # half-written
    with svc.proxy() as obj:
        assert obj.inc() == 1
    pid = svc.ping()["pid"]
    kill(pid)
    wait_for(lambda: not pid_alive(pid), "the killed daemon to disappear")
    assert files.read_metadata() is not None  # what it left names a dead pid
    with svc.proxy() as obj:
        assert obj.inc() == 1
    svc.shutdown()


def test_the_daemon_exits_after_its_idle_ttl_once_its_last_client_left(runtime: Path) -> None:
    svc = local_singleton("idle", factory=COUNTER, idle_ttl=0.3)
    with svc.proxy() as obj:
        obj.inc()
        pid = svc.ping()["pid"]
        time.sleep(0.6)  # longer than the TTL: a connected client keeps the daemon
        assert obj.inc() == 2
    wait_for(lambda: not pid_alive(pid), "the idle daemon to exit")
    assert not svc.files.metadata.exists() and not svc.files.socket.exists()
    assert "no client for 0.3 s" in daemon_log("idle")


def test_a_daemon_no_client_ever_reached_exits_after_its_idle_ttl(runtime: Path) -> None:
    files = RuntimeFiles.for_name("lonely")
    files.prepare()
    with files.log.open("ab") as log:
        subprocess.Popen([sys.executable, "-m", "tasktonic.local.daemon", "--name", "lonely",
                          "--factory", COUNTER, "--idle-ttl", "0.3"], cwd=ROOT, stdout=log,
                         stderr=log, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         start_new_session=True).wait(WAIT)
        # the daemon is this child itself; wait() above returned once it exited
    assert "no client for 0.3 s" in daemon_log("lonely")
    assert not files.metadata.exists()


# -- hostile clients -----------------------------------------------------------------------

def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"closed after {len(data)} of {size} bytes"
        data += chunk
    return data


def _read_to_end(sock: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def raw(svc: Any) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(WAIT)  # a daemon that never closes fails the test instead of hanging it
    sock.connect(svc.files.read_metadata()["address"])
    return sock


def authenticated(svc: Any) -> socket.socket:
    """A raw socket past a correct handshake."""
    sock = raw(svc)
    parsed = wire.parse_hello(_read_exactly(sock, wire.HELLO_SIZE))
    assert parsed is not None
    answer, mine = wire.response(svc.files.read_token(), parsed[1])
    sock.sendall(answer)
    status, proved, _ = wire.parse_verdict(svc.files.read_token(), mine,
                                           _read_exactly(sock, wire.VERDICT_SIZE))
    assert status == wire.OK and proved
    return sock


def fatal_message(data: bytes, svc: Any) -> str:
    frames = wire.FrameReader(svc.max_frame).feed(data)
    kind, message = wire.Codec(svc.serializer).loads(frames[-1])
    assert kind == "fatal"
    return str(message)


@pytest.fixture
def guarded(runtime: Path) -> Iterator[tuple[Any, Any]]:
    """A pickle daemon (the case where decoding before auth would run code), small frames,
    short I/O timeout, and a client that must keep working through every attack."""
    svc = local_singleton("guarded", factory=COUNTER, serializer="pickle", max_frame=64 * 1024,
                          io_timeout=0.5, idle_ttl=5.0)
    with svc.proxy() as bystander:
        assert bystander.inc() == 1
        yield svc, bystander
        assert bystander.inc() == 2  # the attack closed its own connection only
    with svc.proxy() as newcomer:
        assert newcomer.inc() == 3
    svc.shutdown()


def test_a_wrong_token_is_refused(guarded: tuple[Any, Any]) -> None:
    svc, _ = guarded
    sock = raw(svc)
    challenge = wire.parse_hello(_read_exactly(sock, wire.HELLO_SIZE))[1]  # type: ignore[index]
    answer, mine = wire.response(secrets.token_bytes(32), challenge)
    sock.sendall(answer)
    verdict = _read_to_end(sock)
    assert verdict[0] == wire.BAD_TOKEN and len(verdict) == wire.VERDICT_SIZE
    with pytest.raises(HandshakeError, match="refused our token"):
        Connection(svc.files.read_metadata()["address"], secrets.token_bytes(32),
                   serializer="pickle", max_frame=svc.max_frame, timeout=WAIT)
    assert "authentication failed (wrong token)" in daemon_log("guarded")


def test_a_pickle_sent_before_authentication_is_never_loaded(
        guarded: tuple[Any, Any], tmp_path: Path) -> None:
    svc, _ = guarded
    target = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple:
            return (open, (str(target), "w"))

    payload = pickle.dumps(Exploit())
    for attack in (payload, wire.frame(payload, 1 << 20), payload * 10):
        sock = raw(svc)
        _read_exactly(sock, wire.HELLO_SIZE)
        sock.sendall(attack)
        _read_to_end(sock)  # refused and closed
    assert not target.exists()
    assert "not a tasktonic client (bad magic)" in daemon_log("guarded")


def test_random_garbage_is_refused(guarded: tuple[Any, Any]) -> None:
    svc, _ = guarded
    sock = raw(svc)
    sock.sendall(secrets.token_bytes(4096))
    assert _read_to_end(sock)[wire.HELLO_SIZE] == wire.BAD_TOKEN
    sock = authenticated(svc)
    sock.sendall(wire.frame(b"\x80\x05garbage that is no pickle", svc.max_frame))
    assert "malformed pickle frame" in fatal_message(_read_to_end(sock), svc)


def test_an_oversized_frame_is_refused_before_it_is_read(guarded: tuple[Any, Any]) -> None:
    svc, bystander = guarded
    sock = authenticated(svc)
    sock.sendall((svc.max_frame + 1).to_bytes(4, "big") + b"x" * 1000)
    message = fatal_message(_read_to_end(sock), svc)
    assert message == f"a frame of {svc.max_frame + 1} bytes exceeds the limit of " \
                      f"{svc.max_frame} bytes"
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        bystander.echo(b"x" * svc.max_frame)  # refused in the caller: nothing is sent


def test_a_half_sent_frame_or_handshake_is_cut_off(guarded: tuple[Any, Any]) -> None:
    svc, _ = guarded
    sock = authenticated(svc)
    sock.sendall((100).to_bytes(4, "big") + b"x" * 10)  # and nothing more
    assert "left incomplete (14 bytes)" in fatal_message(_read_to_end(sock), svc)
    sock = raw(svc)
    sock.sendall(b"TTLOCAL")  # part of a handshake
    assert len(_read_to_end(sock)) == wire.HELLO_SIZE  # the daemon's hello, then the close
    sock = authenticated(svc)
    sock.sendall((100).to_bytes(4, "big") + b"x" * 10)
    sock.close()  # the peer leaves in the middle of a frame
    wait_for(lambda: "closed in the middle of a frame" in daemon_log("guarded"),
             "the daemon to log the cut frame")
    assert "no handshake within 0.5 s" in daemon_log("guarded")


def test_a_client_that_stops_reading_is_dropped(guarded: tuple[Any, Any]) -> None:
    svc, bystander = guarded
    sock = authenticated(svc)
    request = wire.frame(pickle.dumps(["call", "echo", [b"x" * 60_000], {}]), svc.max_frame)
    sock.settimeout(0.05)  # our sends may fill up: the daemon must not wait for us
    sent = 0
    try:
        while sent < 400:  # 24 MB of replies we never read
            sock.sendall(request)
            sent += 1
    except (TimeoutError, BrokenPipeError, ConnectionResetError):
        pass
    assert bystander.inc() == 2  # served meanwhile
    wait_for(lambda: "does not read its replies" in daemon_log("guarded"),
             "the daemon to drop the client that does not read")
    assert bystander.inc() == 3
    bystander.inc(step=-2)  # back where the fixture expects it


def test_frames_sent_with_the_handshake_are_served_first(guarded: tuple[Any, Any]) -> None:
    svc, _ = guarded
    sock = raw(svc)
    challenge = wire.parse_hello(_read_exactly(sock, wire.HELLO_SIZE))[1]  # type: ignore[index]
    answer, _ = wire.response(svc.files.read_token(), challenge)
    calls = b"".join(wire.frame(pickle.dumps(["call", "echo", [n], {}]), svc.max_frame)
                     for n in range(3))
    sock.sendall(answer + calls)  # not waiting for the verdict
    assert _read_exactly(sock, wire.VERDICT_SIZE)[0] == wire.OK
    reader = wire.FrameReader(svc.max_frame)
    replies: list[bytes] = []
    while len(replies) < 3:
        replies += reader.feed(sock.recv(65536))
    assert [pickle.loads(r) for r in replies] == [["ok", [[n], {}]] for n in range(3)]


def test_a_protocol_version_mismatch_names_both_versions(
        guarded: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    svc, _ = guarded
    with monkeypatch.context() as patch:  # undone before the fixture's own checks
        patch.setattr(wire, "PROTOCOL_VERSION", wire.PROTOCOL_VERSION + 98)
        with pytest.raises(HandshakeError, match=r"this client speaks 99, the daemon 1"):
            svc.ensure_started()
        sock = raw(svc)  # a client that does not check: the daemon refuses it
        challenge = wire.parse_hello(_read_exactly(sock, wire.HELLO_SIZE))[1]  # type: ignore[index]
        sock.sendall(wire.response(svc.files.read_token(), challenge)[0])
        assert _read_to_end(sock)[0] == wire.BAD_VERSION
    assert "protocol version mismatch: client 99, daemon 1" in daemon_log("guarded")


# -- the tonic form ----------------------------------------------------------------------

class Consumer(ttTonic):
    """The same consumer code for a process-local and a machine-wide Tally."""

    service: Any = None

    def ttse__on_start(self) -> None:
        self.totals: list[int] = []
        self.greetings: list[tuple] = []
        self.threads: set[int] = set()
        self.own_thread = threading.get_ident()
        self.tally = self.service(srv_start=100, ctxt_greeting="hi")
        for _ in range(5):
            self.tally.ttsc__add(self, 2)

    def ttse__on_greeting(self, greeting: str, where: str) -> None:
        self.greetings.append((greeting, where))

    def ttse__on_total(self, total: int) -> None:
        self.totals.append(total)
        self.threads.add(threading.get_ident())
        if len(self.totals) == 5:
            self.finish()


def run_consumer(service: type) -> Consumer:
    made: list[Consumer] = []
    consumer_cls = type("Consumer", (Consumer,), {"service": service})
    run_app(lambda: made.append(consumer_cls()))
    return made[0]


CONSUMER_PROCESS = """
from tasktonic import ttFormula
from tests.local_services import Tally
from tests.test_local import run_consumer_app
print(run_consumer_app(Tally))
"""


def run_consumer_app(service: type) -> list[int]:
    """The consumer as a whole application, in a child process."""
    from tasktonic import ttFormula
    made: list[Consumer] = []

    class App(ttFormula):
        def creating_formula(self) -> tuple:
            return (("tasktonic/log/to", "off"),)

        def creating_starting_tonics(self) -> None:
            made.append(type("Consumer", (Consumer,), {"service": service})())

    App()
    return made[0].totals


def test_the_consumer_code_is_the_same_for_a_local_service() -> None:
    local = run_consumer(Tally.__wrapped__)
    assert local.totals == [102, 104, 106, 108, 110]
    assert local.greetings == [("hi", local.catalyst.name)]


def test_a_machine_wide_service_across_two_processes_replies_as_sparkles(
        runtime: Path) -> None:
    other = child(CONSUMER_PROCESS)
    # the first process started the daemon, whose one instance got its srv_ keywords
    assert finish(other).strip() == "[102, 104, 106, 108, 110]"
    here = run_consumer(Tally)
    assert here.totals == [112, 114, 116, 118, 120]  # the same one instance, calls in order
    assert here.greetings == [("hi", "tally-service")]  # run in the daemon, on its catalyst
    assert here.threads == {here.own_thread}  # sparkles on the consumer's own catalyst
    assert len(started_pids(runtime)) == 1
    local_singleton("tally", factory="tests.local_services:Tally").shutdown()
