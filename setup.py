"""Build script for tasktonic's optional compiled core.

All project metadata lives in pyproject.toml.  This file only declares the
Cython extensions and decides what happens when they cannot be built.

Layout
------
* Sources: ``_core/<stem>.pyx`` (and optional ``_core/<stem>.pxd``) at the
  repository root -- deliberately outside the ``tasktonic`` package so the
  ``.pyx`` files never end up in a wheel.
* Modules: each source compiles to ``tasktonic._core.<stem>``; the shared
  library lands in ``tasktonic/_core/`` (inside the build directory for a
  regular wheel, in the source tree for an editable / in-place build).
* No ``.pyx`` present -> no extensions -> a pure ``py3-none-any`` wheel.

Environment
-----------
``TASKTONIC_NO_EXTENSIONS``       non-empty: build no extensions at all.  The
                                  distribution then has no ext_modules, so
                                  bdist_wheel tags the wheel ``py3-none-any``.
``TASKTONIC_REQUIRE_EXTENSIONS``  non-empty: a failed extension build (or an
                                  empty ``_core/``) is a hard error.
``CIBUILDWHEEL=1``                (set by cibuildwheel) same as REQUIRE for
                                  build failures: never ship a silently pure
                                  "binary" wheel.

Otherwise a failed build (no C compiler, no Cython, ...) prints one banner
and the install continues with the pure-Python runtime; the wheel is then
re-tagged ``py3-none-any`` because it contains no compiled code, and carries
the marker ``tasktonic/_core/BUILD_FAILED`` (the reason), so that importing it
warns and ``python -m tasktonic info`` says why it is pure: pip hides the
banner at its normal verbosity.

The compiled modules are built without debug information (a fifth of the
size: 2.7 MB -> 0.52 MB for the four on CPython 3.11 / Linux); ``build_ext --debug`` or
``TASKTONIC_CYTHON_TRACE`` keep it.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:  # setuptools >= 70.1 ships its own bdist_wheel
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover - older setuptools
    try:
        from wheel.bdist_wheel import bdist_wheel
    except ImportError:
        bdist_wheel = None

ROOT = Path(__file__).resolve().parent
CORE_SRC_DIR = "_core"  # relative to ROOT; setuptools wants relative paths
EXT_PACKAGE = "tasktonic._core"
#: Read by tasktonic/_switch.py (BUILD_FAILED there); never in the sdist (MANIFEST.in).
MARKER = Path("tasktonic", "_core", "BUILD_FAILED")

CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    # The modules are safe without the GIL (the loop's inbox lock and atomics, see
    # _core/loop.pxd): a free-threaded interpreter keeps its GIL off when importing them.
    "freethreading_compatible": True,
}
# TASKTONIC_CYTHON_TRACE=1 builds the compiled core with line tracing, so coverage.py (with
# the Cython.Coverage plugin) can measure the .pyx code. Slower: never for a release.
TRACE = os.environ.get("TASKTONIC_CYTHON_TRACE", "") != ""
if TRACE:
    CYTHON_DIRECTIVES.update(linetrace=True, binding=True)


def _flag(name: str) -> bool:
    return os.environ.get(name, "") != ""


NO_EXTENSIONS = _flag("TASKTONIC_NO_EXTENSIONS")
REQUIRE_EXTENSIONS = _flag("TASKTONIC_REQUIRE_EXTENSIONS")
UNDER_CIBUILDWHEEL = os.environ.get("CIBUILDWHEEL", "") == "1"
FAILURE_IS_FATAL = REQUIRE_EXTENSIONS or UNDER_CIBUILDWHEEL

# Set by OptionalBuildExt when it falls back to pure Python.
_fallback_reason: str | None = None


class FallbackWarning(UserWarning):
    """The compiled core was skipped; the pure-Python runtime is installed."""


def _fatal(message: str) -> None:
    sys.stderr.write(f"\n*** tasktonic: {message}\n\n")
    raise SystemExit(1)


def _find_extensions() -> list[Extension]:
    sources = sorted((ROOT / CORE_SRC_DIR).glob("*.pyx"))
    extensions = []
    for pyx in sources:
        rel = pyx.relative_to(ROOT).as_posix()
        ext = Extension(f"{EXT_PACKAGE}.{pyx.stem}", sources=[rel])
        # setuptools rewrites .pyx -> .c in Extension.__init__ when Cython is
        # not importable at that moment; keep the real source, cythonize
        # happens lazily in OptionalBuildExt.run().
        ext.sources = [rel]
        extensions.append(ext)
    return extensions


def _build_failure_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [ImportError, OSError, ValueError]
    try:
        from setuptools.errors import (
            CCompilerError,
            CompileError,
            ExecError,
            LinkError,
            PlatformError,
        )

        types += [CCompilerError, CompileError, ExecError, LinkError, PlatformError]
    except ImportError:  # pragma: no cover - very old setuptools
        from distutils.errors import (
            CCompilerError,
            DistutilsExecError,
            DistutilsPlatformError,
        )

        types += [CCompilerError, DistutilsExecError, DistutilsPlatformError]
    try:
        from Cython.Compiler.Errors import CompileError as CythonCompileError

        types.append(CythonCompileError)
    except ImportError:
        pass
    return tuple(types)


def _describe(exc: BaseException) -> str:
    """One short line saying why the compiled core did not build."""
    import subprocess

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, subprocess.CalledProcessError):
            cmd = cause.cmd[0] if isinstance(cause.cmd, (list, tuple)) else cause.cmd
            return f"C toolchain command {cmd!r} failed with exit status {cause.returncode}"
        cause = cause.__cause__ or cause.__context__
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    if len(text) > 160:
        text = text[:157] + "..."
    return text


class OptionalBuildExt(build_ext):
    """build_ext that cythonizes lazily and degrades to pure Python.

    All-or-nothing: if any extension fails, the ones already built are
    discarded so the runtime never sees a half-compiled core.
    """

    def run(self) -> None:
        global _fallback_reason
        if not self.extensions:
            return
        # setuptools' run() temporarily forces inplace off and only copies to
        # the source tree after a successful build; remember the request.
        wants_inplace = bool(self.inplace)
        try:
            try:
                from Cython.Build import cythonize
            except ImportError as exc:
                raise ImportError(f"Cython is not installed ({exc})") from exc
            include_dir = self._stage_pxd_files()
            for ext in self.extensions:
                # Keep the Extension objects setuptools already finalized
                # (they carry private build state); only swap .pyx -> .c.
                if any(src.endswith(".pyx") for src in ext.sources):
                    if TRACE:
                        ext.define_macros.append(("CYTHON_TRACE_NOGIL", "1"))
                    (generated,) = cythonize(
                        [Extension(ext.name, list(ext.sources))],
                        compiler_directives=CYTHON_DIRECTIVES,
                        include_path=[include_dir],
                        force=bool(self.force),
                        quiet=True,
                    )
                    ext.sources = list(generated.sources)
            super().run()
            self._mark(None, wants_inplace)
        except _build_failure_types() as exc:
            reason = _describe(exc)
            self.inplace = wants_inplace
            self._discard_outputs(wants_inplace)
            if FAILURE_IS_FATAL:
                why = (
                    "TASKTONIC_REQUIRE_EXTENSIONS is set"
                    if REQUIRE_EXTENSIONS
                    else "CIBUILDWHEEL=1"
                )
                _fatal(f"compiled core failed to build ({reason}) and {why}")
            _fallback_reason = reason
            self._mark(reason, wants_inplace)
            # Nothing compiled ships: let later commands (install, bdist_wheel)
            # see a pure distribution.
            self.distribution.ext_modules = []
            # A warning, not a plain print: pip hides a backend's stdout and
            # stderr unless -v, but recent pip (vendoring pyproject-hooks with
            # warning relay) shows the UserWarnings a build backend emits.
            bar = "=" * 78
            warnings.warn(
                f"\n{bar}\n"
                f"tasktonic: compiled core not built ({reason}); "
                "installing the pure-Python runtime\n"
                f"{bar}",
                FallbackWarning,
                stacklevel=1,
            )

    def build_extensions(self) -> None:
        # Debug information is four fifths of each module (Python's CFLAGS carry -g), and
        # nobody steps through Cython's generated C from a wheel. -Wl,-S: GNU ld and Apple's
        # ld64 both drop debug sections with it.
        if self.compiler.compiler_type == "unix" and not (self.debug or TRACE):
            for ext in self.extensions:
                ext.extra_compile_args.append("-g0")
                ext.extra_link_args.append("-Wl,-S")
        super().build_extensions()

    def _mark(self, reason: str | None, inplace_too: bool) -> None:
        """Write the failed-build marker (``reason``), or remove it after a build that worked.

        In build_lib it reaches the wheel; in the source tree (in-place and editable builds)
        the checkout's own import sees it.
        """
        roots = [Path(self.build_lib)]
        if inplace_too or getattr(self, "editable_mode", False):
            roots.append(ROOT)
        for marker in (root / MARKER for root in roots):
            if reason is None:
                marker.unlink(missing_ok=True)
            else:
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text(reason + "\n", encoding="utf-8")

    def _stage_pxd_files(self) -> str:
        """Mirror _core/*.pxd as tasktonic/_core/*.pxd in the build tree.

        One compiled module cimports another by its full name
        (``from tasktonic._core.timerheap cimport TimerHeap``); Cython looks that
        up as ``tasktonic/_core/timerheap.pxd`` on its include path, while the
        sources live in ``_core/``.
        """
        include_dir = Path(self.build_temp) / "cython_include"
        package_dir = include_dir / "tasktonic" / "_core"
        package_dir.mkdir(parents=True, exist_ok=True)
        for marker in (include_dir / "tasktonic", package_dir):
            (marker / "__init__.pxd").touch()
        for pxd in (ROOT / CORE_SRC_DIR).glob("*.pxd"):
            target = package_dir / pxd.name
            if not target.exists() or target.read_bytes() != pxd.read_bytes():
                shutil.copyfile(pxd, target)
        return str(include_dir)

    def _discard_outputs(self, inplace_too: bool) -> None:
        saved = self.inplace
        try:
            # Regular outputs in build_lib.
            self.inplace = 0
            paths = [self.get_ext_fullpath(ext.name) for ext in self.extensions]
            if inplace_too:
                # A stale copy in the source tree would shadow the pure twins
                # of an editable install.
                self.inplace = 1
                paths += [self.get_ext_fullpath(ext.name) for ext in self.extensions]
        finally:
            self.inplace = saved
        for path in paths:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass

    # Editable installs and `install --record` ask for the outputs; report
    # none after a fallback so nothing references the discarded files.
    def get_outputs(self):
        if _fallback_reason is not None:
            return []
        return super().get_outputs()

    def get_output_mapping(self):
        if _fallback_reason is not None:
            return {}
        return super().get_output_mapping()


cmdclass: dict[str, type] = {"build_ext": OptionalBuildExt}

if bdist_wheel is not None:

    class PureOnFallbackBdistWheel(bdist_wheel):
        """Tag the wheel py3-none-any if the compiled core fell back."""

        def run_command(self, command: str) -> None:
            super().run_command(command)
            if command == "build" and _fallback_reason is not None:
                self.root_is_pure = True

    cmdclass["bdist_wheel"] = PureOnFallbackBdistWheel


if NO_EXTENSIONS:
    if REQUIRE_EXTENSIONS:
        _fatal(
            "TASKTONIC_NO_EXTENSIONS and TASKTONIC_REQUIRE_EXTENSIONS are both "
            "set; pick one"
        )
    ext_modules: list[Extension] = []
else:
    ext_modules = _find_extensions()
    if not ext_modules and REQUIRE_EXTENSIONS:
        _fatal(
            "TASKTONIC_REQUIRE_EXTENSIONS is set but _core/ holds no .pyx "
            "sources, so there is no compiled core to build"
        )

# An empty ext_modules list keeps has_ext_modules() false -> pure wheel.
setup(ext_modules=ext_modules, cmdclass=cmdclass)
