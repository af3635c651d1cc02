"""``local_singleton``: one object for every process of this user, in a daemon started on use.

Why a lock around start-up: N processes that find no daemon at the same moment must end with
one. Each first tries the daemon named in the metadata; only when that fails does it take the
start-up lock, look again (another process may have started one meanwhile), clear what a dead
daemon left and start a new one, holding the lock until the new daemon has written its
metadata. The daemon is a separate process (``python -m tasktonic.local.daemon``) in its own
session, writing to ``daemon.log`` in the runtime directory.
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from . import wire
from .client import Connection
from .errors import ConnectionFailedError
from .runtime_dir import RuntimeFiles, pid_alive

__all__ = ["local_singleton", "LocalSingletonService", "Proxy"]

_POLL = 0.01
#: How long ``shutdown()`` waits at least for the daemon's process to end (a loaded machine).
_EXIT_WAIT = 10.0


class Proxy:
    """Forwards ``proxy.method(*args, **kwargs)`` to the one object and returns its result.

    A context manager: leaving the ``with`` block closes its connection. Dunder names are not
    forwarded; names starting with ``_`` are, and the daemon refuses them.
    """

    def __init__(self, connection: Connection) -> None:
        self._local_connection = connection

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return functools.partial(self._local_connection.call, name)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._local_connection.close()


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"tasktonic.local: {name} must be a number > 0, got {value!r}")
    return float(value)


class LocalSingletonService:
    """The handle of one machine-wide singleton (see ``local_singleton``)."""

    def __init__(self, name: str, factory: str, *, scope: str = "user", idle_ttl: float = 2.0,
                 serializer: str = "msgpack", connect_timeout: float = 0.5,
                 start_timeout: float = 3.0, max_frame: int = wire.DEFAULT_MAX_FRAME,
                 io_timeout: float = 5.0, factory_kwargs: dict[str, Any] | None = None) -> None:
        if scope != "user":
            raise ValueError(f"tasktonic.local: only scope='user' is supported, got {scope!r}")
        if not isinstance(factory, str) or factory.count(":") != 1:
            raise ValueError(f"tasktonic.local: factory must be 'module:attribute', "
                             f"got {factory!r}")
        if serializer not in wire.SERIALIZERS:
            raise ValueError(f"tasktonic.local: serializer must be one of {wire.SERIALIZERS}, "
                             f"got {serializer!r}")
        if serializer == "msgpack":
            wire.require_msgpack()
        if isinstance(max_frame, bool) or not isinstance(max_frame, int) or max_frame < 1024:
            raise ValueError(f"tasktonic.local: max_frame must be an int >= 1024, "
                             f"got {max_frame!r}")
        self.name = name
        self.factory = factory
        self.scope = scope
        self.serializer = serializer
        self.idle_ttl = _positive("idle_ttl", idle_ttl)
        self.connect_timeout = _positive("connect_timeout", connect_timeout)
        self.start_timeout = _positive("start_timeout", start_timeout)
        self.io_timeout = _positive("io_timeout", io_timeout)
        self.max_frame = max_frame
        # JSON on the daemon's command line: checked here, where a mistake can be reported
        self.factory_kwargs = json.dumps(factory_kwargs or {})
        self.files = RuntimeFiles.for_name(name)

    # -- the public API of the design document ---------------------------------------
    def proxy(self) -> Proxy:
        """A proxy on a new connection (the daemon is started if needed)."""
        return Proxy(self.connect())

    def ensure_started(self) -> None:
        """Start the daemon if needed and complete one handshake with it."""
        self.connect().close()

    def ping(self) -> dict[str, Any]:
        """The daemon's ``pid``, ``uptime`` (s), ``active`` clients (this one included),
        ``protocol`` version, ``name``, ``serializer`` and ``transport``."""
        connection = self.connect()
        try:
            info: dict[str, Any] = connection.request(["ping"])
        finally:
            connection.close()
        return info

    def shutdown(self) -> None:
        """Stop the daemon, wait until its process has gone, and remove its runtime files."""
        metadata = self.files.read_metadata()
        if metadata is not None and pid_alive(metadata["pid"]):
            connection = self._connect_running(metadata)
            try:
                connection.request(["shutdown"])
            finally:
                connection.close()
            wait = max(self.start_timeout, _EXIT_WAIT)
            deadline = time.monotonic() + wait
            while pid_alive(metadata["pid"]):
                if time.monotonic() > deadline:
                    raise ConnectionFailedError(f"tasktonic.local: daemon {metadata['pid']} "
                                                f"did not exit within {wait} s")
                time.sleep(_POLL)
        self.files.prepare()
        with self.files.start_lock():
            if self.files.read_metadata() == metadata:  # no new daemon started meanwhile
                self.files.remove_daemon_files()

    # -- connecting and starting -------------------------------------------------------
    def connect(self) -> Connection:
        """An authenticated connection to the daemon, started first when none answers."""
        self.files.prepare()
        connection = self._try_running()
        if connection is not None:
            return connection
        with self.files.start_lock():
            connection = self._try_running()
            if connection is not None:
                return connection
            metadata = self._start_daemon()
            return self._connect_running(metadata)

    def _try_running(self) -> Connection | None:
        metadata = self.files.read_metadata()
        if metadata is None or not pid_alive(metadata["pid"]):
            return None
        try:
            return self._connect_running(metadata)
        except ConnectionFailedError:
            return None

    def _connect_running(self, metadata: dict[str, Any]) -> Connection:
        token = self.files.read_token()
        if token is None:
            raise ConnectionFailedError(f"tasktonic.local: no token in {self.files.directory}")
        return Connection(metadata["address"], token, serializer=self.serializer,
                          max_frame=self.max_frame, timeout=self.connect_timeout)

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "tasktonic.local.daemon", "--name", self.name,
                "--factory", self.factory, "--serializer", self.serializer,
                "--idle-ttl", repr(self.idle_ttl), "--io-timeout", repr(self.io_timeout),
                "--max-frame", str(self.max_frame), "--factory-kwargs", self.factory_kwargs]

    def _start_daemon(self) -> dict[str, Any]:
        """Under the start-up lock: clear a dead daemon's files, start one, wait for its
        metadata. The factory is importable there as here: the daemon gets our ``sys.path``."""
        self.files.remove_daemon_files()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p or os.curdir) for p in sys.path)
        log_fd = os.open(self.files.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            process = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=log_fd,
                                       stderr=log_fd, env=env, start_new_session=True,
                                       close_fds=True)
        finally:
            os.close(log_fd)
        # reaped by us while we live (no zombie), by init once we have exited
        threading.Thread(target=process.wait, name="tasktonic-local-reaper", daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        while True:
            metadata = self.files.read_metadata()
            if metadata is not None and metadata["pid"] == process.pid:
                return metadata
            if process.poll() is not None or time.monotonic() > deadline:
                what = (f"exited with status {process.returncode}"
                        if process.returncode is not None
                        else f"did not start within {self.start_timeout} s")
                raise ConnectionFailedError(f"tasktonic.local: daemon {self.name!r} {what}; "
                                            f"its log ({self.files.log}):\n{self._log_tail()}")
            time.sleep(_POLL)

    def _log_tail(self, size: int = 2000) -> str:
        try:
            return self.files.log.read_bytes()[-size:].decode(errors="replace")
        except OSError:
            return "(no log)"


def local_singleton(name: str, factory: str, *, scope: str = "user", idle_ttl: float = 2.0,
                    serializer: str = "msgpack", connect_timeout: float = 0.5,
                    start_timeout: float = 3.0, max_frame: int = wire.DEFAULT_MAX_FRAME,
                    io_timeout: float = 5.0,
                    factory_kwargs: dict[str, Any] | None = None) -> LocalSingletonService:
    """The handle of the singleton ``name``, built by ``factory`` ("module:callable") in a
    daemon shared by this user's processes; nothing starts until the handle is used.

    ``max_frame`` caps every frame (bytes); ``io_timeout`` bounds how long the daemon waits for
    a handshake or the rest of a frame. ``serializer='pickle'`` must be asked for explicitly.
    ``factory_kwargs`` (JSON values) go to the factory when this handle starts the daemon.
    """
    return LocalSingletonService(name, factory, scope=scope, idle_ttl=idle_ttl,
                                 serializer=serializer, connect_timeout=connect_timeout,
                                 start_timeout=start_timeout, max_frame=max_frame,
                                 io_timeout=io_timeout, factory_kwargs=factory_kwargs)
