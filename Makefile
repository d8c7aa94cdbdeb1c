# kvalreg: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export KVALREG_HOME ?= $(CURDIR)/var
export DAGSTER_HOME ?= $(KVALREG_HOME)/dagster
GENERATED := $(KVALREG_HOME)/generated
ROWS ?= 20000

.PHONY: install run test ui lint lock clean-var

# Installs the locked dependencies into .venv; re-runs only when the lock or pyproject changes.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

install: $(VENV)/.installed

# Generate both demo registries (defects planted in hjerneslag), drop their dumps into
# landing/, ingest them through the persistent Dagster instance, and say where things are.
run: install
	$(BIN)/kvalreg generate --registry hoftebrudd --out $(GENERATED)/hoftebrudd --rows $(ROWS) --seed 1
	$(BIN)/kvalreg generate --registry hjerneslag --out $(GENERATED)/hjerneslag --rows $(ROWS) --seed 2 --defects
	$(BIN)/kvalreg drop $(GENERATED)/hoftebrudd/* $(GENERATED)/hjerneslag/*
	$(BIN)/kvalreg process
	$(BIN)/kvalreg info

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q

# The Dagster UI and daemon on http://127.0.0.1:3000, on the same instance `make run` used.
ui: install
	$(BIN)/python -m orchestration.instance
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-resolve the lock after editing pyproject.toml dependencies.
lock: install
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --python-version 3.11 -o requirements.lock
