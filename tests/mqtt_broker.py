"""A real mosquitto for the MQTT tests: its own config, a free loopback port, stopped by pid.

``broker`` (a pytest fixture, import it into a test module) starts ``mosquitto -c CONF`` with
``listener PORT 127.0.0.1`` and ``allow_anonymous true`` (``Broker(dir, extra=...)`` adds or
overrides config lines), waits until a TCP connect succeeds
(polling, no fixed sleep) and stops it at the end, also when the test fails. ``persistent_broker``
adds ``persistence true`` with the database in the test's temporary directory (and ``user root``
when the tests run as root: mosquitto drops to user ``mosquitto`` otherwise and then cannot
write there), and can be restarted on the same port with ``restart()``.

Without a mosquitto binary the MQTT tests skip, unless ``TASKTONIC_REQUIRE_MOSQUITTO`` is set
(CI installs mosquitto and sets it: a silently skipped suite cannot pass there).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Seconds a broker gets to accept connections (also after a restart).
START_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str:
    """The mosquitto executable, or skip (fail under TASKTONIC_REQUIRE_MOSQUITTO)."""
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)),
        None)
    if found is None:
        if os.environ.get("TASKTONIC_REQUIRE_MOSQUITTO"):
            pytest.fail("TASKTONIC_REQUIRE_MOSQUITTO is set but mosquitto is not installed")
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    return found


class Broker:
    """One mosquitto process on ``127.0.0.1:port`` with its config in ``directory``."""

    def __init__(self, directory: Path, persistence: bool = False,
                 extra: tuple[str, ...] = ()) -> None:
        self.binary = mosquitto_binary()
        self.directory = directory
        self.port = free_port()
        self.host = "127.0.0.1"
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        lines = [f"listener {self.port} 127.0.0.1", "max_queued_messages 0",
                 "log_dest stderr", *extra]
        if not any(line.startswith("allow_anonymous") for line in extra):
            lines.append("allow_anonymous true")
        if persistence:
            lines += ["persistence true", f"persistence_location {directory}/",
                      "autosave_interval 3600"]
        if os.geteuid() == 0:
            lines.append("user root")
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([self.binary, "-c", str(self.config)],
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}:\n"
                                   f"{self.log.read_text(errors='replace')}")
            try:
                socket.create_connection((self.host, self.port), timeout=1.0).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mosquitto did not accept on port {self.port} within "
                                       f"{START_TIMEOUT} s") from None
                time.sleep(0.02)  # polling the port, not waiting for luck

    def stop(self) -> None:
        """SIGTERM by pid (mosquitto saves its database on the way out), then wait."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _running(directory: Path, persistence: bool) -> Iterator[Broker]:
    server = Broker(directory, persistence)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh mosquitto without persistence."""
    yield from _running(tmp_path, persistence=False)


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh mosquitto with persistence on (its database in the test's tmp_path)."""
    yield from _running(tmp_path, persistence=True)
