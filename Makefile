# Nanum — `make` (or `make help`) lists the targets.
#
# Needs only python3 (3.11+), make and git: what else is missing (python3-venv, PostgreSQL,
# Redis) is installed with apt-get on first use. PostgreSQL and Redis run from .devdata/ unless
# BOOKING_DATABASE_URL / BOOKING_REDIS_URL are set (see scripts/dev-services.sh).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
UV_STAMP := $(VENV)/.uv-$(UV_VERSION)
SYNC_STAMP := $(VENV)/.synced
PYTEST_ARGS ?=
BENCH_ARGS ?=

# The project runs from the repo root, importable through PYTHONPATH (no package install).
export PYTHONPATH := $(CURDIR)
SYSTEM_PATH := $(PATH)
export PATH := $(CURDIR)/$(VENV)/bin:$(SYSTEM_PATH)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
unexport VIRTUAL_ENV

SERVICES := bash scripts/dev-services.sh
# Prefix for commands that need the database and Redis URLs (only fills the unset ones).
WITH_SERVICES := services_env="$$($(SERVICES) env)"; eval "$$services_env";

.PHONY: help install web-assets test-web services migrate run test soak lint typecheck format bench status stop clean clean-data

help: ## Show this help
	@echo "Usage: make TARGET"
	@awk -F ':.*## ' '/^[a-z][a-z-]*:.*## / { printf "  %-11s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

install: $(SYNC_STAMP) web-assets ## Create .venv and install the locked dependencies (a no-op when up to date)

web-assets: $(SYNC_STAMP) ## npm ci the pages' front-end packages and build the fingerprinted assets
	bash scripts/ensure-web-assets.sh $(PY)

$(UV_STAMP):
	PATH="$(SYSTEM_PATH)" bash scripts/ensure-venv.sh $(VENV) $(UV_VERSION)
	touch $@

$(SYNC_STAMP): $(UV_STAMP) uv.lock pyproject.toml
	$(VENV)/bin/uv sync --frozen --inexact --python $(PY)
	touch $@

services: ## Start local PostgreSQL (127.0.0.1:55432) and Redis (127.0.0.1:56379), if not running
	$(SERVICES) up

migrate: install services ## Apply the SQL migrations
	$(WITH_SERVICES) $(PY) -m booking migrate

run: install services migrate ## Load demo data; run API, worker and SMTP sink (Ctrl-C stops them)
	bash scripts/run-dev.sh

test: install services lint typecheck ## Lint, type-check and run the tests (PYTEST_ARGS="-x -k ...")
	bash scripts/ensure-browser.sh
	$(WITH_SERVICES) BOOKING_ENV=test $(PY) -m pytest $(PYTEST_ARGS)

test-web: install services ## Only the browser tests of the pages (tests/web; screenshots in artifacts/)
	bash scripts/ensure-browser.sh
	$(WITH_SERVICES) BOOKING_ENV=test $(PY) -m pytest tests/web $(PYTEST_ARGS)

soak: install services ## Ten minutes of load with Postgres, Redis and worker faults (tests/soak.py)
	$(WITH_SERVICES) BOOKING_ENV=test $(PY) -m tests.soak --seconds $${SOAK_SECONDS:-600}

lint: install ## Check style and formatting (ruff)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install ## Type-check (mypy)
	$(VENV)/bin/mypy

format: install ## Fix what ruff can and format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install services ## Run the benchmarks (python -m bench; BENCH_ARGS="booking" picks some)
	bash scripts/ensure-bench-tools.sh
	$(WITH_SERVICES) $(PY) -m bench $(BENCH_ARGS)

status: ## Show whether the local PostgreSQL and Redis run, and where
	$(SERVICES) status

stop: ## Stop the local PostgreSQL and Redis (their data stays in .devdata/)
	$(SERVICES) down

clean: ## Remove .venv and the tool caches (keeps .devdata/)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
	find . \( -path ./.devdata -o -path ./.git \) -prune -o -name __pycache__ -type d -exec rm -rf {} +

clean-data: stop ## Stop the local services and delete their data (.devdata/)
	if [ -L .devdata/pg ]; then \
	  pgdir="$$(readlink -f .devdata/pg)"; rm -rf "$$pgdir"; rmdir "$${pgdir%/*}" 2>/dev/null || true; \
	fi
	rm -rf .devdata
