# Two entry points for a fresh machine: `make run` (the app) and `make test` (the suite).
# Both install into .venv/ at the repo root.  torch is pinned first: 2.13.0 is the CPU
# build (an unpinned torch pulls a multi-GB CUDA build).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $@

.PHONY: run test install
install: $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/paper-assistant chat

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest -q
