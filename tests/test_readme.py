"""Every Python snippet in the README runs as written, each in a fresh interpreter.

A snippet runs under ``RUNNER``, which fails the process (exit status ``RUNNER_FAILED``) as
soon as anything logs at ERROR on the ``tasktonic`` logger (how an exception in a sparkle,
an ``assert`` included, is reported) or an exception ends a thread; the snippet's own
uncaught exceptions fail it as usual. The runner's own tests feed it failing snippets.
A snippet that reads ``MQTT_PORT`` from the environment gets a mosquitto of its own on that
port (``tests/mqtt_broker.py``; the snippet is skipped without mosquitto).
"""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.mqtt_broker import Broker

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if README.exists() else []

RUNNER_FAILED = 70
#: The environment variable a broker snippet reads its port from.
MQTT_PORT = "MQTT_PORT"

#: Run as ``python -c RUNNER SNIPPET``: the snippet is compiled and run as ``__main__``.
RUNNER = f"""
import linecache, logging, os, sys, threading, traceback

def _fail(what):
    sys.stdout.flush()
    sys.stderr.write("README snippet runner: " + what + "\\n")
    sys.stderr.flush()
    os._exit({RUNNER_FAILED})  # at once: a failed sparkle often leaves the application waiting

class _FailOnError(logging.Handler):
    def emit(self, record):
        _fail("%s logged on %r in thread %r:\\n%s"
              % (record.levelname, record.name, record.threadName, self.format(record)))

def _thread_failed(args):
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "<unknown thread>"
    _fail("exception in thread %r:\\n%s" % (name, "".join(traceback.format_exception(
        args.exc_type, args.exc_value, args.exc_traceback))))

logging.getLogger("tasktonic").addHandler(_FailOnError(logging.ERROR))
threading.excepthook = _thread_failed

_source, _name = sys.argv[1], "<README snippet>"
sys.argv = [_name]
linecache.cache[_name] = (len(_source), None, _source.splitlines(True), _name)
exec(compile(_source, _name, "exec"), {{"__name__": "__main__", "__builtins__": __builtins__}})
"""


def run_snippet(snippet: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``snippet`` under ``RUNNER`` in a fresh interpreter, with a runtime directory of its
    own (so a ``tasktonic.local`` daemon never touches the real one)."""
    with tempfile.TemporaryDirectory(prefix="ttl") as runtime:
        return subprocess.run([sys.executable, "-c", RUNNER, snippet], capture_output=True,
                              text=True, timeout=60,
                              env=dict(env or os.environ, XDG_RUNTIME_DIR=runtime))


def test_readme_has_snippets():
    if not README.exists():
        pytest.skip("README.md is not beside the tests (installed-wheel run)")
    assert len(SNIPPETS) >= 6


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[
    s.splitlines()[2][:40] if len(s.splitlines()) > 2 else str(i) for i, s in enumerate(SNIPPETS)])
def test_readme_snippet_runs(snippet: str, tmp_path: Path) -> None:
    env = None
    with contextlib.ExitStack() as stack:
        if MQTT_PORT in snippet:  # it talks to a broker: give it a mosquitto of its own
            broker = Broker(tmp_path)
            broker.start()
            stack.callback(broker.stop)
            env = dict(os.environ, **{MQTT_PORT: str(broker.port)})
        done = run_snippet(snippet, env)
    assert done.returncode == 0, f"snippet failed:\n{snippet}\n--- stderr:\n{done.stderr}"


# -- the runner fails what it must ---------------------------------------------------------

APP = """
from tasktonic import *

class Checker(ttTonic):
{body}

class App(ttFormula):
    def creating_formula(self):
        return (('tasktonic/log/to', 'off'),)

    def creating_starting_tonics(self):
        Checker()

App()
print("the application ended")
"""


def app_snippet(body: str) -> str:
    return APP.format(body=textwrap.indent(textwrap.dedent(body), "    "))


def test_runner_passes_a_snippet_that_holds():
    done = run_snippet(app_snippet("""
        def ttse__on_start(self):
            assert 1 + 1 == 2
            self.finish()
        """))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "the application ended\n"


def test_runner_fails_an_assert_inside_a_sparkle():
    done = run_snippet(app_snippet("""
        def ttse__on_start(self):
            assert 1 + 1 == 3, "arithmetic inside a sparkle"
            self.finish()   # never reached: the application would wait forever
        """))
    assert done.returncode == RUNNER_FAILED, done.stderr
    assert "ERROR logged on 'tasktonic'" in done.stderr
    assert "AssertionError: arithmetic inside a sparkle" in done.stderr
    assert 'assert 1 + 1 == 3, "arithmetic inside a sparkle"' in done.stderr  # the source line


def test_runner_fails_an_assert_inside_a_sparkle_even_when_the_application_ends():
    done = run_snippet(app_snippet("""
        def ttse__on_start(self):
            self.ttsc__check()
            self.finish()

        def ttsc__check(self):
            assert False, "checked too late to stop anything"
        """))
    assert done.returncode == RUNNER_FAILED, done.stderr
    assert "AssertionError: checked too late to stop anything" in done.stderr


def test_runner_fails_an_exception_in_a_thread():
    done = run_snippet(textwrap.dedent("""
        import threading

        def work():
            raise ValueError("lost in a thread")

        thread = threading.Thread(target=work, name="helper")
        thread.start()
        thread.join()
        print("main went on")
        """))
    assert done.returncode == RUNNER_FAILED, done.stderr
    assert "exception in thread 'helper'" in done.stderr
    assert "ValueError: lost in a thread" in done.stderr


def test_runner_fails_an_assert_in_the_snippet_itself():
    done = run_snippet("assert 'README' == 'readme', 'top level'\n")
    assert done.returncode == 1
    assert "AssertionError: top level" in done.stderr
