# The README's commands. `make demo` and `make test` install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.install-stamp
export PATH := $(CURDIR)/$(BIN):$(PATH)
PYTEST_ARGS ?=

.PHONY: install system-deps jvm-deps lock test demo lint bench clean help
JVM_STAMP := build/jvm/.stamp

help:
	@echo "make demo    - run the daily pipeline end to end on the embedded local stack"
	@echo "make test    - run the whole test suite"
	@echo "make lint    - ruff + mypy"
	@echo "make bench   - run the benchmarks (prints ratios)"
	@echo "make install - create .venv from requirements.lock"
	@echo "make lock    - re-resolve requirements.lock with uv"

# .venv is (re)built when the lock or the project metadata changes.
$(STAMP): requirements.lock pyproject.toml $(wildcard dbt/models/*/*.sql dbt/models/*.yml dbt/models/*/*.yml) dbt/dbt_project.yml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m airflow_provider_lakeops.dbt parse --project-dir dbt
	@touch $(STAMP)

install: $(STAMP) $(JVM_STAMP)

# Debian packages the local stack runs: MariaDB and PostgreSQL (own servers, own ports, started by
# the stack; never the system services), Chromium (renders the lineage page in a test). Installed when
# missing and apt-get is usable (root); otherwise the tests that need them skip with the reason (and
# fail under CI=true). infra/apt-install keeps the package's own service from starting.
system-deps:
	@bash infra/apt-install mariadbd:mariadb-server initdb:postgresql chromium:chromium

# The JVM servers' jars from Maven Central (infra/jvm/pom.xml): Kafka + Connect, the Debezium
# plugins, Spark's Kafka source. Maven caches them in ~/.m2; build/jvm is refreshed when the poms change.
$(JVM_STAMP): $(wildcard infra/jvm/pom.xml infra/jvm/*/pom.xml)
	@command -v mvn >/dev/null || { echo "mvn is missing: install Maven (apt-get install maven)"; exit 1; }
	rm -rf build/jvm
	mvn -q -B -f infra/jvm/pom.xml dependency:copy-dependencies
	@touch $(JVM_STAMP)

jvm-deps: $(JVM_STAMP)

lock:
	$(BIN)/uv pip compile requirements.in --override overrides.txt -o requirements.lock --python-version 3.11

test: $(STAMP) $(JVM_STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP) $(JVM_STAMP) system-deps
	$(BIN)/python tools/demo.py

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	@set -e; for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf .lakeops dist build
