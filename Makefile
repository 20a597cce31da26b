# The one command surface: every way to run, test and check the project is here.
# Only python3.11 is needed on the machine; uv itself is installed into .tools/.

PYTHON ?= python3.11
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
RUN := $(UV) run --frozen --no-sync

CHROMIUM ?= /usr/bin/chromium

.PHONY: install browser run test test-unit test-integration test-e2e test-faults lint format check clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

install: $(UV)  ## install every dependency from uv.lock into .venv
	$(UV) sync --frozen

browser:  ## Debian's Chromium for the dashboard's browser test (apt-get, needs root); skipped if present
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

run: install  ## start the API, the NER and LLM workers and the projector (RabbitMQ and Redis must be up)
	$(RUN) python scripts/run.py

test: install browser  ## the whole suite against the real RabbitMQ and Redis
	$(RUN) pytest tests/unit tests/integration tests/e2e tests/faults

test-unit: install
	$(RUN) pytest tests/unit

test-integration: install
	$(RUN) pytest tests/integration

test-e2e: install browser
	$(RUN) pytest tests/e2e

test-faults: install  ## fault injection against a throwaway RabbitMQ node and Redis server
	$(RUN) pytest tests/faults

lint: install  ## ruff (lint and format) and mypy, as CI runs them
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

check: lint test

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache
