# Two commands on a fresh Debian machine: `make demo` and `make test` (both set up first).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := gcc libc6-dev make cmake gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm clang libclang-rt-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_OUT ?= out/demo
PYTEST_ARGS ?=

.PHONY: setup apt venv demo test test-fast bench fuzz clean

setup: apt venv

# Debian packages: installed only when one is missing (keeps `make setup` quick when done).
apt:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || ! $(PYTHON) -m venv --help >/dev/null 2>&1; then \
	  echo "setup: installing Debian packages: $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    $(APT_PACKAGES) $$($(PYTHON) -m venv --help >/dev/null 2>&1 || echo python3 python3-venv python3-dev); \
	fi

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt constraints.txt setup.py pyproject.toml
	@set -e; t0=$$(date +%s); \
	echo "setup: Python packages into $(VENV) (pinned in constraints.txt; TensorFlow is most of it, ~3 min the first time)"; \
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV); \
	echo "setup: [1/4] pip"; $(PY) -m pip install -q --upgrade pip; \
	echo "setup: [2/4] requirements.txt"; $(PY) -m pip install -q -r requirements.txt -c constraints.txt; \
	echo "setup: [3/4] tf-keras, tfmot (--no-deps: keeps tensorflow-cpu)"; \
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt -c constraints.txt; \
	echo "setup: [4/4] rct_tflm (editable)"; $(PY) -m pip install -q --no-deps -e .; \
	touch $@; echo "setup: Python packages done in $$(( $$(date +%s) - t0 )) s"

demo: setup
	$(VENV)/bin/rct-tflm demo --out $(DEMO_OUT)

# The whole suite, slow end-to-end tests included (CI runs this).
test: setup
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

# Benchmarks print a table and write bench/*.json (bench_paper needs ../shared/datasets,
# bench_mcu ../shared/peers).
bench: setup
	$(PY) tools/bench_paper.py
	$(PY) tools/bench_engine.py
	$(PY) tools/bench_link.py
	$(PY) tools/bench_fleet.py
	$(PY) tools/bench_tflite.py
	$(PY) tools/bench_mcu.py --kernels portable,fast
	$(PY) tools/bench_memory.py

# The long fuzz run of the firmware's frame receiver + dispatch (make test runs 30 s of it).
fuzz: setup
	$(PY) tests/fuzz/build.py --runs 1000000

clean:
	rm -rf out build *.egg-info .pytest_cache
