#!/usr/bin/env bash
# Build a free-threaded CPython 3.13 (`python3.13t`, PEP 703) once and print its path.
#
# No free-threaded binary can be downloaded here, but the Debian archive that apt already uses
# serves the source package of python3.13 in the `trixie` suite. A private sources list and
# package-list directory keep the system's own apt state untouched. The result is cached in
# $TASKTONIC_FT_PREFIX (default ~/.cache/tasktonic/python3.13t); a second run only prints the
# path. Needs: apt-get, a C compiler, make. Build time: about 2.5 minutes on 2 cores.
set -euo pipefail

prefix="${TASKTONIC_FT_PREFIX:-$HOME/.cache/tasktonic/python3.13t}"
python="$prefix/bin/python3.13t"
if [ -x "$python" ] && "$python" -c 'import sys; sys.exit(sys._is_gil_enabled())' 2>/dev/null \
        && "$python" -m pip --version >/dev/null 2>&1; then
    echo "$python"
    exit 0
fi
if [ -x "$python" ] && "$python" -c 'import sys; sys.exit(sys._is_gil_enabled())' 2>/dev/null; then
    "$python" -m ensurepip >&2   # built, but the pip step did not finish
    echo "$python"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
{
    # the headers and libraries a useful interpreter links against (ssl for pip, ffi for
    # ctypes, sqlite/bz2/lzma/zlib/readline for the standard library)
    export DEBIAN_FRONTEND=noninteractive
    if ! dpkg -s libssl-dev libffi-dev zlib1g-dev libbz2-dev liblzma-dev libsqlite3-dev \
            libreadline-dev dpkg-dev >/dev/null 2>&1; then
        apt-get install -y -q libssl-dev libffi-dev zlib1g-dev libbz2-dev liblzma-dev \
            libsqlite3-dev libreadline-dev dpkg-dev >/dev/null
    fi
    mkdir -p "$work/lists/partial" "$work/src"
    echo "deb-src http://deb.debian.org/debian trixie main" > "$work/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=-"
              -o "Dir::State::Lists=$work/lists" -o "APT::Sandbox::User=root")
    apt-get "${apt_opts[@]}" update -q >/dev/null
    (cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only -q python3.13 >/dev/null)
    tar -xf "$(ls "$work"/src/python3.13_*.orig.tar.* | head -n 1)" -C "$work/src"
    cd "$(ls -d "$work"/src/Python-3.13*/ | head -n 1)"
    ./configure --disable-gil --prefix="$prefix" --without-ensurepip -q
    make -j"$(nproc)" -s
    make -s install
    "$python" -m ensurepip
} >&2
"$python" -c 'import sys; assert not sys._is_gil_enabled(), "built with the GIL"'
echo "$python"
