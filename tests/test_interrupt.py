"""Ctrl-C and SystemExit end the application in order, and the formula re-raises them.

The Ctrl-C test runs the application in a child process (the same interpreter and the same
twin: ``TASKTONIC_NO_EXTENSIONS`` / ``TASKTONIC_REQUIRE_EXTENSIONS`` come with the environment),
waits until the child's main thread is asleep in the catalyst's wait, and sends SIGINT. The
only timer is an hour away: an exit within the test's patience is the signal's doing.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tasktonic
from tasktonic import ttCatalyst, ttTimerSingleShot, ttTonic
from tests.conftest import run_app

ROOT = Path(__file__).resolve().parent.parent
#: Generous bounds: only a hang reaches them.
STARTUP_TIMEOUT = 30.0
EXIT_TIMEOUT = 30.0

CHILD = r"""
import signal, sys
# Ctrl-C raises KeyboardInterrupt even when the suite was started with SIGINT ignored
# (a background job), which Python would otherwise inherit.
signal.signal(signal.SIGINT, signal.default_int_handler)
import tasktonic
from tasktonic import ttFormula, ttTonic, ttTimerSingleShot

class Idle(ttTonic):
    def ttse__on_start(self):
        ttTimerSingleShot(hours=1)
        print("idle", tasktonic.implementation, flush=True)

    def ttse__on_timer(self, info):
        print("the hour passed", flush=True)

    def ttse__on_finished(self):
        print("on_finished ran", flush=True)

class App(ttFormula):
    def creating_formula(self):
        return (("tasktonic/log/to", "off"),)

    def creating_starting_tonics(self):
        Idle()

App()
print("the formula returned", flush=True)
"""


def thread_state(pid: int) -> str:
    """The scheduler state of the process's main thread ('S': sleeping, 'R': running...)."""
    with open(f"/proc/{pid}/task/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()[0]


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """One line of the child's stdout, or fail once ``timeout`` has passed without one."""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not selector.select(timeout):
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the child printed nothing within {timeout}s; stderr:\n{err}")
        return proc.stdout.readline()
    finally:
        selector.close()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_ctrl_c_while_idle_ends_the_application_in_order_and_the_formula_reraises():
    proc = subprocess.Popen([sys.executable, "-c", CHILD], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = read_line(proc, STARTUP_TIMEOUT)
        assert first.split() == ["idle", tasktonic.implementation], first
        # the sparkle has printed; wait until the main thread sleeps in the catalyst's wait
        give_up = time.monotonic() + STARTUP_TIMEOUT
        while thread_state(proc.pid) != "S":
            if time.monotonic() > give_up:
                pytest.fail("the child's main thread never went to sleep")
            time.sleep(0.001)
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"Ctrl-C did not end the idle application; stdout:\n{out}\n"
                        f"stderr:\n{err}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert out.splitlines() == ["on_finished ran"], out  # no hour passed, no normal return
    assert proc.returncode != 0
    # the formula re-raised it: the traceback ends with the KeyboardInterrupt itself
    assert err.strip().splitlines()[-1] == "KeyboardInterrupt", err


class Witness(ttTonic):
    """Stays alive (a long timer) and notes when its finishing hook runs."""

    def __init__(self, log, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def ttse__on_start(self):
        ttTimerSingleShot(hours=1)

    def ttse__on_timer(self, info):
        self.log.append(f"{self.name}: the hour passed")

    def ttse__on_finished(self):
        self.log.append(f"{self.name} finished")


class Quitter(Witness):
    def ttse__on_start(self):
        super().ttse__on_start()
        self.ttsc__quit()

    def ttsc__quit(self):
        self.log.append(f"{self.name} raises SystemExit")
        raise SystemExit(3)


@pytest.mark.parametrize("where", ["main", "worker"])
def test_system_exit_in_a_sparkle_ends_the_application_in_order(where, expected_errors):
    log = []

    def starting():
        Witness(log, name="witness on main")
        Witness(log, name="witness on worker", catalyst=ttCatalyst(name="worker"))
        Quitter(log, name="quitter",
                catalyst=ttCatalyst(name="quitter's") if where == "worker" else None)

    with pytest.raises(SystemExit) as info:
        run_app(starting)
    assert info.value.code == 3
    assert log[0] == "quitter raises SystemExit"
    assert sorted(log[1:]) == ["quitter finished", "witness on main finished",
                               "witness on worker finished"]
    (record,) = expected_errors.records  # the stop is reported once, naming the catalyst
    catalyst = "quitter's" if where == "worker" else "tt_main_catalyst"
    assert "stopped by SystemExit" in record.getMessage() and catalyst in record.getMessage()
