# Two commands do all set-up on a fresh Debian machine: `make demo` and `make test`.
# Each creates .venv and installs from pyproject.toml when needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Airflow lives in its own venv (its pins are not the toolkit's): integrations/airflow/.
AIRFLOW_VENV  ?= .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
AIRFLOW_PINS  := integrations/airflow/requirements.txt integrations/airflow/constraints.txt
PYTEST_ARGS ?=
RUFF_PATHS := migration_kit tests bench integrations

.PHONY: demo test lint bench bench-small system-packages airflow-venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## Airflow, the papermill provider and the toolkit (editable), pinned by constraints.txt.
$(AIRFLOW_STAMP): $(AIRFLOW_PINS) pyproject.toml
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/pip install --quiet -c integrations/airflow/constraints.txt \
	    -r integrations/airflow/requirements.txt -e '.[postgres]'
	touch $(AIRFLOW_STAMP)

airflow-venv: $(AIRFLOW_STAMP)

## The main job: sample files -> scenarios -> prepare -> import -> export, on SQLite.
demo: $(STAMP)
	$(BIN)/migration-kit demo --output runs/demo

## The whole test suite (installs PostgreSQL and Chromium from Debian when missing, and
## Airflow's venv for the DAG test).
test: $(STAMP) $(AIRFLOW_STAMP) system-packages
	$(BIN)/ruff check $(RUFF_PATHS)
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS) tests

system-packages:
	bash scripts/system-packages.sh

lint: $(STAMP)
	$(BIN)/ruff check $(RUFF_PATHS)

## Benchmarks against the plain pandas way (see bench/README.md).
bench: $(STAMP) system-packages
	$(BIN)/python -m bench.run

bench-small: $(STAMP) system-packages
	$(BIN)/python -m bench.run --scale 0.05

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) runs .pytest_cache
