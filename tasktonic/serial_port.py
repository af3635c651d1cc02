"""ttSerialPort: a serial port (any pyserial URL) as a per-port service on its own catalyst.

Why a service: a serial line has exactly one owner on the OS side, and two tonics writing to it
must not interleave their frames. Every ``ttsc__write(frame)`` runs whole on the port's own
catalyst, one after the other, so frames from different writers never mix.

Why one service *per port*: the framework finds a service by the class attribute
``_tt_is_service``, which is one name per class. ``ttSerialPort("loop://")`` and
``ttSerialPort("/dev/ttyUSB0")`` must be two services, so the metaclass below turns each port
into a small cached subclass (``ttSerialPort[/dev/ttyUSB0]``) whose ``_tt_is_service`` is
``"serial:<port>"``, and then lets the ordinary service machinery run on that subclass. Nothing
in the framework is special-cased: the ledger registers, finds and forgets the port under that
name like any other service, and ``isinstance(port, ttSerialPort)`` still holds. The name
depends on the port only (not on the class), so a subclass of ttSerialPort and ttSerialPort
itself opening the same device still share one owner (the first opener's class wins).

Why a reader thread: pyserial has no portable "wake me when readable" that also works for
``loop://`` and ``socket://``, and a catalyst must never block in ``read``. A small daemon
thread per open port reads with a short timeout and hands received bytes to the port's catalyst
as ``tts__received`` sparkles; framing and delivery then run on the catalyst, so the framer
needs no lock. Writes never wait for the reader.

Back-pressure: the reader stops reading (the OS buffer, then flow control if enabled, holds
the rest) while ``receive_budget`` bytes are pending: handed to the port and not framed yet,
or delivered to subscriber sparkles and not handled yet (``pending_receive_bytes``, see
``tasktonic.receive_budget``). Frame sizes are bounded by ``max_frame`` (64 KiB by default): a
longer frame is discarded (with a line framer up to its next terminator, with a custom framer
the buffered bytes) and reported once to the subscribers as
``ttse__on_serial_error(port_name, error)`` (a ``ttSerialFrameError`` naming the port). A
framer that raises is reported the same way; its buffered bytes are dropped and framing goes
on with the next bytes.

Delivery: frames go to the subscribers present when they are framed; frames framed while
nobody is subscribed are dropped (a subscriber that must not miss the first frame waits for
``ttse__on_serial_subscribed(port_name)`` before its peer starts talking). A partial frame in the
buffer is dropped when the port closes: a later connection cannot complete it.

Lifecycle: like every service, the port lives while the tonics that accessed it after its
creation use it (the first creator is not a service base); create it in
``creating_starting_tonics`` to keep it for the whole application. When the port catalyst
finishes it stops the reader, drains pending output and closes the port.

Faults: the first open happens in the constructor, in the caller's thread, and a failure raises
``ttSerialOpenError`` naming the port and the OS error (a synchronous error is the clearest
answer to "this device does not exist"; pass ``retry_first_open=True`` to wait for a device
instead). A port that fails later (read raises, EOF from a closed pty peer, a write hitting a
gone device) is closed, subscribers get ``ttse__on_serial_closed(port_name, reason)``, and the
port retries opening on a doubling back-off; on success they get
``ttse__on_serial_reopened(port_name)``. A write that fails is reported with
``ttse__on_serial_write_failed(port_name, frame, error)`` and is not counted in ``bytes_sent``.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any, cast

import serial  # pyserial

from .catalyst import ttCatalyst
from .errors import ttError
from .essence import Phase, _EssenceMeta
from .ledger import ttLedger
from .receive_budget import DEFAULT_RECEIVE_BUDGET, ReceiveBudget, check_budget
from .timers import ttTimerSingleShot

__all__ = ["ttSerialPort", "ttSerialOpenError", "ttSerialFrameError", "line_framer",
           "fixed_framer", "raw_framer", "DEFAULT_MAX_FRAME"]

_log = logging.getLogger("tasktonic")

Framer = Callable[[bytearray], list]
_EVENTS = ("closed", "reopened", "write_failed", "subscribed", "error")
#: Default bound of one frame, in bytes.
DEFAULT_MAX_FRAME = 64 * 1024


class ttSerialOpenError(ttError, OSError):
    """A serial port could not be opened; ``port`` and ``os_error`` say which and why."""

    def __init__(self, port: str, os_error: BaseException) -> None:
        self.port = port
        self.os_error = os_error
        super().__init__(f"tasktonic: cannot open serial port {port!r}: {os_error}")


class ttSerialFrameError(ttError):
    """Received bytes could not be framed (too long, or the framer raised); ``port`` says where.

    A framer's own exception is the ``__cause__``. Made for one report and never changed, it
    crosses threads by reference (a copy would lose the cause).
    """

    _tt_by_reference = True

    def __init__(self, port: str, message: str) -> None:
        self.port = port
        super().__init__(f"tasktonic: serial port {port!r}: {message}")


# -- framers ------------------------------------------------------------------------------
# A framer removes every complete frame from the front of the buffer and returns them in order;
# an incomplete tail stays in the buffer for the next call.

def raw_framer(buffer: bytearray) -> list[bytes]:
    """Every chunk of received bytes is one frame (no message boundaries)."""
    if not buffer:
        return []
    frame = bytes(buffer)
    del buffer[:]
    return [frame]


def line_framer(terminator: bytes = b"\n", keep_terminator: bool = False) -> Framer:
    """Frames end with ``terminator``; the terminator is stripped unless ``keep_terminator``."""
    if not terminator:
        raise ValueError("tasktonic: a line terminator must not be empty")
    size = len(terminator)

    def framer(buffer: bytearray) -> list[bytes]:
        frames = []
        start = 0
        while True:
            end = buffer.find(terminator, start)
            if end < 0:
                break
            frames.append(bytes(buffer[start:end + size if keep_terminator else end]))
            start = end + size
        if start:
            del buffer[:start]
        return frames

    return framer


def fixed_framer(length: int) -> Framer:
    """Frames of exactly ``length`` bytes (binary records, fixed telegrams)."""
    if length <= 0:
        raise ValueError("tasktonic: a fixed frame length must be positive")

    def framer(buffer: bytearray) -> list[bytes]:
        count = len(buffer) // length
        if not count:
            return []
        frames = [bytes(buffer[i * length:(i + 1) * length]) for i in range(count)]
        del buffer[:count * length]
        return frames

    return framer


def _make_framer(framing: str | Framer, terminator: bytes, frame_length: int | None,
                 keep_terminator: bool) -> Framer:
    if callable(framing):
        return framing
    if framing == "raw":
        return raw_framer
    if framing == "line":
        return line_framer(terminator, keep_terminator)
    if framing == "fixed":
        if frame_length is None:
            raise ValueError("tasktonic: framing='fixed' needs frame_length=")
        return fixed_framer(frame_length)
    raise ValueError(f"tasktonic: framing must be 'raw', 'line', 'fixed' or a callable, "
                     f"got {framing!r}")


def _service_key(port: str) -> str:
    """The service name of a port: device paths are resolved, so a symlink shares the owner."""
    if "://" not in port and os.path.exists(port):
        port = os.path.realpath(port)
    return f"serial:{port}"


class _PerPortServiceMeta(_EssenceMeta):  # the metaclass of ttCatalyst (of every essence)
    """Routes ``ttSerialPort(port, ...)`` to the service of that port (see the module doc)."""

    def __call__(cls, port: str, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(port, str) or not port:
            raise TypeError(f"tasktonic: the serial port must be a non-empty str, got {port!r}")
        if cls.__dict__.get("_tt_port_key") is not None:
            # a per-port class called directly: route by the port again (its base is the
            # class ttSerialPort or a subclass of it, so of this metaclass too)
            cls = cast(_PerPortServiceMeta, cls.__bases__[0])
        key = _service_key(port)
        _check_same_options(key, port, kwargs)
        with _classes_lock:
            cache = cls.__dict__.get("_tt_port_classes")
            if cache is None:
                cache = {}
                # one small class per port, kept (setattr: not a declared attribute of cls)
                setattr(cls, "_tt_port_classes", cache)  # noqa: B010
            per_port: _PerPortServiceMeta | None = cache.get(key)
            if per_port is None:
                per_port = type(cls)(f"{cls.__name__}[{port}]", (cls,),
                                     {"_tt_is_service": key, "_tt_port_key": key,
                                      "__module__": cls.__module__,
                                      "__doc__": f"{cls.__name__} service of {port!r}."})
                cache[key] = per_port
        return super(_PerPortServiceMeta, per_port).__call__(port, *args, **kwargs)


_classes_lock = threading.Lock()


def _check_same_options(key: str, port: str, kwargs: dict) -> None:
    """A later opener asking for other settings gets an error, not a silently ignored wish."""
    existing = ttLedger().get_service_by_name(key)
    if existing is None or existing.phase >= Phase.FINISHING:
        return
    options = getattr(existing, "open_options", {})
    differ = sorted(k for k in kwargs if k in options and options[k] != kwargs[k])
    if differ:
        wanted = ", ".join(f"{k}={kwargs[k]!r} (open: {options[k]!r})" for k in differ)
        raise ValueError(f"tasktonic: serial port {port!r} is already open with other "
                         f"settings: {wanted}")


class ttSerialPort(ttCatalyst, metaclass=_PerPortServiceMeta):
    """One serial port (device path or pyserial URL), shared by every tonic that opens it.

    ``ttSerialPort(port, baudrate=..., framing='line', ...)``: the settings of the first opener
    win; later openers get the same instance. Subscribe with ``ttsc__subscribe(tonic)`` (events
    ``ttse__on_serial_data(port_name, frame)``, ``..._closed``, ``..._reopened``,
    ``..._write_failed``) or ``ttsc__subscribe(callback)`` for the data only; write with
    ``ttsc__write(frame)``. Errors in received bytes (a frame over ``max_frame``, a framer that
    raised) come as ``ttse__on_serial_error(port_name, error)``.
    """

    _tt_is_service = "serial"  # truthy: a service; each port gets its own name (see above)
    _tt_port_key: str | None = None
    _tt_states = ("open", "closed")

    def __init__(self, port: str, baudrate: int = 9600, bytesize: int = serial.EIGHTBITS,
                 parity: str = serial.PARITY_NONE, stopbits: float = serial.STOPBITS_ONE,
                 timeout: float = 0.05, write_timeout: float | None = None,
                 rtscts: bool = False, xonxoff: bool = False, dsrdtr: bool = False,
                 framing: str | Framer = "raw", terminator: bytes = b"\n",
                 frame_length: int | None = None, keep_terminator: bool = False,
                 reconnect: bool = True, reconnect_delay: float = 0.05,
                 reconnect_max_delay: float = 2.0, retry_first_open: bool = False,
                 read_size: int = 4096, max_frame: int = DEFAULT_MAX_FRAME,
                 receive_budget: int = DEFAULT_RECEIVE_BUDGET, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if timeout is None or timeout <= 0:
            # the reader must wake up now and then to notice that the port is finishing
            raise ValueError("tasktonic: a serial port's read timeout must be > 0 "
                             f"(it is the reader's poll period), got {timeout!r}")
        if isinstance(max_frame, bool) or not isinstance(max_frame, int) or max_frame <= 0:
            raise ValueError(f"tasktonic: max_frame of serial port {port!r} must be an int > 0, "
                             f"got {max_frame!r}")
        if framing == "fixed" and frame_length is not None and frame_length > max_frame:
            raise ValueError(f"tasktonic: frame_length {frame_length} of serial port {port!r} "
                             f"is over max_frame={max_frame}")
        self.port_name = port
        self.settings: dict[str, Any] = dict(baudrate=baudrate, bytesize=bytesize, parity=parity,
                             stopbits=stopbits, timeout=timeout, write_timeout=write_timeout,
                             rtscts=rtscts, xonxoff=xonxoff, dsrdtr=dsrdtr)
        self.open_options = dict(self.settings, framing=framing, terminator=terminator,
                                 frame_length=frame_length, keep_terminator=keep_terminator,
                                 max_frame=max_frame, receive_budget=receive_budget)
        self.framer = _make_framer(framing, terminator, frame_length, keep_terminator)
        self.max_frame = max_frame
        # the line framer's terminator: discarding a long frame goes on up to the next one
        self._terminator = terminator if framing == "line" else None
        self._skipping = False
        self._received = ReceiveBudget(check_budget(receive_budget, f"serial port {port!r}"))
        self.reconnect = reconnect
        self.reconnect_delay = reconnect_delay
        self.reconnect_max_delay = reconnect_max_delay
        self.read_size = read_size
        self.bytes_sent = 0
        self.bytes_received = 0
        self.reopen_count = 0
        self._buffer = bytearray()
        self._subscribers: list[tuple[Any, Callable | None]] = []
        self._serial: Any = None
        self._reader: threading.Thread | None = None
        self._stop_reader = threading.Event()
        self._generation = 0
        self._delay = reconnect_delay
        self._retry_timer: Any = None
        try:
            self._serial = self._open()
        except ttSerialOpenError:
            if not retry_first_open:
                raise

    # -- opening and the reader ------------------------------------------------------------
    def _open(self) -> Any:
        try:
            return serial.serial_for_url(self.port_name, **self.settings)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ttSerialOpenError(self.port_name, exc) from exc

    def _start_reader(self) -> None:
        self._generation += 1
        self._stop_reader = threading.Event()
        self._reader = threading.Thread(
            target=self._read_loop, args=(self._serial, self._stop_reader, self._generation),
            name=f"tasktonic:serial-reader:{self.port_name}", daemon=True)
        self._reader.start()

    def _read_loop(self, ser: Any, stop: threading.Event, generation: int) -> None:
        """Reader thread: poll with the short read timeout, hand bytes to the catalyst."""
        size = self.read_size
        budget = self._received
        timeout = self.settings["timeout"]
        while not stop.is_set():
            if not budget.wait_open(timeout):  # paused: the owners have enough to handle
                continue
            try:
                waiting = ser.in_waiting
                data = ser.read(min(max(waiting, 1), size) if waiting else 1)
                if waiting == 0 and data:  # got the first byte: take what followed it too
                    more = ser.in_waiting
                    if more:
                        data += ser.read(min(more, size))
            except Exception as exc:  # SerialException, OSError: the port is gone
                if not stop.is_set():
                    self.tts__reader_failed(generation, f"{type(exc).__name__}: {exc}")
                return
            if data:
                budget.deliver(self, self.tts__received, generation, data, size=len(data))

    def _stop_reading(self) -> None:
        """Stop and join the reader (at most one read timeout), so we may close the port."""
        self._stop_reader.set()
        reader = self._reader
        self._reader = None
        if reader is not None and reader is not threading.current_thread():
            reader.join(self.settings["timeout"] + 1.0)

    def _close(self) -> None:
        self._stop_reading()
        ser, self._serial = self._serial, None
        self._buffer.clear()  # a partial frame cannot be completed by a later connection
        self._skipping = False
        if ser is not None:
            try:
                ser.close()
            except Exception:
                pass

    # -- sparkles on the port's catalyst ---------------------------------------------------
    def ttse__on_start(self) -> None:
        """First sparkle on the port's own thread: start reading, or start retrying."""
        if self._serial is not None:
            self._start_reader()
            self.to_state("open")
        else:
            self.to_state("closed")
            self._schedule_reopen()

    @property
    def pending_receive_bytes(self) -> int:
        """Bytes read and not yet framed, plus frames delivered and not yet handled."""
        return self._received.pending

    @property
    def receive_high_water(self) -> int:
        """The most ``pending_receive_bytes`` there ever were."""
        return self._received.high_water

    def tts__received(self, generation: int, data: bytes) -> None:
        if generation != self._generation:
            return  # bytes from a connection we already abandoned
        self.bytes_received += len(data)
        for frame in self._frames(data):
            for _owner, callback in list(self._subscribers):
                if callback is None:  # a tonic that only wants the fault events
                    continue
                if getattr(callback, "_tt_sparkle_method", False):
                    owner = cast(Any, callback).__self__  # a bound sparkle method's tonic
                    self._received.deliver(owner, callback, self.port_name, frame,
                                           size=len(frame))
                else:
                    callback(self.port_name, frame)

    def _frames(self, data: bytes) -> list[bytes]:
        """Add ``data`` to the buffer and take the complete frames of at most ``max_frame``."""
        buffer = self._buffer
        buffer += data
        if self._skipping and not self._skip_to_terminator():
            return []
        try:
            frames = self.framer(buffer)
        except Exception as exc:
            buffer.clear()
            self._frame_error(f"the framer raised {type(exc).__name__}: {exc}; its "
                              "buffered bytes are dropped", exc)
            return []
        for frame in frames:
            if len(frame) > self.max_frame:  # one report per discarded frame
                self._frame_error(f"a frame of {len(frame)} bytes, over "
                                  f"max_frame={self.max_frame}, was discarded")
        frames = [frame for frame in frames if len(frame) <= self.max_frame]
        if len(buffer) > self.max_frame:
            self._frame_error(f"a frame longer than max_frame={self.max_frame} bytes is "
                              "discarded" + (" up to its terminator" if self._terminator else ""))
            if self._terminator is None:
                buffer.clear()
            else:
                self._skipping = True
                self._skip_to_terminator()
        return frames

    def _skip_to_terminator(self) -> bool:
        """Drop the buffer up to and with the next terminator; False while none has come."""
        buffer = self._buffer
        terminator = cast(bytes, self._terminator)
        end = buffer.find(terminator)
        if end < 0:  # keep what may be the start of a terminator cut in two
            del buffer[:max(0, len(buffer) - len(terminator) + 1)]
            return False
        del buffer[:end + len(terminator)]
        self._skipping = False
        return True

    def _frame_error(self, message: str, cause: Exception | None = None) -> None:
        error = ttSerialFrameError(self.port_name, f"{message} (tonic {self.name!r})")
        error.__cause__ = cause
        _log.warning("%s", error)
        self._notify("ttse__on_serial_error", error)

    def tts__reader_failed(self, generation: int, reason: str) -> None:
        if generation == self._generation and self._serial is not None:
            self._fault(reason)

    def _fault(self, reason: str) -> None:
        self._close()
        self.to_state("closed")
        self._notify("ttse__on_serial_closed", reason)
        self._delay = self.reconnect_delay
        self._schedule_reopen()

    def _schedule_reopen(self) -> None:
        if self.reconnect and self.phase == Phase.ACTIVE:
            self._retry_timer = ttTimerSingleShot(self._delay, sparkle_back=self.tts__reopen)

    def tts__reopen(self, info: Any = None) -> None:
        self._retry_timer = None
        if self._serial is not None or self.phase != Phase.ACTIVE:
            return
        try:
            self._serial = self._open()
        except ttSerialOpenError:
            self._delay = min(self._delay * 2, self.reconnect_max_delay)
            self._schedule_reopen()
            return
        self.reopen_count += 1
        self._delay = self.reconnect_delay
        self._start_reader()
        self.to_state("open")
        self._notify("ttse__on_serial_reopened")

    def ttsc__write(self, frame: bytes, sender: Any = None) -> None:
        """Write one frame whole; a failure goes to ``sender`` (or every subscriber)."""
        data = bytes(frame)
        ser = self._serial
        if ser is None:
            self._write_failed(data, sender, "port is closed")
            return
        try:
            ser.write(data)
        except serial.SerialTimeoutException as exc:
            self._write_failed(data, sender, f"write timeout: {exc}")
        except Exception as exc:
            self._write_failed(data, sender, f"{type(exc).__name__}: {exc}")
            self._fault(f"write failed: {type(exc).__name__}: {exc}")
        else:
            self.bytes_sent += len(data)

    def _write_failed(self, data: bytes, sender: Any, error: str) -> None:
        if sender is not None:
            handler = getattr(sender, "ttse__on_serial_write_failed", None)
            if handler is not None:
                handler(self.port_name, data, error)
                return
        self._notify("ttse__on_serial_write_failed", data, error)

    def ttsc__subscribe(self, subscriber: Any) -> None:
        """A tonic (its ``ttse__on_serial_data`` and fault events) or a data callback."""
        if callable(subscriber) and not hasattr(subscriber, "catalyst"):
            owner = getattr(subscriber, "__self__", None)
            callback = subscriber
        else:
            owner = subscriber
            callback = getattr(subscriber, "ttse__on_serial_data", None)
            if callback is None and not any(hasattr(subscriber, f"ttse__on_serial_{e}")
                                            for e in _EVENTS):
                raise TypeError(f"tasktonic: {subscriber!r} has no ttse__on_serial_data nor "
                                "any ttse__on_serial_* event; pass a callback instead")
        self._subscribers.append((owner, callback))
        # tells the subscriber that from now on no frame passes it by (tests, handshakes)
        confirm = getattr(owner, "ttse__on_serial_subscribed", None)
        if confirm is not None:
            confirm(self.port_name)

    def ttsc__unsubscribe(self, subscriber: Any) -> None:
        self._subscribers = [(o, c) for o, c in self._subscribers
                             if o is not subscriber and c != subscriber]

    def ttse__on_service_base_completed(self, base: Any) -> None:
        self.ttsc__unsubscribe(base)

    def _notify(self, event: str, *args: Any) -> None:
        seen: set[int] = set()
        for owner, _callback in list(self._subscribers):
            if owner is None or id(owner) in seen:
                continue
            seen.add(id(owner))
            handler = getattr(owner, event, None)
            if handler is not None:
                handler(self.port_name, *args)

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    # -- finishing -------------------------------------------------------------------------
    def ttse__on_finished(self) -> None:
        """Stop the reader and close the port.

        No ``flush()`` first: on a pty whose peer is not reading, tcdrain would block this
        thread forever; what was written is already in the kernel's buffer.
        """
        self._close()
