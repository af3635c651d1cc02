"""The serial port service (issue 5): per-port singleton, framing, pty and loop:// traffic,
shared writers, unplug and recovery, open and write failures. No sleeps: Events with timeouts,
and applications that end by themselves."""
from __future__ import annotations

import errno
import os
import select
import threading

import pytest

from tasktonic import ttLedger, ttTonic
from tasktonic.serial_port import (
    fixed_framer,
    line_framer,
    raw_framer,
    ttSerialOpenError,
    ttSerialPort,
)
from tests.conftest import run_app

WAIT = 10.0
LINES = 5000          # 5,000 lines of 20 bytes = 100,000 bytes each way


def numbered_line(i: int) -> bytes:
    """20 bytes with the terminator; the number makes loss and reordering visible."""
    return b"line %07d paylod\n" % i


def test_numbered_lines_are_20_bytes():
    assert len(numbered_line(0)) == 20 and len(numbered_line(LINES - 1)) == 20


# -- framers ------------------------------------------------------------------------------

def test_line_framer_keeps_the_incomplete_tail():
    framer = line_framer(b"\r\n")
    buffer = bytearray(b"$GPGGA,1\r\n$GPRMC,2\r\n$GP")
    assert framer(buffer) == [b"$GPGGA,1", b"$GPRMC,2"]
    assert buffer == b"$GP"
    buffer += b"X,3\r"
    assert framer(buffer) == [] and buffer == b"$GPX,3\r"
    buffer += b"\n"
    assert framer(buffer) == [b"$GPX,3"] and buffer == b""
    assert line_framer(b"\n", keep_terminator=True)(bytearray(b"a\nb")) == [b"a\n"]


def test_fixed_and_raw_framers():
    buffer = bytearray(b"abcdefgh")
    assert fixed_framer(3)(buffer) == [b"abc", b"def"] and buffer == b"gh"
    buffer = bytearray(b"xyz")
    assert raw_framer(buffer) == [b"xyz"] and buffer == b""
    with pytest.raises(ValueError):
        fixed_framer(0)
    with pytest.raises(ValueError):
        line_framer(b"")


def length_prefixed(buffer: bytearray) -> list[bytes]:
    """A custom framer: one length byte, then that many bytes (Modbus-RTU-like records)."""
    frames = []
    while buffer and len(buffer) >= 1 + buffer[0]:
        size = buffer[0]
        frames.append(bytes(buffer[1:1 + size]))
        del buffer[:1 + size]
    return frames


# -- helpers -------------------------------------------------------------------------------

class Collector(ttTonic):
    """Subscribes to a port, collects frames, finishes after ``expected`` frames."""

    def __init__(self, port: str, expected: int, done: threading.Event, options: dict | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.port_name = port
        self.expected = expected
        self.done = done
        self.options = options or {}
        self.frames: list[bytes] = []

    def ttse__on_start(self):
        self.port = self.bind(ttSerialPort, self.port_name, **self.options)
        self.port.ttsc__subscribe(self)

    def ttse__on_serial_data(self, port_name, frame):
        self.frames.append(frame)
        if len(self.frames) == self.expected:
            self.done.set()
            self.finish()


#: The tests that play the device through a pseudo-terminal: POSIX only. On Windows the same
#: service paths run over ``loop://`` and ``socket://`` in the other tests.
needs_pty = pytest.mark.skipif(not hasattr(os, "openpty"),
                               reason="needs os.openpty (a POSIX pseudo-terminal)")


def pty_pair():
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)  # the service opens the slave by its path; the test keeps the master
    return master, path


def read_master(master: int, total: int, out: bytearray, done: threading.Event,
                start: threading.Event) -> None:
    """Test-side reader: collect ``total`` bytes from the pty master (or stop on EOF/EIO).

    It starts once the service holds the slave: reading a master whose slave nobody has open
    fails with EIO at once.
    """
    assert start.wait(WAIT), "the service never opened the pty"
    while len(out) < total:
        ready, _, _ = select.select([master], [], [], WAIT)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    done.set()


# -- the service ---------------------------------------------------------------------------

def test_one_instance_per_port_and_settings_conflict_is_an_error():
    seen = {}

    class Opener(ttTonic):
        def ttse__on_start(self):
            a = self.bind(ttSerialPort, "loop://", baudrate=115200)
            b = self.bind(ttSerialPort, "loop://")
            c = self.bind(ttSerialPort, "loop://?logging=info")
            seen["same"] = a is b
            seen["other"] = a is not c
            seen["names"] = (a._tt_is_service, c._tt_is_service)
            seen["isinstance"] = isinstance(a, ttSerialPort) and isinstance(c, ttSerialPort)
            try:
                self.bind(ttSerialPort, "loop://", baudrate=9600)
            except ValueError as exc:
                seen["conflict"] = str(exc)
            self.finish()

    run_app(Opener, timeout=WAIT)
    assert seen["same"] and seen["other"] and seen["isinstance"]
    assert seen["names"] == ("serial:loop://", "serial:loop://?logging=info")
    assert "loop://" in seen["conflict"] and "baudrate=9600" in seen["conflict"]
    assert ttLedger().services == {}


def test_100k_bytes_of_lines_round_trip_over_loop_url():
    done = threading.Event()
    collectors = []

    class Writer(ttTonic):
        def ttse__on_serial_subscribed(self, port_name):
            for i in range(LINES):
                self.port.ttsc__write(numbered_line(i))

    class Both(Collector, Writer):
        pass

    def starting():
        ttSerialPort("loop://", framing="line")
        collectors.append(Both("loop://", LINES, done))

    run_app(starting, timeout=30)
    assert done.is_set()
    frames = collectors[0].frames
    assert frames == [numbered_line(i)[:-1] for i in range(LINES)]
    assert collectors[0].port.bytes_sent == 20 * LINES
    assert collectors[0].port.bytes_received == 20 * LINES


def test_custom_and_fixed_framing_over_loop_url():
    done = threading.Event()
    got = []

    class User(Collector):
        def ttse__on_serial_subscribed(self, port_name):
            for payload in (b"", b"abc", bytes(range(200))):
                self.port.ttsc__write(bytes([len(payload)]) + payload)

    def starting():
        got.append(User("loop://", 3, done, {"framing": length_prefixed}))

    run_app(starting, timeout=WAIT)
    assert got[0].frames == [b"", b"abc", bytes(range(200))]


@needs_pty
def test_100k_bytes_of_lines_round_trip_over_a_pty():
    """The test thread types 5,000 lines into the master; an echo tonic writes each back."""
    master, path = pty_pair()
    subscribed = threading.Event()
    finished = threading.Event()
    echoes = bytearray()
    read_done = threading.Event()

    class Echo(ttTonic):
        def ttse__on_start(self):
            self.count = 0
            self.port = self.bind(ttSerialPort, path, baudrate=115200, framing="line")
            self.port.ttsc__subscribe(self)

        def ttse__on_serial_subscribed(self, port_name):
            subscribed.set()

        def ttse__on_serial_data(self, port_name, frame):
            self.port.ttsc__write(frame + b"\n")
            self.count += 1
            if self.count == LINES:
                finished.set()
                self.finish()

    def typist():
        assert subscribed.wait(WAIT)
        data = b"".join(numbered_line(i) for i in range(LINES))
        view = memoryview(data)
        while view:
            written = os.write(master, view[:4096])
            view = view[written:]

    reader = threading.Thread(target=read_master, args=(master, 20 * LINES, echoes, read_done,
                                                          subscribed))
    writer = threading.Thread(target=typist)
    reader.start()
    writer.start()
    try:
        run_app(lambda: (ttSerialPort(path, baudrate=115200, framing="line"), Echo()),
                timeout=30)
        writer.join(WAIT)
        assert read_done.wait(WAIT)
    finally:
        os.close(master)
        reader.join(WAIT)
    assert not writer.is_alive() and not reader.is_alive()
    assert finished.is_set()
    assert bytes(echoes) == b"".join(numbered_line(i) for i in range(LINES))


def test_two_writers_share_one_port_and_never_interleave_frames():
    frames_each = 1500
    done = threading.Event()
    holders = {}

    def frame(writer: int, i: int) -> bytes:
        return (b"%d:%05d:" % (writer, i)) + bytes([ord("A") + writer]) * 300 + b"\n"

    class SharedWriter(ttTonic):
        def __init__(self, number, **kwargs):
            super().__init__(**kwargs)
            self.number = number

        def ttse__on_start(self):
            self.port = self.bind(ttSerialPort, "loop://", framing="line")
            holders[self.number] = self.port
            for i in range(frames_each):
                self.port.ttsc__write(frame(self.number, i))
            self.finish()

    collector = []

    def starting():
        ttSerialPort("loop://", framing="line")
        collector.append(Collector("loop://", 2 * frames_each, done))
        SharedWriter(0)
        SharedWriter(1)

    run_app(starting, timeout=30)
    assert done.is_set()
    assert holders[0] is holders[1]
    frames = collector[0].frames
    per_writer: dict[int, list[bytes]] = {0: [], 1: []}
    for got in frames:
        writer = int(got[:1])
        per_writer[writer].append(got)
    for writer in (0, 1):
        assert per_writer[writer] == [frame(writer, i)[:-1] for i in range(frames_each)]


@needs_pty
def test_unplug_closes_then_the_same_pty_path_reopens():
    """Closing the master frees /dev/pts/N once the service closed its slave; Linux hands the
    lowest free number to the next openpty, so a new pair usually gets the same path back."""
    master, path = pty_pair()
    subscribed = threading.Event()
    closed = threading.Event()
    reopened = threading.Event()
    got_before = threading.Event()
    events: list = []
    after = []

    class Watcher(ttTonic):
        def ttse__on_start(self):
            self.port = self.bind(ttSerialPort, path, framing="line", reconnect_delay=0.02,
                                  reconnect_max_delay=0.2)
            self.port.ttsc__subscribe(self)

        def ttse__on_serial_subscribed(self, port_name):
            subscribed.set()

        def ttse__on_serial_closed(self, port_name, reason):
            events.append(("closed", port_name, reason))
            closed.set()

        def ttse__on_serial_reopened(self, port_name):
            events.append(("reopened", port_name))
            reopened.set()

        def ttse__on_serial_data(self, port_name, frame):
            events.append(("data", frame))
            if frame == b"before":
                got_before.set()
            if frame == b"after":
                self.finish()

    state: dict = {}

    def driver():
        try:
            assert subscribed.wait(WAIT)
            os.write(master, b"before\n")
            # bytes still unread when the peer goes away are flushed by the kernel's hangup,
            # so unplug only once they arrived
            assert got_before.wait(WAIT)
            os.close(master)  # unplug
            assert closed.wait(WAIT), "no closed event"
            new_master, new_path = pty_pair()
            state["new_master"] = new_master
            state["same_path"] = new_path == path
            if not state["same_path"]:
                return  # another process took the number; stop the app below
            assert reopened.wait(WAIT), "no reopened event"
            os.write(new_master, b"after\n")
        except BaseException as exc:
            state["error"] = exc
        finally:
            state["driver done"] = True

    def starting():
        ttSerialPort(path, framing="line", reconnect_delay=0.02, reconnect_max_delay=0.2)
        after.append(Watcher())

    thread = threading.Thread(target=driver)
    thread.start()
    try:
        run_app(starting, timeout=WAIT)
    except BaseException:
        if state.get("same_path") is False:
            pytest.skip("the pty number was reused by someone else; cannot replug the same path")
        raise
    finally:
        thread.join(WAIT)
        if "new_master" in state:
            os.close(state["new_master"])
    assert not thread.is_alive()
    assert "error" not in state, state.get("error")
    kinds = [e[0] for e in events]
    assert kinds == ["data", "closed", "reopened", "data"], events
    assert events[0] == ("data", b"before")
    assert events[1][1] == path and events[1][2]  # a reason is given
    assert after[0].port.reopen_count == 1


def test_reopen_over_a_socket_url_after_the_server_drops():
    """socket:// : the peer closing gives EOF -> closed; a new accept -> reopened."""
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(2)
    url = f"socket://127.0.0.1:{server.getsockname()[1]:d}"
    closed, reopened = threading.Event(), threading.Event()
    subscribed = threading.Event()
    events = []

    class Watcher(ttTonic):
        def ttse__on_start(self):
            self.port = self.bind(ttSerialPort, url, framing="line", reconnect_delay=0.02)
            self.port.ttsc__subscribe(self)

        def ttse__on_serial_subscribed(self, port_name):
            subscribed.set()

        def ttse__on_serial_closed(self, port_name, reason):
            events.append("closed")
            closed.set()

        def ttse__on_serial_reopened(self, port_name):
            events.append("reopened")
            reopened.set()

        def ttse__on_serial_data(self, port_name, frame):
            events.append(frame)
            if frame == b"second":
                self.finish()

    def driver():
        first, _ = server.accept()
        assert subscribed.wait(WAIT)  # frames that arrive before any subscriber are dropped
        first.sendall(b"first\n")
        first.close()
        assert closed.wait(WAIT)
        second, _ = server.accept()
        assert reopened.wait(WAIT)
        second.sendall(b"second\n")
        second.close()

    thread = threading.Thread(target=driver)
    thread.start()
    try:
        run_app(lambda: (ttSerialPort(url, framing="line", reconnect_delay=0.02), Watcher()),
                timeout=WAIT)
    finally:
        thread.join(WAIT)
        server.close()
    assert not thread.is_alive()
    assert events == [b"first", "closed", "reopened", b"second"]


@needs_pty
def test_write_on_an_unplugged_port_is_reported_and_not_counted():
    master, path = pty_pair()
    subscribed = threading.Event()
    failures = []
    ports = []

    class Writer(ttTonic):
        def ttse__on_start(self):
            self.port = self.bind(ttSerialPort, path, reconnect=False)
            ports.append(self.port)
            self.port.ttsc__subscribe(self)

        def ttse__on_serial_subscribed(self, port_name):
            subscribed.set()

        def ttse__on_serial_closed(self, port_name, reason):
            self.port.ttsc__write(b"lost frame", sender=self)

        def ttse__on_serial_write_failed(self, port_name, frame, error):
            failures.append((port_name, frame, error))
            self.finish()

    def driver():
        assert subscribed.wait(WAIT)
        os.close(master)

    thread = threading.Thread(target=driver)
    thread.start()
    try:
        run_app(lambda: (ttSerialPort(path, reconnect=False), Writer()), timeout=WAIT)
    finally:
        thread.join(WAIT)
    assert not thread.is_alive()
    assert failures == [(path, b"lost frame", "port is closed")]
    assert ports[0].bytes_sent == 0


def test_a_port_that_cannot_be_opened_raises_a_clear_error():
    seen = {}
    missing = "/dev/tasktonic-no-such-serial-device"

    class Opener(ttTonic):
        def ttse__on_start(self):
            try:
                self.bind(ttSerialPort, missing)
            except ttSerialOpenError as exc:
                seen["error"] = exc
            self.finish()

    run_app(Opener, timeout=WAIT)
    error = seen["error"]
    assert error.port == missing
    assert missing in str(error)
    assert "No such file or directory" in str(error) or str(errno.ENOENT) in str(error)
    assert isinstance(error, OSError)
    assert ttLedger().services == {}


@needs_pty
def test_retry_first_open_waits_for_the_device(tmp_path):
    """retry_first_open=True: no error; the port keeps trying and reports reopened once the
    device appears (a symlink to a fresh pty, made after the port found nothing there)."""
    seen = {}
    device = str(tmp_path / "ttyUSB-plugged-later")
    masters = []
    options = dict(retry_first_open=True, reconnect_delay=0.01, reconnect_max_delay=0.04)

    class Waiter(ttTonic):
        def ttse__on_start(self):
            self.port = self.bind(ttSerialPort, device, **options)
            seen["open at start"] = self.port.is_open
            self.port.ttsc__subscribe(self)
            self.port.ttsc__write(b"x", sender=self)

        def ttse__on_serial_write_failed(self, port_name, frame, error):
            seen["write"] = error
            master, slave_path = pty_pair()  # plug the device in
            masters.append(master)
            os.symlink(slave_path, device)

        def ttse__on_serial_reopened(self, port_name):
            seen["reopened"] = (port_name, self.port.is_open, self.port.reopen_count)
            self.finish()

    try:
        run_app(lambda: (ttSerialPort(device, **options), Waiter()), timeout=WAIT)
    finally:
        for master in masters:
            os.close(master)
    assert seen == {"open at start": False, "write": "port is closed",
                    "reopened": (device, True, 1)}


def test_callback_subscription_and_a_subclassed_port():
    """A bound sparkle as the data callback; a ttSerialPort subclass is still one per port."""
    done = threading.Event()
    seen = {}

    class FixedPort(ttSerialPort):
        """A user's port class: fixed 4-byte telegrams by default."""

        def __init__(self, port, **kwargs):
            kwargs.setdefault("framing", "fixed")
            kwargs.setdefault("frame_length", 4)
            super().__init__(port, **kwargs)

    class User(ttTonic):
        def ttse__on_start(self):
            self.port = self.bind(FixedPort, "loop://")
            seen["same"] = self.bind(FixedPort, "loop://") is self.port
            seen["type"] = type(self.port).__name__
            self.port.ttsc__subscribe(self.ttse__telegram)
            self.port.ttsc__write(b"abcdefgh12")
            self.port.ttsc__write(b"34")

        def ttse__telegram(self, port_name, frame):
            seen.setdefault("frames", []).append(frame)
            if len(seen["frames"]) == 3:
                self.port.ttsc__unsubscribe(self.ttse__telegram)
                done.set()
                self.finish()

    run_app(User, timeout=WAIT)
    assert done.is_set()
    assert seen == {"same": True, "type": "FixedPort[loop://]",
                    "frames": [b"abcd", b"efgh", b"1234"]}


@needs_pty
def test_the_serial_echo_example_runs_and_ends_by_itself():
    from examples import serial_echo
    from tests.conftest import run_formula

    class Quiet(serial_echo.SerialEchoApp):
        def creating_formula(self):
            return (("tasktonic/log/to", "off"),)

    app = run_formula(Quiet, timeout=WAIT)
    app.terminal.join(WAIT)
    os.close(app.master)
    assert not app.terminal.is_alive()
    assert app.answers == [b"HELLO", b"TASKTONIC", b"SERIAL ECHO"]
