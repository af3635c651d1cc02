"""Flow control on serial ports: the receive budget, the maximum frame size, raising framers.

Real ptys (``os.openpty``) and ``loop://``; the peers are plain threads, waits are Events.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time

from tasktonic import ttTonic
from tasktonic.serial_port import DEFAULT_MAX_FRAME, ttSerialFrameError, ttSerialPort
from tests.conftest import run_app
from tests.test_serial_port import needs_pty, pty_pair

WAIT = 30.0


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _type_into(master: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(master, view[:65536]):]


class Listener(ttTonic):
    """Subscribes to one port; records frames and errors; finishes on ``last``."""

    def __init__(self, path, options, last, subscribed, **kwargs):
        super().__init__(**kwargs)
        self.path = path
        self.options = options
        self.last = last
        self.subscribed = subscribed
        self.frames = []
        self.errors = []

    def ttse__on_start(self):
        self.port = self.bind(ttSerialPort, self.path, **self.options)
        self.port.ttsc__subscribe(self)

    def ttse__on_serial_subscribed(self, port_name):
        self.subscribed.set()

    def ttse__on_serial_error(self, port_name, error):
        self.errors.append((port_name, error))

    def ttse__on_serial_data(self, port_name, frame):
        self.frames.append(frame)
        if frame == self.last:
            self.finish()


def _run_pty(options, last, payload):
    """Run a Listener on a fresh pty while a thread types ``payload`` into the master."""
    master, path = pty_pair()
    subscribed = threading.Event()
    failures = []

    def typist():
        try:
            assert subscribed.wait(WAIT)
            _type_into(master, payload)
        except BaseException as exc:
            failures.append(exc)

    writer = threading.Thread(target=typist, daemon=True)
    writer.start()
    holder = {}
    try:
        run_app(lambda: holder.setdefault(
            "listener", Listener(path, options, last, subscribed)), timeout=120)
        writer.join(WAIT)
    finally:
        os.close(master)
    assert not failures and not writer.is_alive()
    return holder["listener"]


@needs_pty
def test_10_mb_without_a_terminator_is_discarded_reported_once_then_a_line_arrives():
    stop = threading.Event()
    peak = [0]

    def sample():  # the port's buffer would hold the 10 MB (and copy it once framed)
        while not stop.wait(0.002):
            peak[0] = max(peak[0], _rss_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    before = _rss_bytes()
    sampler.start()
    try:
        listener = _run_pty({"framing": "line"}, b"good line",
                            b"x" * (10 << 20) + b"\nfirst\ngood line\n")
    finally:
        stop.set()
        sampler.join(WAIT)
    # the long frame is discarded up to its terminator: the next line is whole
    assert listener.frames == [b"first", b"good line"]
    assert len(listener.errors) == 1  # one report per discarded frame
    port_name, error = listener.errors[0]
    assert isinstance(error, ttSerialFrameError) and error.port == port_name == listener.path
    assert listener.path in str(error) and f"max_frame={DEFAULT_MAX_FRAME}" in str(error)
    assert peak[0] - before < 24 << 20  # 40 MiB without the limit (18 MiB, free-threaded)


def test_a_raising_framer_is_reported_and_the_port_goes_on():
    subscribed = threading.Event()

    def semicolons(buffer: bytearray) -> list[bytes]:
        frames = []
        while (end := buffer.find(b";")) >= 0:
            if buffer[:end] == b"BAD":
                raise ValueError("a bad record")
            frames.append(bytes(buffer[:end]))
            del buffer[:end + 1]
        return frames

    class Talker(Listener):
        def ttse__on_serial_subscribed(self, port_name):
            self.port.ttsc__write(b"one;")

        def ttse__on_serial_data(self, port_name, frame):
            if frame == b"one":
                self.port.ttsc__write(b"BAD;")  # one chunk: the reader cannot merge them
            super().ttse__on_serial_data(port_name, frame)

        def ttse__on_serial_error(self, port_name, error):
            super().ttse__on_serial_error(port_name, error)
            self.port.ttsc__write(b"two;three;")

    holder = {}
    run_app(lambda: holder.setdefault(
        "talker", Talker("loop://", {"framing": semicolons}, b"three", subscribed)),
        timeout=WAIT)
    talker = holder["talker"]
    assert talker.frames == [b"one", b"two", b"three"]
    assert len(talker.errors) == 1
    port_name, error = talker.errors[0]
    assert port_name == "loop://" and "loop://" in str(error) and "framer raised" in str(error)
    assert isinstance(error.__cause__, ValueError)


class SlowReader(Listener):
    """Hashes raw frames slowly (0.5 ms each)."""

    def __init__(self, *args, total, **kwargs):
        super().__init__(*args, **kwargs)
        self.total = total
        self.digest = hashlib.sha256()
        self.count = 0

    def ttse__on_serial_data(self, port_name, frame):
        self.digest.update(frame)
        self.count += len(frame)
        time.sleep(0.0005)
        if self.count == self.total:
            self.finish()


SERIAL_STREAM = 4 << 20  # smaller than TCP's 100 MB: a pty moves some 100 MB/s at best
SERIAL_BUDGET = 64 * 1024


@needs_pty
def test_a_stream_into_a_slow_subscriber_stays_within_the_serial_receive_budget():
    payload = bytes((i * 13 + (i >> 11)) & 0xFF for i in range(SERIAL_STREAM))
    master, path = pty_pair()
    subscribed = threading.Event()
    holder = {}

    def typist():
        assert subscribed.wait(WAIT)
        _type_into(master, payload)

    writer = threading.Thread(target=typist, daemon=True)
    writer.start()
    options = {"receive_budget": SERIAL_BUDGET, "baudrate": 4000000}
    try:
        run_app(lambda: holder.setdefault("reader", SlowReader(
            path, options, None, subscribed, total=SERIAL_STREAM)), timeout=120)
        writer.join(WAIT)
    finally:
        os.close(master)
    reader = holder["reader"]
    assert reader.digest.hexdigest() == hashlib.sha256(payload).hexdigest()
    port = reader.port
    read_size = port.read_size
    # one read (up to 2 x read_size) may pass the budget; it framed into one more delivery
    assert SERIAL_BUDGET <= port.receive_high_water <= SERIAL_BUDGET + 4 * read_size
    assert port.pending_receive_bytes == 0


def test_max_frame_and_receive_budget_are_validated():
    errors = []

    class Maker(ttTonic):
        def ttse__on_start(self):
            for options in ({"max_frame": 0}, {"receive_budget": 0},
                            {"framing": "fixed", "frame_length": 100, "max_frame": 10}):
                try:
                    self.bind(ttSerialPort, "loop://", **options)
                except (TypeError, ValueError) as exc:
                    errors.append(str(exc))
            self.finish()

    run_app(lambda: Maker(), timeout=WAIT)
    assert len(errors) == 3 and all("loop://" in text for text in errors)
