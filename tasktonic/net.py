"""TCP and UDP as tonics on a ttSelectorCatalyst: connect, accept, send and receive as sparkles.

Why tonics on the selector catalyst: every socket here is non-blocking and registered with the
catalyst's selector, so readiness arrives as a sparkle (``tts__ready``) on the catalyst's own
thread. A socket is only ever touched on that thread, so no tonic here needs a lock, and a
catalyst never blocks in ``recv``, ``send``, ``accept`` or ``connect``.

Why an *owner*: the tonic that wants the bytes is usually not on the selector catalyst (it may
run on the main catalyst). Each socket tonic reports to its owner with event sparkles, which
the framework queues on the owner's own catalyst (arguments are copied across threads; bytes
and tonics pass as they are). The owner is ``owner=`` when given, else the tonic that created
the socket tonic (its ``base``). Every owner event is optional: an owner without the sparkle
simply does not hear it (a debug line on the ``tasktonic`` logger), so a catalyst never sees an
AttributeError because an owner cared about less than everything.

Owner events (all optional):

=====================================================  ===========================================
``ttse__on_tcp_connected(conn)``                       a ttTcpClient is connected
``ttse__on_tcp_error(conn_or_server, error)``          connect failed or timed out (OSError naming
                                                       host:port), or ``accept`` failed on a server
``ttse__on_tcp_accepted(server, conn)``                a ttTcpServer accepted a connection
``ttse__on_tcp_data(conn, data)``                      bytes received (in order, none lost)
``ttse__on_tcp_eof(conn)``                             the peer half-closed (shut down its sending
                                                       side); see half-close below
``ttse__on_tcp_closed(conn, reason)``                  the connection is closed: reason None for an
                                                       orderly close (peer's or our
                                                       ``ttsc__close``), the OSError for a reset
                                                       or a failed write
``ttse__on_tcp_buffer_full(conn, pending_bytes)``      a send was refused (see back-pressure)
``ttse__on_tcp_drained(conn)``                         the send buffer emptied after being full
``ttse__on_udp_data(sock, data, addr)``                one datagram received
``ttse__on_udp_error(sock, error, addr)``              a datagram could not be sent (addr is its
                                                       destination) or receiving failed (addr None)
=====================================================  ===========================================

Back-pressure on sending: each connection has a bounded send buffer (``max_buffer`` bytes,
1 MiB by default) for bytes the kernel did not take yet, counting the sends still queued. The
bound is checked when a send is requested: by ``send()`` in the caller's thread (it returns
False when refused), by a ``ttsc__send`` sparkle when it runs (a sparkle call cannot be seen
before it runs). A send whose data would push the buffer past the bound is *refused whole* (no
partial write, so the byte stream never gets a hole) and the owner hears
``ttse__on_tcp_buffer_full(conn, pending_bytes)``. From that refusal until the buffer has
emptied, *every* further send is refused the same way (each with its own event), even a small
one that would fit: otherwise a later small send could overtake the refused one and reorder
the stream. When the buffer is empty again the owner hears
``ttse__on_tcp_drained(conn)`` and re-sends, in order, what was refused. A single chunk larger
than ``max_buffer`` can never fit: ``send()`` raises ValueError at the call, and
``ttsc__send`` raises it inside the sparkle (handled by the error policy).

Back-pressure on receiving: the bytes handed to the owner as ``ttse__on_tcp_data`` and not yet
handled by it (``pending_receive_bytes``) are bounded by ``receive_budget`` (1 MiB by default):
at the budget the connection stops reading (the kernel's window then slows the peer down) and
it reads again once the owner has handled half of them. So a fast peer costs at most
``receive_budget`` plus one read (256 KiB) of memory. The data events are system sparkles of
the owner (``_ttss__call``): a bounded owner catalyst never drops nor refuses them, the budget
bounds them instead. Bytes count until the owner's handler has run, raised or not; deliveries
an owner drops because it completed give their bytes back, and an owner that has finished
hears nothing more (its data is not counted).

Half-close: a peer that shuts down its sending side (``shutdown(SHUT_WR)``) may still be
waiting for an answer. An owner with ``ttse__on_tcp_eof(conn)`` hears it after the last data
and decides: send the answer, then ``ttsc__close()``. An owner without that sparkle keeps the
plain behaviour: the connection closes at once (``ttse__on_tcp_closed(conn, None)``).

Sends are queued, so errors found by a sparkle cannot reach the caller. For argument errors the
plain methods ``ttTcpConnection.send`` and ``ttUdpSocket.send_to`` validate in the caller's
thread (TypeError / ValueError at the call) and then queue the sparkle. ``ttsc__send_to`` called
directly with an oversized datagram reports ``ttse__on_udp_error`` with the ValueError instead.

Lifetime: ``ttsc__close()`` on a connection sends what is buffered, then closes; ``finish()``
closes at once and discards unsent bytes (no event: the owner asked for it, or is finishing
itself). A connection finishes once closed. Accepted connections are infusions of their
server, so finishing the server closes them too; ``ttsc__close()`` on a server is ``finish()``.

Out of file descriptors: ``accept`` failing with EMFILE / ENFILE (or ENOBUFS / ENOMEM) would be
reported again at once, as fast as the loop spins. The server instead stops listening for
``ACCEPT_PAUSE_S`` (a single shot timer), reports the error once per pause and tries again;
waiting clients stay in the kernel's backlog meanwhile.
"""
from __future__ import annotations

import errno
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from .receive_budget import DEFAULT_RECEIVE_BUDGET, ReceiveBudget, check_budget
from .selector import EVENT_READ, EVENT_WRITE, ttSelectorCatalyst
from .timers import ttTimerSingleShot
from .tonic import ttTonic

__all__ = ["ttTcpConnection", "ttTcpClient", "ttTcpServer", "ttUdpSocket",
           "DEFAULT_MAX_BUFFER", "DEFAULT_RECEIVE_BUDGET", "MAX_UDP_PAYLOAD", "ACCEPT_PAUSE_S"]

_log = logging.getLogger("tasktonic")

#: The socket type, for annotations inside classes whose ``socket`` property hides the module.
_Socket = socket.socket

#: Default bound of a connection's send buffer (bytes the kernel has not accepted yet).
DEFAULT_MAX_BUFFER = 1 << 20
#: The largest UDP payload over IPv4 (65535 - 8 byte UDP header - 20 byte IP header).
MAX_UDP_PAYLOAD = 65507

_RECV_SIZE = 256 * 1024
#: Reads / accepts per readiness sparkle: enough to amortise the sparkle, small enough that one
#: busy socket does not starve the other tonics on the catalyst.
_BURST = 16
#: How long a server stops accepting when the process is out of file descriptors.
ACCEPT_PAUSE_S = 0.25
#: How often a connection paused by its receive budget looks whether its owner has finished.
OWNER_CHECK_S = 0.25
_OUT_OF_FDS = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


def _named(exc: OSError, what: str, host: str, port: int) -> OSError:
    """The OSError again, its message naming what failed and the address."""
    return OSError(exc.errno, f"tasktonic: cannot {what} {host}:{port}: {exc.strerror or exc}")


def _bind(owner: Any, host: str, port: int, sock_type: int, what: str) -> socket.socket:
    """A socket bound to ``host:port``, kept on ``owner._sock`` so a failed constructor's
    clean-up closes it; errors name the address."""
    try:
        family, type_, proto, _, address = socket.getaddrinfo(
            host, port, type=sock_type, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, type_, proto)
    except OSError as exc:
        raise _named(exc, what, host, port) from exc
    owner._sock = sock
    try:
        if sock_type == socket.SOCK_STREAM and os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise _named(exc, what, host, port) from exc
    return sock


def _check_port(port: Any, allow_zero: bool) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"tasktonic: port must be an int, got {type(port).__name__}")
    low = 0 if allow_zero else 1
    if not low <= port <= 65535:
        raise ValueError(f"tasktonic: port must be in {low}..65535, got {port}")
    return port


def _check_host(host: Any) -> str:
    if not isinstance(host, str):
        raise TypeError(f"tasktonic: host must be a str, got {type(host).__name__}")
    return host


def _check_bytes(data: Any, what: str) -> None:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"tasktonic: {what} takes bytes, got {type(data).__name__}")


class _ttNetTonic(ttTonic):
    """Common part: the selector catalyst check, the owner and optional owner events."""

    owner: Any = None
    catalyst: ttSelectorCatalyst  # checked in __init__
    # class defaults, so that releasing works whenever __init__ raises
    _sock: socket.socket | None = None
    _mask = 0

    def __init__(self, owner: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(self.catalyst, ttSelectorCatalyst):
            raise TypeError(f"tasktonic: {type(self).__name__} {self.name!r} must run on a "
                            f"ttSelectorCatalyst (catalyst=...), got {self.catalyst!r}")
        if owner is not None and not isinstance(owner, ttTonic):
            raise TypeError(f"tasktonic: owner of {self.name!r} must be a tonic, got "
                            f"{type(owner).__name__}")
        self.owner = owner if owner is not None else self.base

    @property
    def socket(self) -> socket.socket | None:
        """The underlying socket (for ``setsockopt`` and addresses; do not read or write it)."""
        return self._sock

    def _tt_owner_sparkle(self, event: str) -> Callable | None:
        """The owner's sparkle ``event``; None (with a debug line) when it has none, or has
        finished (it would drop the event: a half-close then closes, data is not charged)."""
        owner = self.owner
        sparkle: Callable | None = getattr(owner, event, None) if owner is not None else None
        if sparkle is None or not getattr(sparkle, "_tt_sparkle_method", False) or owner.finished:
            _log.debug("tasktonic: %s of %s dropped: owner %r has no such sparkle or has "
                       "finished", event, self.name, owner)
            return None
        return sparkle

    def _tt_notify(self, event: str, *args: Any) -> None:
        """Queue ``owner.<event>(*args)`` when the owner has that sparkle; else a debug line."""
        sparkle = self._tt_owner_sparkle(event)
        if sparkle is not None:
            sparkle(*args)

    def _tt_watch(self, mask: int) -> None:
        """Make the selector watch our socket for exactly ``mask`` (0: not at all)."""
        sock = self._sock
        if sock is None or mask == self._mask:
            return
        catalyst = self.catalyst
        if self._mask == 0:
            catalyst.register(sock, mask, self.tts__ready)
        elif mask == 0:
            catalyst.unregister(sock)
        else:
            catalyst.modify(sock, mask, self.tts__ready)
        self._mask = mask

    def _tt_close_socket(self) -> None:
        sock = self._sock
        if sock is None:
            return
        self._tt_watch(0)
        self._sock = None
        try:
            sock.close()
        except OSError:
            pass

    def tts__ready(self, sock: _Socket, events: int) -> None:
        """Readiness from the selector (overridden)."""

    def _tt_releasing(self) -> None:
        # Finishing closes at once (a finishing tonic must not keep a socket in the selector),
        # and a failed __init__ must not leak the socket it made.
        self._tt_close_socket()
        super()._tt_releasing()


def _check_max_buffer(max_buffer: Any) -> int:
    if isinstance(max_buffer, bool) or not isinstance(max_buffer, int):
        raise TypeError(f"tasktonic: max_buffer must be an int, got {type(max_buffer).__name__}")
    if max_buffer <= 0:
        raise ValueError(f"tasktonic: max_buffer must be > 0, got {max_buffer}")
    return max_buffer


class ttTcpConnection(_ttNetTonic):
    """One connected TCP socket: a bounded send buffer, received bytes to the owner.

    ``ttTcpConnection(sock, owner=None, max_buffer=DEFAULT_MAX_BUFFER,
    receive_budget=DEFAULT_RECEIVE_BUDGET, catalyst=sel)`` takes over ``sock`` (a connected
    SOCK_STREAM socket; it is made non-blocking).
    """

    def __init__(self, sock: socket.socket | None = None, owner: Any = None,
                 max_buffer: int = DEFAULT_MAX_BUFFER,
                 receive_budget: int = DEFAULT_RECEIVE_BUDGET, **kwargs: Any) -> None:
        _check_max_buffer(max_buffer)
        if sock is not None and (not isinstance(sock, socket.socket)
                                 or sock.type != socket.SOCK_STREAM):
            raise TypeError(f"tasktonic: {type(self).__name__} takes a SOCK_STREAM socket, "
                            f"got {sock!r}")
        super().__init__(owner=owner, **kwargs)
        if sock is None and type(self) is ttTcpConnection:
            raise TypeError("tasktonic: ttTcpConnection needs a connected socket "
                            "(use ttTcpClient to connect)")
        self.max_buffer = max_buffer
        self._received = ReceiveBudget(check_budget(receive_budget, repr(self.name)),
                                       resume=self._ttss__resume_reading)
        self._out = bytearray()
        self._reserved = 0        # bytes of sends requested by send() and still queued
        self._send_lock = threading.Lock()  # send() checks the bound in the caller's thread
        self._full = False        # latched from a refused send until the buffer empties
        self._connected = sock is not None
        self._closing = False     # ttsc__close: flush, then close
        self._eof = False         # the peer half-closed and the owner hears on_tcp_eof
        self.bytes_sent = 0       # bytes the kernel accepted
        self.bytes_received = 0
        self._owner_check_armed = False
        if sock is not None:
            sock.setblocking(False)
            self._sock = sock

    def ttse__on_start(self) -> None:
        if self._connected:
            self._tt_update_watch()

    @property
    def pending(self) -> int:
        """Bytes sent and not yet accepted by the kernel: buffered, or queued by ``send()``."""
        return len(self._out) + self._reserved

    @property
    def pending_receive_bytes(self) -> int:
        """Bytes handed to the owner as ``ttse__on_tcp_data`` that it has not handled yet."""
        return self._received.pending

    @property
    def receive_high_water(self) -> int:
        """The most ``pending_receive_bytes`` there ever were."""
        return self._received.high_water

    # -- sending -----------------------------------------------------------------------
    def _tt_check_chunk(self, data: Any, what: str) -> None:
        _check_bytes(data, what)
        if len(data) > self.max_buffer:
            raise ValueError(f"tasktonic: {len(data)} bytes can never fit the send buffer of "
                             f"{self.name!r} (max_buffer={self.max_buffer})")

    def send(self, data: bytes) -> bool:
        """Queue ``data`` if the send buffer bound allows it now, in the caller's thread.

        TypeError / ValueError at the call for bad data. Returns False when refused (the owner
        also hears ``ttse__on_tcp_buffer_full``, as for a refused ``ttsc__send``).
        """
        self._tt_check_chunk(data, "send()")
        data = bytes(data)
        if not self._tt_admit(data, queued=True):
            return False
        self._ttss__send_admitted(data)
        return True

    def ttsc__send(self, data: bytes) -> None:
        """Send ``data``: written as the socket allows; refused whole when the buffer is full."""
        self._tt_check_chunk(data, "ttsc__send")
        if self._tt_dropped_send(len(data)) or not data:
            return
        if self._tt_admit(data, queued=False) and self._connected:
            self._tt_flush()

    def _ttss__send_admitted(self, data: bytes) -> None:
        """A send admitted by ``send()``: its bytes move from the queued count to the buffer.

        A system sparkle: a bounded catalyst must not drop it (its bytes would stay counted);
        ``max_buffer`` bounds these orders already.
        """
        with self._send_lock:
            self._reserved -= len(data)
            if not self._tt_dropped_send(len(data)):
                self._out += data
        if self._connected:
            self._tt_flush()

    def _tt_dropped_send(self, size: int) -> bool:
        if self._closing or (self._sock is None and self._connected):
            _log.debug("tasktonic: send of %d bytes on %s dropped: the connection is closing "
                       "or closed", size, self.name)
            return True
        return False

    def _tt_admit(self, data: bytes, queued: bool) -> bool:
        """Check the bound for ``data``: count it as queued, or buffer it; False if refused."""
        with self._send_lock:
            pending = len(self._out) + self._reserved
            refused = self._full or pending + len(data) > self.max_buffer
            if refused:
                self._full = True
            elif queued:
                self._reserved += len(data)
            else:
                self._out += data
        if refused:
            self._tt_notify("ttse__on_tcp_buffer_full", self, pending)
        return not refused

    def ttsc__close(self) -> None:
        """Send what is buffered, then close (the owner hears on_tcp_closed with None).

        On a client that is not connected yet this abandons the connect: the socket closes,
        buffered bytes are discarded and the owner hears nothing more.
        """
        if self._closing:
            return
        self._closing = True
        if not self._connected:
            self._tt_close_socket()
            self.finish()
            return
        self._tt_flush()

    def _tt_flush(self) -> None:
        """Write as much as the kernel takes now; watch for writability while bytes remain."""
        sock = self._sock
        out = self._out
        try:
            while out and sock is not None:
                sent = sock.send(out)
                if sent <= 0:
                    break
                with self._send_lock:
                    del out[:sent]
                self.bytes_sent += sent
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            self._tt_lost(exc)
            return
        if not out:
            if self._full and not self._reserved:
                self._full = False
                self._tt_notify("ttse__on_tcp_drained", self)
            if self._closing:
                self._tt_lost(None, shutdown=True)
                return
        self._tt_update_watch()

    def _tt_update_watch(self) -> None:
        reading = not (self._closing or self._eof or self._received.paused)
        mask = EVENT_READ if reading else 0
        if self._out:
            mask |= EVENT_WRITE
        self._tt_watch(mask)

    # -- receiving ---------------------------------------------------------------------
    def tts__ready(self, sock: _Socket, events: int) -> None:
        if sock is not self._sock:
            return  # stale readiness for a socket we have closed
        if events & EVENT_WRITE:
            self._tt_flush()
            if self._sock is None:
                return
        if events & EVENT_READ and not (self._closing or self._eof):
            self._tt_read()

    def _tt_read(self) -> None:
        sock = self._sock
        received = self._received
        for _ in range(_BURST):
            if received.paused:  # the owner has the whole budget still to handle
                self._tt_update_watch()
                if not self._owner_check_armed:
                    self._owner_check_armed = True
                    ttTimerSingleShot(OWNER_CHECK_S, sparkle_back=self.tts__check_owner)
                return
            try:
                data = sock.recv(_RECV_SIZE)  # type: ignore[union-attr]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._tt_lost(exc)
                return
            if not data:
                self._tt_peer_done()
                return
            self.bytes_received += len(data)
            sparkle = self._tt_owner_sparkle("ttse__on_tcp_data")
            if sparkle is not None:
                received.deliver(self.owner, sparkle, self, data, size=len(data))

    def tts__check_owner(self, info: Any = None) -> None:
        """Paused for an owner's pending bytes: if it has finished, they will never be
        handled; forgive them and read on (its data is dropped from now on)."""
        self._owner_check_armed = False
        if not self._received.paused:
            return
        if self.owner is None or self.owner.finished:
            self._received.forgive()
        else:
            self._owner_check_armed = True
            ttTimerSingleShot(OWNER_CHECK_S, sparkle_back=self.tts__check_owner)

    def _ttss__resume_reading(self) -> None:
        """The owner has handled enough of the received bytes: read again."""
        if self._sock is not None and self._connected:
            self._tt_update_watch()

    def _tt_peer_done(self) -> None:
        """End of the peer's stream: half-close for an owner that listens, else closed."""
        sparkle = self._tt_owner_sparkle("ttse__on_tcp_eof")
        if sparkle is None:
            self._tt_lost(None)
            return
        self._eof = True
        self._tt_update_watch()
        sparkle(self)

    def _tt_lost(self, reason: OSError | None, shutdown: bool = False) -> None:
        """The connection is over: close, tell the owner once, finish."""
        sock = self._sock
        if sock is None:
            return
        if shutdown:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._tt_close_socket()
        self._out.clear()
        self._tt_notify("ttse__on_tcp_closed", self, reason)
        self.finish()


class ttTcpClient(ttTcpConnection):
    """A TCP connection that connects itself: ``ttTcpClient(host, port, catalyst=sel)``.

    The connect is non-blocking (``connect_ex`` and a wait for writability, then ``SO_ERROR``).
    Host names are resolved with ``getaddrinfo`` on the catalyst thread, which may block for a
    DNS name; pass an IP address to avoid that. Sends before the connect are buffered.
    ``connect_timeout`` (seconds, None: the kernel's own, minutes) abandons a connect that
    takes longer, reported like a refused one (``ttse__on_tcp_error``, ETIMEDOUT, host:port).
    """

    def __init__(self, host: str, port: int, owner: Any = None,
                 connect_timeout: float | None = None, **kwargs: Any) -> None:
        self.host = _check_host(host)
        self.port = _check_port(port, allow_zero=False)
        if connect_timeout is not None and (
                isinstance(connect_timeout, bool)
                or not isinstance(connect_timeout, (int, float)) or not connect_timeout > 0):
            raise ValueError(f"tasktonic: connect_timeout of the client to {host}:{port} must "
                             f"be None or seconds > 0, got {connect_timeout!r}")
        self.connect_timeout = connect_timeout
        self._connect_timer: ttTimerSingleShot | None = None
        super().__init__(None, owner=owner, **kwargs)

    def ttse__on_start(self) -> None:
        try:
            family, type_, proto, _, address = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(family, type_, proto)
        except OSError as exc:
            self._tt_connect_failed(exc)
            return
        sock.setblocking(False)
        self._sock = sock
        err = sock.connect_ex(address)
        if err in (0, errno.EISCONN):
            self._tt_connected()
        elif err in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY, errno.EINTR):
            self._tt_watch(EVENT_WRITE)
            if self.connect_timeout is not None:
                self._connect_timer = ttTimerSingleShot(
                    self.connect_timeout, sparkle_back=self.tts__connect_timed_out)
        else:
            self._tt_connect_failed(OSError(err, os.strerror(err)))

    def tts__connect_timed_out(self, info: Any = None) -> None:
        if not self._connected and self._sock is not None:
            self._tt_connect_failed(OSError(errno.ETIMEDOUT, f"connect timed out after "
                                                             f"{self.connect_timeout} s"))

    def tts__ready(self, sock: _Socket, events: int) -> None:
        if sock is not self._sock:
            return
        if self._connected:
            super().tts__ready(sock, events)
            return
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._tt_connect_failed(OSError(err, os.strerror(err)))
        else:
            self._tt_connected()

    def _tt_stop_connect_timer(self) -> None:
        timer, self._connect_timer = self._connect_timer, None
        if timer is not None:
            timer.stop()

    def _tt_connected(self) -> None:
        self._tt_stop_connect_timer()
        self._connected = True
        self._tt_notify("ttse__on_tcp_connected", self)
        if self._out:       # sends issued while connecting
            self._tt_flush()
        else:
            self._tt_update_watch()

    def _tt_connect_failed(self, exc: OSError) -> None:
        self._tt_stop_connect_timer()
        error = OSError(exc.errno, f"tasktonic: cannot connect to {self.host}:{self.port}: "
                                   f"{exc.strerror or exc}")
        self._tt_close_socket()
        self._out.clear()
        self._tt_notify("ttse__on_tcp_error", self, error)
        self.finish()


class ttTcpServer(_ttNetTonic):
    """A listening socket: ``ttTcpServer(host='127.0.0.1', port=0, catalyst=sel)``.

    It binds in the constructor, in the caller's thread, so ``.port`` is known at once and a bind
    failure raises there (an OSError naming host:port). Each accepted client becomes a
    ttTcpConnection (an infusion of the server, owner = the server's owner, ``max_buffer`` and
    ``receive_budget`` as given here) and the owner hears ``ttse__on_tcp_accepted(server, conn)``
    before any of its data.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, owner: Any = None,
                 backlog: int = 128, max_buffer: int = DEFAULT_MAX_BUFFER,
                 receive_budget: int = DEFAULT_RECEIVE_BUDGET, **kwargs: Any) -> None:
        _check_host(host)
        _check_port(port, allow_zero=True)
        _check_max_buffer(max_buffer)
        super().__init__(owner=owner, **kwargs)
        self.host = host
        self.max_buffer = max_buffer
        self.receive_budget = check_budget(receive_budget, repr(self.name))
        self.connections_accepted = 0
        sock = _bind(self, host, port, socket.SOCK_STREAM, "listen on")
        try:
            sock.listen(backlog)
        except OSError as exc:
            raise _named(exc, "listen on", host, port) from exc
        sock.setblocking(False)
        self._port: int = sock.getsockname()[1]

    @property
    def port(self) -> int:
        """The bound port (the one the OS chose when ``port=0``)."""
        return self._port

    def ttse__on_start(self) -> None:
        self._tt_watch(EVENT_READ)

    def ttsc__close(self) -> None:
        """Stop listening and close every accepted connection (same as ``finish()``)."""
        self.finish()

    def tts__ready(self, sock: _Socket, events: int) -> None:
        if sock is not self._sock or not self._mask:
            return  # closed, or paused: readiness a busy loop polled before the pause
        for _ in range(_BURST):
            try:
                client, _addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._tt_accept_failed(exc)
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = ttTcpConnection(client, owner=self.owner, max_buffer=self.max_buffer,
                                   receive_budget=self.receive_budget, catalyst=self.catalyst)
            self.connections_accepted += 1
            self._tt_notify("ttse__on_tcp_accepted", self, conn)

    def _tt_accept_failed(self, exc: OSError) -> None:
        """Tell the owner; out of descriptors, pause listening instead of spinning on it."""
        if exc.errno in _OUT_OF_FDS:
            self._tt_watch(0)
            ttTimerSingleShot(ACCEPT_PAUSE_S, sparkle_back=self.tts__resume_accepting)
        self._tt_notify("ttse__on_tcp_error", self,
                        _named(exc, "accept on", self.host, self._port))

    def tts__resume_accepting(self, info: Any = None) -> None:
        self._tt_watch(EVENT_READ)


class ttUdpSocket(_ttNetTonic):
    """A bound UDP socket: ``ttUdpSocket(host='127.0.0.1', port=0, catalyst=sel)``.

    Binds in the constructor (``.port``, ``.address``). Datagrams go to the owner as
    ``ttse__on_udp_data(sock, data, addr)``. UDP is lossy by nature, so a datagram the kernel
    will not take right now (EAGAIN) is not queued: it is reported, like any send error, as
    ``ttse__on_udp_error(sock, error, addr)``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, owner: Any = None,
                 **kwargs: Any) -> None:
        _check_host(host)
        _check_port(port, allow_zero=True)
        super().__init__(owner=owner, **kwargs)
        sock = _bind(self, host, port, socket.SOCK_DGRAM, "bind UDP")
        sock.setblocking(False)
        self.address = sock.getsockname()
        self._port: int = self.address[1]

    @property
    def port(self) -> int:
        return self._port

    def ttse__on_start(self) -> None:
        self._tt_watch(EVENT_READ)

    @staticmethod
    def _tt_check_datagram(data: Any, addr: Any) -> None:
        _check_bytes(data, "send_to()")
        if len(data) > MAX_UDP_PAYLOAD:
            raise ValueError(f"tasktonic: a UDP datagram holds at most {MAX_UDP_PAYLOAD} "
                             f"bytes, got {len(data)}")
        if (not isinstance(addr, tuple) or len(addr) < 2 or not isinstance(addr[0], str)
                or isinstance(addr[1], bool) or not isinstance(addr[1], int)):
            raise TypeError(f"tasktonic: addr must be a (host, port) tuple, got {addr!r}")
        _check_port(addr[1], allow_zero=False)

    def send_to(self, data: bytes, addr: tuple) -> None:
        """Validate in the caller's thread (TypeError/ValueError at the call), then queue."""
        self._tt_check_datagram(data, addr)
        self.ttsc__send_to(bytes(data), tuple(addr))

    def ttsc__send_to(self, data: bytes, addr: tuple) -> None:
        """Send one datagram; any failure (also a bad argument) is ``ttse__on_udp_error``."""
        try:
            self._tt_check_datagram(data, addr)
        except (TypeError, ValueError) as exc:
            self._tt_notify("ttse__on_udp_error", self, exc, addr)
            return
        sock = self._sock
        if sock is None:
            _log.debug("tasktonic: datagram to %r dropped: %s is closed", addr, self.name)
            return
        try:
            sock.sendto(data, addr)
        except OSError as exc:
            self._tt_notify("ttse__on_udp_error", self, exc, addr)

    def ttsc__close(self) -> None:
        """Close the socket and finish (same as ``finish()``)."""
        self.finish()

    def tts__ready(self, sock: _Socket, events: int) -> None:
        if sock is not self._sock:
            return
        for _ in range(_BURST):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ECONNREFUSED from an earlier ICMP error
                self._tt_notify("ttse__on_udp_error", self, exc, None)
                return
            self._tt_notify("ttse__on_udp_data", self, data, addr)
