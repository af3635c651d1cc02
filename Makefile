# tasktonic developer entry points (GNU make).
# Needs only python3, a C compiler and make; everything else goes in $(VENV).

PYTHON ?= python3
VENV   ?= .venv

VPY   := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: all demo test bench clean

all: test

# (Re)create the venv and install tasktonic editable, with the compiled core
# when it builds (setup.py falls back to pure Python otherwise).  Rebuilt when
# the packaging files or the Cython sources change.
$(STAMP): pyproject.toml setup.py $(wildcard _core/*.pyx _core/*.pxd)
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet --upgrade 'Cython>=3.0.10' 'setuptools>=77' wheel
	$(VPY) -m pip install --quiet --no-build-isolation -e '.[test]'
	@if ls tasktonic/_core/*.so >/dev/null 2>&1; then \
		echo "tasktonic: compiled core built"; \
	else \
		echo "tasktonic: no compiled core in tasktonic/_core/ (pure-Python runtime)"; \
	fi
	@touch $@

demo: $(STAMP)
	$(VPY) -m examples

# Suite runs twice: the compiled core (required: a silently pure run cannot pass as
# compiled), then the pure-Python twins.
test: $(STAMP)
	@echo "== tasktonic suite: compiled core =="
	TASKTONIC_REQUIRE_EXTENSIONS=1 $(VPY) -m pytest -q
	@echo "== tasktonic suite: pure-Python twins =="
	TASKTONIC_NO_EXTENSIONS=1 $(VPY) -m pytest -q

bench: $(STAMP)
	$(VPY) -m pip install --quiet 'uvloop>=0.19' || echo "bench: no uvloop, its column stays n/a"
	$(VPY) -m bench

clean:
	rm -rf build dist wheelhouse *.egg-info
	rm -f _core/*.c _core/*.html
	rm -f tasktonic/_core/*.so tasktonic/_core/*.pyd
	rm -rf $(VENV)
