# agentq: a lightweight job queue for long-running AI-agent jobs.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PY     := .venv/bin/python
VENV   := .venv/.installed
WEBOUT := web/out/index.html
export NEXT_TELEMETRY_DISABLED := 1

.PHONY: help run lint test test-fast test-py test-web bench bench-quick install web web-types up down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV) ## create .venv and install the project with its test tools

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

$(WEBOUT): web/node_modules/.installed $(shell find web/app web/components web/lib -type f 2>/dev/null) web/next.config.mjs web/package.json
	cd web && npm run build

web: $(WEBOUT) ## build the web UI as static files into web/out

web-types: $(VENV) web/node_modules/.installed ## regenerate web/lib/api-types.ts from the API's OpenAPI schema
	cd web && npm run types

run: $(VENV) $(WEBOUT) ## start Redis (if none answers), the API and UI on :8000 and WORKERS (2) workers
	$(PY) -m src.run

lint: $(VENV) ## ruff (with a complexity cap), mypy (strict on src/queue) and the import layers
	.venv/bin/ruff check src tests bench examples
	.venv/bin/mypy
	.venv/bin/lint-imports

test: $(VENV) lint $(WEBOUT) ## lint, then every test: Python (real Valkey) and web (Vitest + Chromium)
	$(PY) -m pytest
	cd web && npm run types:check && npm run typecheck && npm test && npm run size && npm run e2e

test-fast: $(VENV) lint ## lint, then the Python tests without the slow reliability suite
	$(PY) -m pytest -m 'not slow'

test-py: $(VENV) ## every Python test
	$(PY) -m pytest

test-web: $(VENV) $(WEBOUT) ## the web tests alone
	cd web && npm run types:check && npm run typecheck && npm test && npm run size && npm run e2e

bench: $(VENV) ## benchmarks against Dramatiq, taskiq, SAQ, RQ and arq, empty and I/O task bodies (about 30 min)
	bash bench/run.sh

bench-quick: $(VENV) ## a ~3 minute smoke run of the benchmarks (one run, fewer jobs)
	BENCH_QUICK=1 bash bench/run.sh

up: ## docker compose up: Valkey, the API on 127.0.0.1:8000 and 2 workers (needs a container engine)
	docker compose up -d --build --wait

down: ## docker compose down
	docker compose down

clean: ## remove build output and local data
	rm -rf web/out web/.next .data .pytest_cache
