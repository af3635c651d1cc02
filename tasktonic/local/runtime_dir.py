"""Where a machine-wide singleton keeps its files: one private directory per user and name.

Why this matters for security: the token in this directory is what proves a client may talk to
the daemon, so the directory is the user's alone (0700, files 0600) and a directory someone else
owns or can read is refused rather than used. Metadata is JSON written to a temporary file and
renamed into place, so a reader sees the old file or the new one, never half of one; a file that
is missing, unreadable or not the expected JSON reads as "no daemon".

Layout of ``<root>/tasktonic-local/<name>/``: ``token`` (32 random bytes), ``daemon.json``
(pid, protocol, address), ``daemon.sock`` (the Unix socket), ``lock`` (the start-up lock, never
removed: removing a lock file others may hold would split them over two inodes) and
``daemon.log`` (the daemons' stdout and stderr).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RuntimeFiles", "runtime_root", "pid_alive", "TOKEN_BYTES"]

TOKEN_BYTES = 32
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def runtime_root() -> Path:
    """The per-user base directory: ``$XDG_RUNTIME_DIR``, ``%LOCALAPPDATA%`` on Windows, else a
    private directory of our own in the temporary directory."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "tasktonic-local"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", tempfile.gettempdir())) / "tasktonic-local"
    return Path(tempfile.gettempdir()) / f"tasktonic-local-{os.getuid()}"


def _private_dir(path: Path) -> None:
    """Create ``path`` (0700) and refuse one another user owns or others can enter."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name != "posix":
        return
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"tasktonic.local: {path} is not a directory owned by this user")
    if info.st_mode & 0o077:
        raise PermissionError(f"tasktonic.local: {path} is accessible to other users "
                              f"(mode {stat.filemode(info.st_mode)}); it must be 0700")


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process there
        import ctypes
        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # type: ignore[attr-defined]  # Windows only
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)  # type: ignore[attr-defined]  # Windows only
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # an orphan no init reaped yet is gone for our purposes
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    return fields[0] != "Z"


@dataclass(frozen=True)
class RuntimeFiles:
    """The files of one singleton ``name`` under ``root``."""

    name: str
    root: Path

    @classmethod
    def for_name(cls, name: str) -> RuntimeFiles:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"tasktonic.local: name must be 1-100 letters, digits, '.', '_' or "
                             f"'-', starting with a letter or digit; got {name!r}")
        return cls(name, runtime_root())

    @property
    def directory(self) -> Path:
        return self.root / self.name

    @property
    def token(self) -> Path:
        return self.directory / "token"

    @property
    def metadata(self) -> Path:
        return self.directory / "daemon.json"

    @property
    def socket(self) -> Path:
        return self.directory / "daemon.sock"

    @property
    def lock(self) -> Path:
        return self.directory / "lock"

    @property
    def log(self) -> Path:
        return self.directory / "daemon.log"

    def prepare(self) -> None:
        """Create the private directories (the root and the name's)."""
        _private_dir(self.root)
        _private_dir(self.directory)

    def write_private(self, path: Path, data: bytes) -> None:
        """Write ``data`` to ``path`` (0600) atomically: a temporary file, then a rename."""
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def new_token(self) -> bytes:
        token = secrets.token_bytes(TOKEN_BYTES)
        self.write_private(self.token, token)
        return token

    def read_token(self) -> bytes | None:
        try:
            token = self.token.read_bytes()
        except OSError:
            return None
        return token if len(token) == TOKEN_BYTES else None

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        self.write_private(self.metadata, json.dumps(metadata).encode())

    def read_metadata(self) -> dict[str, Any] | None:
        """The daemon's metadata, or None when missing, half-written or not ours."""
        try:
            data = json.loads(self.metadata.read_bytes())
        except (OSError, ValueError):
            return None
        if (not isinstance(data, dict) or not isinstance(data.get("pid"), int)
                or not isinstance(data.get("address"), (str, list))):
            return None
        return data

    def remove_daemon_files(self) -> None:
        """Remove what a daemon leaves behind (metadata first, so nobody connects meanwhile)."""
        for path in (self.metadata, self.socket, self.token):
            path.unlink(missing_ok=True)

    @contextmanager
    def start_lock(self) -> Iterator[None]:
        """Hold the start-up lock (``flock``; ``msvcrt.locking`` on Windows), blocking."""
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if sys.platform == "win32":
                import msvcrt
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
            else:
                import fcntl
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock
