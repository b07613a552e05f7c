# Antoan: `make demo` runs the whole system, `make test` the whole suite. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
# uv from the PATH, else a private copy installed from PyPI into .tools/ on first use.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
# The targets below install what they need first (two sets, see `install`), so `uv run` never syncs by itself.
RUN := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install install-run demo up down status test test-unit lint format bench soak clean web-vendor

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	@echo "installing uv $(UV_VERSION) into .tools/ (first run only)"
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

PROJECT_FILES := $(UV) uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml \
	deploy/localstack/pyproject.toml bench/pyproject.toml

# What runs the system: the services, the shared package and the local stack; no test or benchmark tools.
.venv/.synced-run: $(PROJECT_FILES)
	$(UV) sync --frozen --no-default-groups --inexact
	@touch $@

# Everything: the above plus the test tools (`dev`) and the benchmark (`bench`).
.venv/.synced: $(PROJECT_FILES)
	$(UV) sync --frozen --all-groups
	@touch $@ .venv/.synced-run

install-run: .venv/.synced-run ## install only what runs the system (what `make demo` and `make up` need)

install: .venv/.synced ## install everything from the lock file: the system, the test tools and the benchmark

demo: install-run ## Kafka, Redis, the three services and a simulated province in the foreground; Ctrl-C stops all
	$(RUN) python -m antoan_localstack demo

up: install-run ## the same stack in the background; returns once every service is ready
	$(RUN) python -m antoan_localstack up

down: install-run ## stop everything `make up` started
	$(RUN) python -m antoan_localstack down

status: install-run ## what is running
	$(RUN) python -m antoan_localstack status

lint: install ## ruff and mypy (strict); gofmt and go vet for the benchmark's load generator when Go is here
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	@if command -v go >/dev/null; then \
		test -z "$$(gofmt -l bench/scanload)" || { gofmt -l bench/scanload; exit 1; }; \
		cd bench/scanload && GOTOOLCHAIN=local go vet ./...; \
	fi

format: install ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

test-unit: install ## unit tests only: no broker, no Redis
	$(RUN) pytest -m "not integration" $(PYTEST_ARGS)

test: lint ## the whole suite: lint, unit and integration tests on parallel workers (starts Kafka and Redis when none are given)
	$(RUN) python -m antoan_localstack.suite $(PYTEST_ARGS)

bench: install ## the benchmark (SPEC §6) with its own stack and PostgreSQL; BENCH_ARGS="--scale tiny" for a quick one
	$(RUN) python -m antoan_bench $(BENCH_ARGS)

soak: install ## watch a running `make demo` (another terminal) for SOAK_MINUTES (60): is the tracer current? plot in bench/results/
	$(RUN) python -m antoan_bench.soak --minutes $(or $(SOAK_MINUTES),60) $(SOAK_ARGS)

web-vendor: ## re-fetch the vendored front-end libraries (npm ci, pinned by package-lock.json): the map's Leaflet, the API docs' Swagger UI and ReDoc
	services/safety-map/web/vendor.sh
	shared/web/vendor.sh
	web/vendor.sh

clean: ## remove local state (.run/) and caches; keeps generated secrets and the Kafka jar cache
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache
