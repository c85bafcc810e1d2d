# Two commands do all set-up on a fresh Debian machine: `make demo` and `make test`.
# Each creates .venv and installs from pyproject.toml when needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint bench bench-small system-packages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## The main job: sample files -> scenarios -> prepare -> import -> export, on SQLite.
demo: $(STAMP)
	$(BIN)/migration-kit demo --output runs/demo

## The whole test suite (installs PostgreSQL and Chromium from Debian when missing).
test: $(STAMP) system-packages
	$(BIN)/ruff check migration_kit tests bench
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS) tests

system-packages:
	bash scripts/system-packages.sh

lint: $(STAMP)
	$(BIN)/ruff check migration_kit tests bench

## Benchmarks against the plain pandas way (see bench/README.md).
bench: $(STAMP) system-packages
	$(BIN)/python -m bench.run

bench-small: $(STAMP) system-packages
	$(BIN)/python -m bench.run --scale 0.05

clean:
	rm -rf $(VENV) runs .pytest_cache
