"""Log modes and loggers.

Each essence has a log mode: STEALTH (nothing), OFF (lifecycle only), QUIET (lifecycle and
``self.log()``), FULL (also every sparkle run and state change). Records go to the one sink the
formula chose with ``tasktonic/log/to``: ``'screen'``, ``'off'``, or an object with
``put_log(record)``. With the sink off or the mode too low, no record is ever built, and with
no FULL tonic on a catalyst its loop does no trace work at all.

Errors from sparkles are not log-mode dependent: they go to the standard ``logging`` logger
``"tasktonic"`` (see ``errors``), so they are never silenced by STEALTH.
"""
from __future__ import annotations

import enum
import logging
import sys
import threading
import time
from typing import Any, NamedTuple, TextIO

__all__ = ["ttLog", "LogRecord", "ttScreenLogger", "ttListLogger", "set_sink", "get_sink",
           "emit", "trace_sparkle"]


class ttLog(enum.IntEnum):
    """How much an essence logs."""

    STEALTH = 0
    OFF = 1
    QUIET = 2
    FULL = 3

    @classmethod
    def from_any(cls, value: Any) -> ttLog:
        """Convert a ttLog, its name (any case) or its number; raise on anything else."""
        if isinstance(value, cls):
            return value
        if isinstance(value, bool):
            raise TypeError(f"tasktonic: log mode must be a ttLog, str or int, got {value!r}")
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                raise ValueError(f"tasktonic: unknown log mode {value!r}; valid: "
                                 f"{', '.join(m.name for m in cls)}") from None
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(f"tasktonic: unknown log mode {value!r}; valid: "
                                 f"{', '.join(m.name for m in cls)}") from None
        raise TypeError(f"tasktonic: log mode must be a ttLog, str or int, got "
                        f"{type(value).__name__}")


class LogRecord(NamedTuple):
    """One log line: when, who, what kind (lifecycle, state, log, sparkle) and the text."""

    time: float
    tonic_id: int
    tonic_name: str
    kind: str
    text: str


class ttScreenLogger:
    """Writes records as lines to a stream (stdout by default), one line at a time."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def put_log(self, record: LogRecord) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.time))
        line = (f"{stamp}.{int(record.time % 1 * 1000):03d} "
                f"{record.tonic_id:3d} {record.tonic_name:<24} {record.kind:<9} {record.text}\n")
        with self._lock:
            (self.stream or sys.stdout).write(line)


class ttListLogger:
    """Keeps records in a list: for tests and for the distiller."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    def put_log(self, record: LogRecord) -> None:
        self.records.append(record)

    def texts(self, kind: str | None = None) -> list[str]:
        return [r.text for r in self.records if kind is None or r.kind == kind]


_sink: Any = None


def set_sink(to: Any) -> None:
    """Choose where records go: 'screen', 'off'/None, or an object with ``put_log``."""
    global _sink
    if to is None or to == "off":
        _sink = None
    elif to == "screen":
        _sink = ttScreenLogger()
    elif hasattr(to, "put_log"):
        _sink = to
    else:
        raise ValueError(f"tasktonic: 'tasktonic/log/to' must be 'screen', 'off' or an object "
                         f"with put_log(record), got {to!r}")


def get_sink() -> Any:
    return _sink


def emit(essence: Any, kind: str, text: str) -> None:
    """Send one record to the sink (callers check the essence's log mode first).

    A failing sink is reported on the ``tasktonic`` logger; it never breaks the caller.
    """
    sink = _sink
    if sink is not None:
        try:
            sink.put_log(LogRecord(time.time(), essence.id, essence.name, kind, text))
        except Exception as exc:
            logging.getLogger("tasktonic").error("tasktonic: log sink %r failed for %s",
                                                 sink, essence, exc_info=exc)


def _shown(value: Any) -> str:
    try:
        return repr(value)
    except Exception as exc:
        return f"<{type(value).__name__}: repr failed: {type(exc).__name__}>"


def trace_sparkle(tonic: Any, entry: Any, args: tuple, kwargs: dict) -> None:
    """The loop's tracer: logs a sparkle run for tonics in FULL mode."""
    if tonic.log_mode >= ttLog.FULL:
        shown = ", ".join([_shown(a) for a in args]
                          + [f"{k}={_shown(v)}" for k, v in kwargs.items()])
        emit(tonic, "sparkle", f"{entry.name}({shown})")
