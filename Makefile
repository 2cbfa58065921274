# The README's commands. `make demo` and `make test` install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.install-stamp
export PATH := $(CURDIR)/$(BIN):$(PATH)
PYTEST_ARGS ?=

.PHONY: install system-deps lock test demo lint bench clean help

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

install: $(STAMP)

# Debian's Chromium renders the lineage page in a test. Installed when missing and apt-get is usable
# (root); otherwise that test skips with the reason (and fails under CI=true).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium (headless page rendering in tests)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; }; \
	  else echo "warning: chromium is missing and apt-get is not usable; the lineage rendering test will skip"; fi; }

lock:
	$(BIN)/uv pip compile requirements.in --override overrides.txt -o requirements.lock --python-version 3.11

test: $(STAMP) system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python -m airflow_provider_lakeops.testing.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	@set -e; for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf .lakeops dist build
