"""What a release promises (issue 15): the version, a cheap ``import tasktonic`` with every
documented name still there, a README that reads well on the package index, a visible fallback.

The fallback tests copy the installed package (without its compiled modules) to a temporary
folder and import that copy in a fresh interpreter: the marker ``setup.py`` leaves after a failed
build, or the metadata of a binary wheel, must make the pure run say so; a plain pure install
stays silent. ``tools/check-release.sh`` does the same through a real sdist install without a
compiler.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tasktonic

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PACKAGE = Path(tasktonic.__file__).resolve().parent


def python(code: str, cwd: Path, *args: str, **env_update: str | None
           ) -> subprocess.CompletedProcess:
    """Run ``python -c code`` in ``cwd`` (first on sys.path); ``None`` removes a variable."""
    env = dict(os.environ)
    for key, value in env_update.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_version_succeeds_the_published_0_2_4():
    version = tuple(int(part) for part in tasktonic.__version__.split(".")[:3])
    assert version >= (0, 3, 0)


def test_import_loads_neither_the_unused_twins_nor_the_lazy_modules():
    code = ("import json, sys; before = set(sys.modules); import tasktonic; "
            "print(json.dumps(sorted(set(sys.modules) - before)))")
    done = python(code, PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))  # what importing tasktonic added
    for module in ("platform", "tasktonic.distiller", "tasktonic.store", "tasktonic.timers",
                   "tasktonic.schedule", "dataclasses"):
        assert module not in loaded, module
    unused = "_pure" if tasktonic.implementation == "compiled" else "_core"
    assert not {f"tasktonic.{unused}.{name}" for name in ("copy", "loop", "timerheap")} & loaded


def test_every_documented_name_is_there_lazily_or_not():
    namespace: dict = {}
    exec("from tasktonic import *", namespace)
    assert set(tasktonic.__all__) <= set(namespace)
    assert set(tasktonic.__all__) <= set(dir(tasktonic))
    from tasktonic.timers import ttTimerRepeat
    assert tasktonic.ttTimerRepeat is ttTimerRepeat
    with pytest.raises(AttributeError, match="ttNoSuchThing"):
        tasktonic.ttNoSuchThing  # noqa: B018 - the attribute access is the test


@pytest.mark.skipif(not README.exists(), reason="README.md is not beside the tests")
def test_readme_starts_with_pip_install_then_the_make_commands_and_links_absolutely():
    text = README.read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert blocks[0].strip() == "pip install tasktonic"
    assert [line.split()[:2] for line in blocks[1].splitlines()] == [["make", "demo"],
                                                                     ["make", "test"]]
    assert text.index(blocks[1]) < text.index("## A first application")
    relative = [link for link in re.findall(r"\]\(([^)]*)\)", text)
                if not link.startswith(("https://", "http://", "#"))]
    assert relative == []  # the package index shows the README without the repository


# -- the fallback is visible -----------------------------------------------------------------

def pure_copy(tmp_path: Path) -> Path:
    """This tasktonic without compiled modules, in ``tmp_path``; returns ``tmp_path``."""
    shutil.copytree(PACKAGE, tmp_path / "tasktonic", ignore=shutil.ignore_patterns(
        "*.so", "*.pyd", "__pycache__", "BUILD_FAILED"))
    return tmp_path


PROBE = """
import json, warnings
warnings.simplefilter("default")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import tasktonic
    import tasktonic.catalyst  # a second import must not warn again
print(json.dumps([tasktonic.implementation, tasktonic.__file__,
                  [str(w.message) for w in caught if w.category is RuntimeWarning]]))
"""


def probe(folder: Path, no_extensions: str | None = None) -> tuple[str, str, list[str]]:
    done = python(PROBE, folder, TASKTONIC_NO_EXTENSIONS=no_extensions,
                  TASKTONIC_REQUIRE_EXTENSIONS=None)
    assert done.returncode == 0, done.stderr
    implementation, file, warned = json.loads(done.stdout)
    assert Path(file).resolve().is_relative_to(folder.resolve())
    return implementation, file, warned


def test_a_pure_install_is_silent(tmp_path):
    assert probe(pure_copy(tmp_path))[::2] == ("pure", [])


def test_a_failed_build_warns_once_and_info_says_why(tmp_path):
    folder = pure_copy(tmp_path)
    (folder / "tasktonic" / "_core" / "BUILD_FAILED").write_text("no C compiler\n")
    implementation, _, warned = probe(folder)
    assert implementation == "pure"
    assert len(warned) == 1
    assert "failed to build at install (no C compiler)" in warned[0]
    assert "To fix: install a C compiler" in warned[0]
    assert "TASKTONIC_NO_EXTENSIONS=1" in warned[0]
    assert probe(folder, no_extensions="1")[::2] == ("pure", [])  # chosen: silent
    info = python("import sys; from tasktonic.__main__ import main; sys.exit(main())", folder,
                  "info", TASKTONIC_NO_EXTENSIONS=None, TASKTONIC_REQUIRE_EXTENSIONS=None)
    assert ("implementation  pure: the compiled core failed to build when tasktonic was "
            "installed: no C compiler") in info.stdout, info.stderr
    required = python("import tasktonic", folder, TASKTONIC_NO_EXTENSIONS=None,
                      TASKTONIC_REQUIRE_EXTENSIONS="1")
    assert required.returncode != 0 and "no C compiler" in required.stderr


def test_a_binary_wheel_without_its_compiled_core_warns(tmp_path):
    folder = pure_copy(tmp_path)
    dist_info = folder / f"tasktonic-{tasktonic.__version__}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.4\nName: tasktonic\nVersion: {tasktonic.__version__}\n")
    (dist_info / "WHEEL").write_text("Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
                                     "Tag: cp311-cp311-manylinux_2_17_x86_64\n")
    implementation, _, warned = probe(folder)
    assert implementation == "pure"
    assert len(warned) == 1 and "installed from a cp311-cp311-manylinux_2_17_x86_64 wheel" in (
        warned[0])
    (dist_info / "WHEEL").write_text("Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                                     "Tag: py3-none-any\n")
    assert probe(folder)[::2] == ("pure", [])  # the pure wheel: pure by design
