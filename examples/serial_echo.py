"""Serial echo over a pseudo-terminal pair (issue 5): ``python -m examples.serial_echo``.

``os.openpty()`` gives a master and a slave; the slave (``/dev/pts/N``) is a real serial-like
device. The ttSerialPort service opens it with line framing; the Echo tonic answers every line
in upper case. The "terminal" on the master side is a plain thread here (it stands for the
device at the other end of the cable); it types a few lines, reads the answers, and the
application ends by itself once the last answer is written.
"""
from __future__ import annotations

import os
import select
import threading

from tasktonic import ttFormula, ttTonic
from tasktonic.serial_port import ttSerialPort

LINES = [b"hello", b"tasktonic", b"serial echo"]


class Echo(ttTonic):
    """Answers each received line in upper case; finishes after the last one."""

    def __init__(self, port: str, ready: threading.Event, **kwargs):
        super().__init__(**kwargs)
        self.port_name = port
        self.ready = ready
        self.count = 0

    def ttse__on_start(self):
        self.port = self.bind(ttSerialPort, self.port_name, baudrate=115200, framing="line")
        self.port.ttsc__subscribe(self)

    def ttse__on_serial_subscribed(self, port_name):
        self.ready.set()  # from now on no line passes us by

    def ttse__on_serial_data(self, port_name, frame):
        self.log(f"{port_name} <- {frame!r}")
        self.port.ttsc__write(frame.upper() + b"\n")
        self.count += 1
        if self.count == len(LINES):
            self.finish()


def terminal(master: int, ready: threading.Event, answers: list) -> None:
    """The far end of the cable: type the lines, read the echoes (never sleeps)."""
    if not ready.wait(10):
        return
    for line in LINES:
        os.write(master, line + b"\n")
    received = b""
    while received.count(b"\n") < len(LINES):
        readable, _, _ = select.select([master], [], [], 10)
        if not readable:
            break
        try:
            chunk = os.read(master, 1024)
        except OSError:  # the slave closed before we read everything
            break
        if not chunk:
            break
        received += chunk
    answers.extend(received.splitlines())


class SerialEchoApp(ttFormula):
    def creating_formula(self):
        return (("tasktonic/log/to", "screen"),)

    def creating_starting_tonics(self):
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        os.close(slave)  # the service opens the slave by path, like a real device
        self.ready = threading.Event()
        self.answers: list = []
        self.terminal = threading.Thread(target=terminal,
                                         args=(self.master, self.ready, self.answers))
        self.terminal.start()
        Echo(self.path, self.ready)


def main() -> list:
    app = SerialEchoApp()
    app.terminal.join(10)
    os.close(app.master)
    for answer in app.answers:
        print(f"terminal got {answer!r}")
    return app.answers


if __name__ == "__main__":
    main()
