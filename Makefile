# evalkit — every target installs what it needs from the hash-checked locks in requirements/.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps
export LITELLM_LOCAL_MODEL_COST_MAP := True
export PYTHONDONTWRITEBYTECODE := 1

SUITE ?= classification
MODELS ?=
LIMIT ?=
SHARD ?=
RUN ?=

.PHONY: help venv eval run validate report gate test test-local test-slow test-proxy lint bench lock clean browser

help:
	@echo "make eval SUITE=classification [MODELS=a,b] [LIMIT=n]   run a suite and write its report"
	@echo "make test                                               unit + integration tests (no model, no keys)"
	@echo "make test-local                                         end-to-end test on the embedded llama.cpp model"
	@echo "make test-proxy                                         two shards through a LiteLLM Proxy on 127.0.0.1"
	@echo "make report RUN=results/<suite>/<run>                   regenerate a run's report from its folder"
	@echo "make gate RUN=results/<suite>/<run>                     apply the suite's gate rules (exit code)"
	@echo "make lint                                               ruff + mypy + the layering contracts (import-linter)"

# The environment is built from the locks only (--require-hashes --no-deps): nothing unpinned gets in.
$(VENV)/.main: requirements/main.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements/main.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.dev: $(VENV)/.main requirements/dev.lock
	$(PIP) -r requirements/dev.lock
	touch $@

$(VENV)/.local: $(VENV)/.main requirements/local.lock
	$(PIP) -r requirements/local.lock
	touch $@

# The LiteLLM Proxy (litellm[proxy]) for `make test-proxy`: its own lock, constrained by main.lock.
$(VENV)/.proxy: $(VENV)/.main requirements/proxy.lock
	$(PIP) -r requirements/proxy.lock
	touch $@

venv: $(VENV)/.main

eval: $(VENV)/.main $(VENV)/.local
	$(BIN)/evalkit run suites/$(SUITE).yaml $(if $(MODELS),--models $(MODELS)) $(if $(LIMIT),--limit $(LIMIT)) $(if $(SHARD),--shard $(SHARD))

validate: $(VENV)/.main
	$(BIN)/evalkit validate suites/$(SUITE).yaml

report: $(VENV)/.main
	@test -n "$(RUN)" || { echo "usage: make report RUN=results/<suite>/<run-id>"; exit 2; }
	$(BIN)/evalkit report $(RUN)

gate: $(VENV)/.main
	@test -n "$(RUN)" || { echo "usage: make gate RUN=results/<suite>/<run-id>"; exit 2; }
	$(BIN)/evalkit gate $(RUN)

# The report is checked in a real browser: Debian's Chromium driven by Selenium through Debian's
# chromedriver (no browser or driver download, Selenium Manager is never used; it fails here).
browser:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$${missing:+$$missing }chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's $$missing for the report's browser tests"; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	  ($$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	  || echo "could not install $$missing: the browser tests will be skipped (and fail when CI is set)"; \
	fi

test: $(VENV)/.dev $(VENV)/.local browser
	$(BIN)/python -m pytest -q

test-local: $(VENV)/.dev $(VENV)/.local
	$(BIN)/python -m pytest -q -m local

test-slow: $(VENV)/.dev
	$(BIN)/python -m pytest -q -m slow

# Two shards through a LiteLLM Proxy started on 127.0.0.1 in front of the test server (docs/scaling-open-models.md).
test-proxy: $(VENV)/.dev $(VENV)/.proxy
	$(BIN)/python -m pytest -q -m proxy

lint: $(VENV)/.dev
	$(BIN)/ruff check evalkit tests
	$(BIN)/ruff format --check evalkit tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# The performance benchmark (~15 min on 2 cores): writes bench/results.md (see bench/run.py).
bench: $(VENV)/.main $(VENV)/.local
	$(BIN)/python bench/run.py

# Regenerate the locks (needs uv and the package registry). Review the diff before committing.
lock:
	uv pip compile --python-version 3.11 --generate-hashes --quiet requirements/main.in -o requirements/main.lock
	uv pip compile --python-version 3.11 --generate-hashes --quiet requirements/dev.in -o requirements/dev.lock
	uv pip compile --python-version 3.11 --generate-hashes --quiet --excludes requirements/local-excludes.txt requirements/local.in -o requirements/local.lock
	uv pip compile --python-version 3.11 --generate-hashes --quiet --overrides requirements/proxy-overrides.txt requirements/proxy.in -o requirements/proxy.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
