# Two commands a newcomer needs: `make demo` and `make test`. Both set themselves up on a fresh
# machine: a virtualenv in .venv, torch 2.13.0 first (the CPU wheel; a bare `torch` would pull a
# multi-GB CUDA build), then this project in editable mode, then the C++ shim (compiled once,
# cached under ~/.cache/deeplink).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.deeplink-installed
JOBS ?= 2

.PHONY: demo test test-slow test-pytorch bench setup clean chromium

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q --no-build-isolation -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/python -c "import deeplink" # compiles the shim once (about a minute on 2 cores)

demo: setup
	$(BIN)/deeplink info
	$(BIN)/deeplink demo --model llama --steps 5

# Browser tests of the conformance HTML report use Debian's chromium; install it when we can.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will skip"; }

test: setup chromium
	$(BIN)/python -m pytest -n $(JOBS) -q -p no:cacheprovider

# PyTorch's device-generic tests (tests/pytorch) for deeplink and cpu in one run; prints both pass counts.
test-pytorch: setup
	$(BIN)/python scripts/test_pytorch.py -n $(JOBS)

test-slow: setup chromium
	$(BIN)/python -m pytest -q -m slow

bench: setup
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/bench_profiler.py
	$(BIN)/python benchmarks/bench_checks.py
	$(BIN)/python benchmarks/bench_distributed.py

clean:
	rm -rf $(VENV) build *.egg-info
