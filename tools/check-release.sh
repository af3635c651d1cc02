#!/usr/bin/env bash
# The release path as a packager and a new user walk it (issue 15), on the committed HEAD:
#   1. a clean clone; an sdist and a compiled wheel built from that sdist (python -m build);
#   2. twine check --strict and check-wheel-contents; the sdist ships examples/ and LICENSE and
#      no generated C; the compiled modules carry no debug information;
#   3. the sdist installed with no C compiler (CC=/bin/false): a working pure install that
#      warns on import and whose `python -m tasktonic info` says pure, and why;
#   4. the wheel installed in a fresh venv: pip pulls pyserial, the README's serial snippet
#      runs on the compiled core; the import cost is printed (bench/importtime.py; a figure, not
#      a pass/fail check: timing on a shared machine belongs in bench/, not in a gate);
#   5. the workflows validate against GitHub's schema (check-jsonschema).
# Needs python3 (PYTHON), git, a C compiler and the package index. Usage: tools/check-release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
step() { echo "== check-release: $* =="; }
fail() { echo "check-release: FAILED: $*" >&2; exit 1; }

step "clean clone of $(git rev-parse --short HEAD) (uncommitted changes are not checked)"
git clone --quiet --no-local . "$work/src"
"$PYTHON" -m venv "$work/tools"
tools="$work/tools/bin"
"$tools/python" -m pip install --quiet --upgrade pip
"$tools/python" -m pip install --quiet build twine check-wheel-contents check-jsonschema

step "sdist, then a compiled wheel from it"
TASKTONIC_REQUIRE_EXTENSIONS=1 "$tools/python" -m build --outdir "$work/dist" "$work/src" \
    >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; fail "python -m build"; }
sdist="$(ls "$work"/dist/tasktonic-*.tar.gz)"
wheel="$(ls "$work"/dist/tasktonic-*.whl)"
echo "$(basename "$sdist") $(basename "$wheel")"

step "twine check --strict, check-wheel-contents"
"$tools/twine" check --strict "$sdist" "$wheel"
"$tools/check-wheel-contents" "$wheel"

step "contents: examples/ and LICENSE in the sdist, no C; compiled modules without debug info"
"$tools/python" - "$sdist" "$wheel" <<'EOF'
import sys, tarfile, zipfile
sdist, wheel = sys.argv[1:]
names = {name.split("/", 1)[1] for name in tarfile.open(sdist).getnames() if "/" in name}
for needed in ("LICENSE", "examples/__init__.py", "examples/serial_echo.py", "tests/conftest.py",
               "_core/loop.pyx", "_core/README.md"):
    assert needed in names, f"the sdist lacks {needed}"
stray = [n for n in names if n.endswith((".c", ".so", ".pyd")) or n.endswith("BUILD_FAILED")]
assert not stray, f"the sdist ships {stray}"
with zipfile.ZipFile(wheel) as zf:
    modules = [i for i in zf.infolist() if i.filename.startswith("tasktonic/_core/")
               and i.filename.endswith((".so", ".pyd"))]
    assert len(modules) == 4, [i.filename for i in modules]
    for info in modules:
        assert b".debug_info" not in zf.read(info), f"{info.filename} has debug information"
        print(f"  {info.filename}: {info.file_size / 1e3:.0f} kB")
    assert not any(n.endswith("BUILD_FAILED") for n in zf.namelist())
EOF

step "the sdist installed with no C compiler (CC=/bin/false)"
"$PYTHON" -m venv "$work/pure"
CC=/bin/false "$work/pure/bin/python" -m pip install --quiet --no-cache-dir "$sdist"
cd "$work"
info="$(pure/bin/python -m tasktonic info)"
echo "$info" | grep '^implementation'
echo "$info" | grep -q '^implementation  pure: the compiled core failed to build when tasktonic' \
    || fail "info does not say why the install is pure"
warned="$(pure/bin/python -c 'import tasktonic' 2>&1)"
echo "$warned" | grep -q 'RuntimeWarning: tasktonic: the compiled core failed to build' \
    || fail "importing the pure install does not warn: $warned"
pure/bin/python -c 'import serial, tasktonic; assert tasktonic.implementation == "pure"'

step "the wheel in a fresh venv: pyserial comes along, the README's serial snippet runs"
"$PYTHON" -m venv "$work/user"
user/bin/python -m pip install --quiet "$wheel"
user/bin/python -m pip show pyserial | grep -E '^(Name|Version):'
user/bin/python - "$work/src/README.md" <<'EOF'
import re, subprocess, sys
text = open(sys.argv[1]).read()
snippet = re.search(r"```python\n(.*?)```", text[text.index("## Serial ports"):], re.S)
assert snippet and "ttSerialPort" in snippet[1], "the README's serial snippet is not there"
code = "import tasktonic; assert tasktonic.implementation == 'compiled'\n" + snippet[1]
subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code], check=True,
               timeout=60)
print("  the serial snippet ran on the compiled core")
EOF
user/bin/python "$work/src/bench/importtime.py" --reps 11

step "workflows against GitHub's schema"
cd "$work/src"
"$tools/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
step "passed"
