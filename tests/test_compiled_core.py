"""Which twins run: the compiled core when it is required, the pure twins when they are forced.

``test_compiled_core_loaded_when_required`` is the CI guard: a run with
``TASKTONIC_REQUIRE_EXTENSIONS`` set cannot pass while silently running the pure twins. The
other tests start a fresh interpreter (the choice is made once, at import) that imports the
same ``tasktonic`` as this process, source tree or installed wheel alike.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import tasktonic

MODULES = ("copy", "dispatch", "loop", "timerheap")
#: Where this process found tasktonic: the child processes import the same one.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(tasktonic.__file__)))

PROBE = f"""
import importlib, json, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import tasktonic
    from tasktonic import _switch
pure = {{}}
for name in {MODULES!r}:
    module = importlib.import_module("tasktonic._pure." + name)
    pure[name] = bool(module.__doc__) and module.__name__ == "tasktonic._pure." + name
print(json.dumps({{
    "implementation": tasktonic.implementation,
    "selected": {{name: getattr(_switch, name).__name__ for name in {MODULES!r}}},
    "pure_importable": pure,
    "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)],
}}))
"""


def probe(code: str = PROBE, **env_update: str | None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter; ``None`` removes a variable."""
    env = dict(os.environ)
    for key, value in env_update.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PYTHONPATH"] = PACKAGE_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, cwd=PACKAGE_PARENT)


def probe_json(**env_update: str | None) -> dict:
    result = probe(**env_update)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_compiled_core_loaded_when_required():
    if not os.environ.get("TASKTONIC_REQUIRE_EXTENSIONS"):
        pytest.skip("TASKTONIC_REQUIRE_EXTENSIONS is not set")
    assert tasktonic.implementation == "compiled"
    from tasktonic import _switch
    for name in MODULES:
        assert getattr(_switch, name).__name__ == f"tasktonic._core.{name}", name


def test_no_extensions_gives_the_pure_twins_silently():
    info = probe_json(TASKTONIC_NO_EXTENSIONS="1", TASKTONIC_REQUIRE_EXTENSIONS=None)
    assert info["implementation"] == "pure"
    assert info["selected"] == {name: f"tasktonic._pure.{name}" for name in MODULES}
    assert all(info["pure_importable"].values()), info["pure_importable"]
    assert info["warnings"] == []          # forcing the pure twins is not a failure


def test_pure_twins_importable_without_no_extensions():
    info = probe_json(TASKTONIC_NO_EXTENSIONS=None)
    assert all(info["pure_importable"].values()), info["pure_importable"]
    assert info["implementation"] in ("compiled", "pure")
    prefix = "tasktonic._core." if info["implementation"] == "compiled" else "tasktonic._pure."
    assert info["selected"] == {name: prefix + name for name in MODULES}
    if os.environ.get("TASKTONIC_REQUIRE_EXTENSIONS"):
        assert info["implementation"] == "compiled"
    if info["implementation"] == "compiled":
        assert info["warnings"] == []


BLOCK_LOOP = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "tasktonic._core.loop":
            raise ImportError("blocked by the test")
        return None
sys.meta_path.insert(0, Block())
import tasktonic
print(tasktonic.implementation)
"""


def test_required_but_missing_compiled_module_is_an_import_error():
    result = probe(BLOCK_LOOP, TASKTONIC_NO_EXTENSIONS=None, TASKTONIC_REQUIRE_EXTENSIONS="1")
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "compiled core required" in result.stderr


def test_missing_compiled_module_falls_back_to_pure_when_not_required():
    result = probe(BLOCK_LOOP, TASKTONIC_NO_EXTENSIONS=None, TASKTONIC_REQUIRE_EXTENSIONS=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pure"


FREE_THREADED = bool(__import__("sysconfig").get_config_var("Py_GIL_DISABLED"))


@pytest.mark.skipif(not FREE_THREADED, reason="a free-threaded (3.13t) interpreter is not running")
def test_a_free_threaded_interpreter_keeps_its_gil_off_after_import():
    """Every compiled module declares itself free-threading compatible: importing them (or the
    pure twins) must not turn the GIL back on, and the compiled core runs when required."""
    code = ("import sys, warnings; warnings.simplefilter('error', RuntimeWarning)\n"
            "import tasktonic\n"
            "print(tasktonic.implementation, sys._is_gil_enabled())")
    result = probe(code)
    assert result.returncode == 0, result.stderr
    implementation, gil = result.stdout.split()
    assert gil == "False", result.stderr
    if os.environ.get("TASKTONIC_REQUIRE_EXTENSIONS"):
        assert implementation == "compiled"


#: A class's sparkle methods and handlers, deferred as the class itself is (see _core/dispatch).
DEFERRAL = """
import gc, sys, threading, weakref
import tasktonic
if tasktonic.implementation != "compiled":
    print(tasktonic.implementation)
    sys.exit(0)
IMMORTAL = 2 ** 32 - 1

def build():
    class Meter(tasktonic.ttTonic):
        def ttse__on_reading(self, value):
            pass
    return Meter

def shared_counts(cls):
    return (sys.getrefcount(cls), sys.getrefcount(cls.__dict__["ttse__on_reading"]),
            sys.getrefcount(cls._tt_sparkles["ttse__on_reading"].generic))

assert threading.active_count() == 1
early = build()
# no second thread yet: mortal (a class nobody uses is collected, with its sparkles)
assert IMMORTAL not in shared_counts(early)
gone = build()
handler = weakref.ref(gone._tt_sparkles["ttse__on_reading"].generic)
cls = weakref.ref(gone)
del gone
gc.collect()
assert cls() is None and handler() is None, "an unused class was not collected"
# from the first thread on, the interpreter makes deferred objects immortal: the class that
# existed, its sparkle method and handler too; and a class built afterwards at once
worker = threading.Thread(target=lambda: None)
worker.start()
worker.join()
assert shared_counts(early) == (IMMORTAL,) * 3, shared_counts(early)
assert shared_counts(build()) == (IMMORTAL,) * 3
print(tasktonic.implementation)
"""


@pytest.mark.skipif(not FREE_THREADED or sys.version_info[:2] != (3, 13),
                    reason="3.13t immortalizes deferred objects (3.14t counts them lazily)")
def test_a_class_shares_its_sparkles_between_catalysts_without_counting_references():
    """Two catalysts running the same class touch its sparkle methods and handlers on every
    sparkle; without the GIL their reference counts would be one contended cache line each."""
    result = probe(DEFERRAL)
    assert result.returncode == 0, result.stderr
    if result.stdout.strip() != "compiled":
        pytest.skip("deferral is the compiled dispatch's; the pure twins run here")
