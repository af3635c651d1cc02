# tasktonic developer entry points (GNU make).
# Needs only python3, a C compiler and make; everything else goes in $(VENV).

PYTHON ?= python3
VENV   ?= .venv

# CPython versions `make test-pythons` runs the suite on, each in its own venv (.venv-X.Y);
# versions in SKIP_PYTHONS are left out (.ci/run skips the one it has just tested).
PYTHONS      ?= 3.10 3.11 3.12 3.13
SKIP_PYTHONS ?=
# What an interpreter says it is: "CPython 3.12", say.
PY_ID := import platform, sys; print(platform.python_implementation(), '%d.%d' % sys.version_info[:2])

# The extras `make test` installs, and packages pinned before them (the free-threaded run in
# .ci/run: no PySide6 wheels there, and hypothesis newer than 6.139 needs a Rust build).
EXTRAS ?= test,qt
PINS   ?=

VPY   := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Installs tasktonic editable, building the compiled core (setup.py falls back to pure Python
# and leaves BUILD_FAILED, with the reason, when it cannot).
INSTALL_EDITABLE = $(VPY) -m pip install --quiet --no-build-isolation -e '.[$(EXTRAS)]'
BUILD_FAILED := tasktonic/_core/BUILD_FAILED

.PHONY: all demo examples test test-pythons bench clean

all: test

# (Re)create the venv and install tasktonic editable, with the compiled core
# when it builds (setup.py falls back to pure Python otherwise).  Rebuilt when
# the packaging files or the Cython sources change.
$(STAMP): pyproject.toml setup.py $(wildcard _core/*.pyx _core/*.pxd)
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet --upgrade 'Cython>=3.1' 'setuptools>=77' wheel
	$(if $(PINS),$(VPY) -m pip install --quiet $(foreach pin,$(PINS),'$(pin)'))
	$(INSTALL_EDITABLE)
	@suffix="$$($(VPY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"; \
	if ls tasktonic/_core/*"$$suffix" >/dev/null 2>&1; then \
		echo "tasktonic: compiled core built (*$$suffix)"; \
	else \
		echo "tasktonic: no compiled core for this interpreter in tasktonic/_core/ (pure-Python runtime)"; \
	fi
	@touch $@

# The IoT fleet demo with its embedded defaults (no broker, no server; a few seconds).
demo: $(STAMP)
	$(VPY) -m tasktonic demo

# The small examples, one after the other.
examples: $(STAMP)
	$(VPY) -m examples

# Suite runs twice: the compiled core (required: a silently pure run cannot pass as
# compiled), then the pure-Python twins.
# A compiled build that failed earlier (BUILD_FAILED) is retried first; if it fails again, the
# target stops with the reason instead of the suite's import errors.
test: $(STAMP)
	@if [ -e $(BUILD_FAILED) ]; then \
		echo "== the compiled core did not build last time ($$(cat $(BUILD_FAILED))): rebuilding =="; \
		$(INSTALL_EDITABLE); \
	fi
	@if [ -e $(BUILD_FAILED) ]; then \
		echo "tasktonic: the compiled core does not build: $$(cat $(BUILD_FAILED))"; \
		echo "tasktonic: install a C compiler and Cython (see the output above), then \`make test\` again"; \
		exit 1; \
	fi
	@echo "== tasktonic suite: compiled core =="
	TASKTONIC_REQUIRE_EXTENSIONS=1 $(VPY) -m pytest -q
	@echo "== tasktonic suite: pure-Python twins =="
	TASKTONIC_NO_EXTENSIONS=1 $(VPY) -m pytest -q

# `make test` once per version in PYTHONS (minus SKIP_PYTHONS), each with VENV=.venv-X.Y so
# the versions never clobber one another or the default .venv (the compiled modules of the
# versions sit side by side in tasktonic/_core/, one file name per interpreter). The
# interpreter of X.Y: the newest pyenv build `pyenv root`/versions/X.Y.N when pyenv is there,
# else pythonX.Y on PATH; a version with neither is skipped with a message. Every version
# found runs; the target fails if any of them failed.
test-pythons:
	@root="$$(pyenv root 2>/dev/null || true)"; passed=""; failed=""; skipped=""; \
	for v in $(filter-out $(SKIP_PYTHONS),$(PYTHONS)); do \
		py=""; \
		if [ -n "$$root" ]; then \
			dir="$$(ls -d "$$root/versions/$$v".* 2>/dev/null | grep -E "/$$v\.[0-9]+$$" | sort -V | tail -n 1)"; \
			if [ -n "$$dir" ] && [ -x "$$dir/bin/python$$v" ]; then py="$$dir/bin/python$$v"; fi; \
		fi; \
		if [ -z "$$py" ]; then py="$$(command -v "python$$v" 2>/dev/null || true)"; fi; \
		if [ -z "$$py" ] || [ "$$("$$py" -c "$(PY_ID)" 2>/dev/null)" != "CPython $$v" ]; then \
			echo "== test-pythons: CPython $$v not found (pyenv, python$$v on PATH): skipped =="; \
			skipped="$$skipped $$v"; continue; \
		fi; \
		echo "== test-pythons: CPython $$v: $$py (VENV=.venv-$$v) =="; \
		if $(MAKE) --no-print-directory test PYTHON="$$py" VENV=".venv-$$v"; then \
			passed="$$passed $$v"; \
		else \
			failed="$$failed $$v"; \
		fi; \
	done; \
	echo "== test-pythons: passed:$${passed:- none}; failed:$${failed:- none}; skipped:$${skipped:- none} =="; \
	test -z "$$failed"

bench: $(STAMP)
	$(VPY) -m pip install --quiet 'uvloop>=0.19' || echo "bench: no uvloop, its column stays n/a"
	$(VPY) -m bench

clean:
	rm -rf build dist wheelhouse *.egg-info
	rm -f _core/*.c _core/*.html
	rm -f tasktonic/_core/*.so tasktonic/_core/*.pyd
	rm -rf $(VENV) $(PYTHONS:%=.venv-%) .venv-3.13t
