"""TCP and UDP tonics on the selector catalyst, on loopback with real sockets.

No sleeps: every application ends by itself, and the threads playing the peer wait on
``threading.Event``s with timeouts.
"""
from __future__ import annotations

import logging
import socket
import struct
import threading

from tasktonic import ttCatalyst, ttTonic
from tasktonic.net import MAX_UDP_PAYLOAD, ttTcpClient, ttTcpConnection, ttTcpServer, ttUdpSocket
from tasktonic.selector import ttSelectorCatalyst
from tests.conftest import run_app

WAIT = 20.0


def _closed_port() -> int:
    """A loopback port nobody listens on: bound, then closed."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- echo --------------------------------------------------------------------------------
class EchoApp(ttTonic):
    """Owns an echo server and a client on one selector catalyst; runs on the main catalyst."""

    def __init__(self, payload, chunk, **kwargs):
        super().__init__(**kwargs)
        self.payload = payload
        self.chunk = chunk
        self.echoed = bytearray()
        self.events = []
        self.threads = set()

    def ttse__on_start(self):
        self.sel = ttSelectorCatalyst(name="net")
        self.server = ttTcpServer("127.0.0.1", 0, catalyst=self.sel)
        self.client = ttTcpClient("127.0.0.1", self.server.port, catalyst=self.sel)

    def ttse__on_tcp_accepted(self, server, conn):
        self.events.append("accepted")
        self.server_conn = conn

    def ttse__on_tcp_connected(self, conn):
        self.events.append("connected")
        for i in range(0, len(self.payload), self.chunk):
            conn.ttsc__send(self.payload[i:i + self.chunk])

    def ttse__on_tcp_data(self, conn, data):
        self.threads.add(threading.get_ident())
        if conn is self.client:
            self.echoed += data
            if len(self.echoed) >= len(self.payload):
                conn.ttsc__close()
        else:
            conn.ttsc__send(data)   # the echo

    def ttse__on_tcp_closed(self, conn, reason):
        self.events.append(("closed", "client" if conn is self.client else "server", reason))
        if conn is not self.client:
            self.finish()

    def ttse__on_tcp_buffer_full(self, conn, pending):
        raise AssertionError("1 MiB buffers cannot fill in the echo test")


def test_echo_round_trip_of_1_mb_in_chunks():
    payload = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(1 << 20))  # 1 MiB, no period
    holder = {}

    def starting():
        holder["app"] = EchoApp(payload, 8192)

    run_app(starting, timeout=60)
    app = holder["app"]
    assert bytes(app.echoed) == payload
    assert sorted(app.events[:2]) == ["accepted", "connected"]
    assert ("closed", "client", None) in app.events
    assert ("closed", "server", None) in app.events
    assert app.client.finished and app.server_conn.finished and app.server.finished
    # every event ran on the owner's (main catalyst's) thread, not on the selector's
    assert len(app.threads) == 1
    assert app.sel._tt_thread.ident not in app.threads
    assert app.client.bytes_sent == len(payload) == app.server_conn.bytes_received


# -- connect failures and resets ---------------------------------------------------------
class Recorder(ttTonic):
    """Creates one client and records what its owner hears, then finishes."""

    def __init__(self, port, on_connected=None, **kwargs):
        super().__init__(**kwargs)
        self.port = port
        self.on_connected = on_connected
        self.events = []

    def ttse__on_start(self):
        self.client = ttTcpClient("127.0.0.1", self.port, catalyst=ttSelectorCatalyst())

    def ttse__on_tcp_connected(self, conn):
        self.events.append(("connected",))
        if self.on_connected is not None:
            self.on_connected()

    def ttse__on_tcp_error(self, conn, error):
        self.events.append(("error", error))
        self.finish()

    def ttse__on_tcp_closed(self, conn, reason):
        self.events.append(("closed", reason))
        self.finish()


def test_connection_refused_gives_on_tcp_error_naming_host_and_port():
    port = _closed_port()
    holder = {}

    def starting():
        holder["r"] = Recorder(port)

    run_app(starting, timeout=30)
    r = holder["r"]
    assert len(r.events) == 1 and r.events[0][0] == "error"
    error = r.events[0][1]
    assert isinstance(error, ConnectionRefusedError)
    assert f"127.0.0.1:{port}" in str(error)
    assert r.client.finished


def test_peer_reset_gives_on_tcp_closed_with_an_oserror():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    connected = threading.Event()
    failures = []

    def peer():
        try:
            listener.settimeout(WAIT)
            conn, _ = listener.accept()
            assert connected.wait(WAIT)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()   # linger 0: an RST, not a FIN
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    thread = threading.Thread(target=peer, daemon=True)
    thread.start()
    holder = {}

    def starting():
        holder["r"] = Recorder(port, on_connected=connected.set)

    try:
        run_app(starting, timeout=30)
    finally:
        thread.join(WAIT)
        listener.close()
    assert not thread.is_alive()
    assert not failures
    events = holder["r"].events
    assert events[0] == ("connected",)
    assert events[1][0] == "closed"
    assert isinstance(events[1][1], ConnectionResetError)
    assert holder["r"].client.finished


# -- back-pressure -----------------------------------------------------------------------
CHUNK = 64 * 1024


def _chunk(i: int) -> bytes:
    return bytes([i % 251]) * CHUNK


class Flooder(ttTonic):
    """On the selector catalyst with its client: sends until a send is refused."""

    def __init__(self, port, start_reading, **kwargs):
        super().__init__(**kwargs)
        self.port = port
        self.start_reading = start_reading
        self.sent = 0           # sends issued
        self.refused = 0
        self.full_events = []
        self.drained = 0
        self.closed = []

    def ttse__on_start(self):
        self.client = ttTcpClient("127.0.0.1", self.port, max_buffer=4 * CHUNK,
                                  catalyst=self.catalyst)

    def ttse__on_tcp_connected(self, conn):
        self.tts__pump()

    def tts__pump(self):
        if self.refused or self.sent >= 2000:     # 2000 x 64 KiB: the kernel is not that big
            return
        self.client.ttsc__send(_chunk(self.sent))
        self.sent += 1
        self.tts__pump()

    def ttse__on_tcp_buffer_full(self, conn, pending):
        self.refused += 1
        self.full_events.append(pending)
        self.start_reading.set()

    def ttse__on_tcp_drained(self, conn):
        self.drained += 1
        conn.ttsc__close()

    def ttse__on_tcp_closed(self, conn, reason):
        self.closed.append(reason)
        self.finish()


def test_a_peer_that_does_not_read_fills_the_buffer_then_drains():
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    start_reading = threading.Event()
    received = bytearray()
    failures = []

    def peer():
        try:
            listener.settimeout(WAIT)
            conn, _ = listener.accept()
            conn.settimeout(WAIT)
            assert start_reading.wait(WAIT), "the client never saw a full buffer"
            while True:
                data = conn.recv(1 << 20)
                if not data:
                    break
                received.extend(data)
            conn.close()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=peer, daemon=True)
    thread.start()
    holder = {}

    def starting():
        holder["f"] = Flooder(port, start_reading, catalyst=ttSelectorCatalyst())

    try:
        run_app(starting, timeout=60)
    finally:
        thread.join(WAIT)
        listener.close()
    assert not thread.is_alive()
    assert not failures
    f = holder["f"]
    assert f.refused >= 1 and len(f.full_events) == f.refused
    # refused because the chunk did not fit: pending + CHUNK > max_buffer (the first one)
    assert f.full_events[0] + CHUNK > 4 * CHUNK
    assert all(p <= 4 * CHUNK for p in f.full_events)
    assert f.drained == 1
    assert f.closed == [None]
    accepted = f.sent - f.refused          # refusals are latched: the tail was refused
    assert accepted >= 4
    assert bytes(received) == b"".join(_chunk(i) for i in range(accepted))


# -- UDP ---------------------------------------------------------------------------------
class PingPong(ttTonic):
    def __init__(self, rounds, **kwargs):
        super().__init__(**kwargs)
        self.rounds = rounds
        self.log_lines = []

    def ttse__on_start(self):
        sel = ttSelectorCatalyst()
        self.a = ttUdpSocket("127.0.0.1", 0, catalyst=sel)
        self.b = ttUdpSocket("127.0.0.1", 0, catalyst=sel)
        self.a.send_to(b"ping 0", ("127.0.0.1", self.b.port))

    def ttse__on_udp_data(self, sock, data, addr):
        self.log_lines.append((sock is self.a, data, addr[1]))
        word, n = data.split()
        n = int(n)
        if sock is self.b:
            sock.send_to(b"pong %d" % n, addr)
        elif n + 1 < self.rounds:
            sock.send_to(b"ping %d" % (n + 1), addr)
        else:
            self.finish()


def test_udp_ping_pong():
    holder = {}

    def starting():
        holder["p"] = PingPong(50)

    run_app(starting, timeout=30)
    p = holder["p"]
    assert len(p.log_lines) == 100
    assert p.log_lines[0] == (False, b"ping 0", p.a.port)
    assert p.log_lines[-1] == (True, b"pong 49", p.b.port)
    assert p.a.finished and p.b.finished


def test_udp_oversized_datagram():
    outcome = {}

    class Big(ttTonic):
        def ttse__on_start(self):
            self.sock = ttUdpSocket(catalyst=ttSelectorCatalyst())
            try:
                self.sock.send_to(b"x" * (MAX_UDP_PAYLOAD + 1), ("127.0.0.1", 9))
            except ValueError as exc:
                outcome["call"] = exc
            # the sparkle itself reports instead of raising
            self.sock.ttsc__send_to(b"x" * (MAX_UDP_PAYLOAD + 1), ("127.0.0.1", 9))

        def ttse__on_udp_error(self, sock, error, addr):
            outcome["event"] = (error, addr)
            self.finish()

    run_app(Big, timeout=30)
    assert "65507" in str(outcome["call"])
    error, addr = outcome["event"]
    assert isinstance(error, ValueError) and addr == ("127.0.0.1", 9)


# -- argument errors and optional owner events -------------------------------------------
def test_argument_errors():
    errors = {}

    class Picky(ttTonic):
        def ttse__on_start(self):
            sel = ttSelectorCatalyst()
            plain = ttCatalyst()
            cases = {
                "plain catalyst": lambda: ttTcpClient("127.0.0.1", 1, name="picky-client",
                                                      catalyst=plain),
                "server plain": lambda: ttTcpServer(name="picky-server"),
                "udp plain": lambda: ttUdpSocket(),
                "port 0 client": lambda: ttTcpClient("127.0.0.1", 0, catalyst=sel),
                "port str": lambda: ttTcpServer("127.0.0.1", "80", catalyst=sel),
                "port big": lambda: ttUdpSocket("127.0.0.1", 70000, catalyst=sel),
                "host": lambda: ttTcpClient(None, 80, catalyst=sel),
                "max_buffer": lambda: ttTcpClient("127.0.0.1", 80, max_buffer=0,
                                                  catalyst=sel),
                "no socket": lambda: ttTcpConnection(catalyst=sel),
                "owner": lambda: ttUdpSocket(owner=object(), catalyst=sel),
                "unknown kw": lambda: ttTcpServer(colour="red", catalyst=sel),
            }
            for key, make in cases.items():
                try:
                    make()
                except (TypeError, ValueError) as exc:
                    errors[key] = exc
            udp = ttUdpSocket(catalyst=sel)
            for key, call in {"send_to str": lambda: udp.send_to("text", ("127.0.0.1", 9)),
                              "send_to addr": lambda: udp.send_to(b"x", "127.0.0.1:9")}.items():
                try:
                    call()
                except (TypeError, ValueError) as exc:
                    errors[key] = exc
            self.server = ttTcpServer(catalyst=sel, max_buffer=10)
            for key, call in {"send str": lambda: self.conn.send("text"),
                              "send big": lambda: self.conn.send(b"x" * 11)}.items():
                try:
                    call()
                except (TypeError, ValueError) as exc:
                    errors[key] = exc
            plain.finish()     # it never hosted anything, so it would not end by itself
            self._pair.close()
            self.finish()

        @property
        def conn(self):  # a connection object just to call the plain send() validation
            if not hasattr(self, "_conn"):
                a, b = socket.socketpair()
                self._pair = b
                self._conn = ttTcpConnection(a, max_buffer=10, catalyst=self.server.catalyst)
            return self._conn

    run_app(Picky, timeout=30)
    assert isinstance(errors["plain catalyst"], TypeError)
    assert "picky-client" in str(errors["plain catalyst"])
    assert "picky-server" in str(errors["server plain"])
    assert isinstance(errors["udp plain"], TypeError)
    assert isinstance(errors["port 0 client"], ValueError)
    assert isinstance(errors["port str"], TypeError)
    assert isinstance(errors["port big"], ValueError)
    assert isinstance(errors["host"], TypeError)
    assert isinstance(errors["max_buffer"], ValueError)
    assert isinstance(errors["no socket"], TypeError)
    assert isinstance(errors["owner"], TypeError)
    assert "colour" in str(errors["unknown kw"])
    assert isinstance(errors["send_to str"], TypeError)
    assert isinstance(errors["send_to addr"], TypeError)
    assert isinstance(errors["send str"], TypeError)
    assert isinstance(errors["send big"], ValueError)


def test_an_owner_without_event_sparkles_is_fine(caplog):
    """Events the owner has no sparkle for are dropped with a debug line, never an error."""
    port = _closed_port()

    class Deaf(ttTonic):
        def ttse__on_start(self):
            self.client = ttTcpClient("127.0.0.1", port, catalyst=ttSelectorCatalyst())
            # the client finishes after its (dropped) on_tcp_error; then so does this app

        def ttse__on_finished(self):
            pass

    class Waiter(ttTonic):
        def ttse__on_start(self):
            self.deaf = Deaf()
            self.tts__check()

        def tts__check(self):
            if self.deaf.client.finished:
                self.deaf.finish()
                self.finish()
            else:
                self.tts__check()

    with caplog.at_level(logging.DEBUG, logger="tasktonic"):
        run_app(Waiter, timeout=30)
    text = caplog.text
    assert "ttse__on_tcp_error" in text and "no such sparkle" in text
    assert "Traceback" not in text and "AttributeError" not in text


# -- the examples ------------------------------------------------------------------------
def test_example_tcp_echo_runs_and_ends():
    from examples import tcp_echo
    from tests.conftest import run_formula
    formula = run_formula(tcp_echo.TcpEchoApp, timeout=60)
    assert formula is not None


def test_example_udp_ping_pong_runs_and_ends():
    from examples import udp_ping_pong
    from tests.conftest import run_formula
    run_formula(udp_ping_pong.UdpPingPongApp, timeout=30)
