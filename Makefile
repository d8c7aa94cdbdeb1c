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

.PHONY: install run test ui lint lock clean-var dbt-manifest bench system-tools

# Installs the locked dependencies into .venv; re-runs only when the lock or pyproject changes.
# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set, every command would
# otherwise recompile Dagster's sources on start (≈ 5 s of each `kvalreg process`).
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

# The dbt manifest is prepared here, at build time, so the Dagster code location never parses
# the dbt project on load (assets/dbt.py reads dbt_project/target/manifest.json). Re-made when a
# model, macro, YAML file or reference CSV changes; the sources YAML is checked to match the
# codebooks first (regenerate with `$(BIN)/python -m kvalreg.dbt_sources`). Parsed with the vars
# the marts runs pass (assets/dbt.py), so their partial parse is valid for KVALREG_HOME.
DBT_MANIFEST := dbt_project/target/manifest.json
DBT_INPUTS := $(shell find dbt_project -path dbt_project/target -prune -o -path dbt_project/logs \
	-prune -o -type f \( -name '*.sql' -o -name '*.yml' \) -print) $(wildcard kvalreg/reference/*.csv)

$(DBT_MANIFEST): $(VENV)/.installed $(DBT_INPUTS)
	$(BIN)/python -m kvalreg.dbt_sources --check
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir . --vars '{"kvalreg_home": "$(KVALREG_HOME)"}'

dbt-manifest: $(DBT_MANIFEST)

install: $(VENV)/.installed $(DBT_MANIFEST)

# Delivery runs and tests against a real OpenSSH sshd, OpenSSH's sftp client and openssl.
# On a fresh machine (CI) they are installed from Debian (needs root); never skipped.
SYSTEM_TOOLS := /usr/sbin/sshd /usr/bin/sftp /usr/bin/openssl

$(SYSTEM_TOOLS):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		openssh-server openssh-client openssl

system-tools: $(SYSTEM_TOOLS)

# Generate both demo registries (defects planted in hjerneslag), drop their dumps into
# landing/ and the demo release request into releases/requests/, ingest, build the marts and
# the release (package + key file) through the persistent Dagster instance, and say where
# things are; then deliver each registry's NPR extract and the demo release (package to the
# researcher, key file to Helsedataservice) to a local sshd (started and stopped here).
DEMO_REQUEST := kvalreg/registries/hoftebrudd/releases/hoftebrudd-demo.yaml
run: install system-tools
	$(BIN)/kvalreg generate --registry hoftebrudd --out $(GENERATED)/hoftebrudd --rows $(ROWS) --seed 1
	$(BIN)/kvalreg generate --registry hjerneslag --out $(GENERATED)/hjerneslag --rows $(ROWS) --seed 2 --defects
	$(BIN)/kvalreg drop $(GENERATED)/hoftebrudd/* $(GENERATED)/hjerneslag/*
	$(BIN)/kvalreg release submit $(DEMO_REQUEST)
	$(BIN)/kvalreg process
	$(BIN)/kvalreg info
	$(BIN)/python infra/demo_delivery.py $(DEMO_REQUEST)

test: install system-tools
	$(BIN)/ruff check .
	$(BIN)/pytest -q

# Every stage beside its floor (bench/run.py); writes bench/results.json and bench/RESULTS.md.
# Sizes default to 100k, 1M and 10M registrations: `make bench BENCH_SIZES="100000"` for less.
BENCH_SIZES ?= 100000 1000000 10000000
bench: install
	$(BIN)/python bench/run.py --sizes $(BENCH_SIZES)

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
