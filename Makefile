# The two commands: `make run` serves the graph, `make test` runs the checks.
# Each creates .venv when absent and installs the project into it first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck pytest sandbox clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "clubgraph needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

# W2, one of the canonical workloads, asks for 500 invoices in one page.
run: $(STAMP)
	CLUBGRAPH_MAX_PAGE_SIZE=$${CLUBGRAPH_MAX_PAGE_SIZE:-500} $(BIN)/clubgraph serve

sandbox: $(STAMP)
	$(BIN)/clubgraph sandbox

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The real clients and tools the tests run against the server (tests/node), from the
# lock file; without npm the tests that need them skip (and fail under CI=true).
NODE_STAMP := tests/node/node_modules/.installed-$(shell cat tests/node/package-lock.json | cksum | cut -d' ' -f1)

$(NODE_STAMP): tests/node/package-lock.json
	@if command -v npm >/dev/null; then \
		(cd tests/node && npm ci --no-audit --no-fund --loglevel=error) && touch $(NODE_STAMP); \
	else echo "no npm: tests that run node tools skip"; fi

pytest: $(STAMP) $(NODE_STAMP)
	@bash scripts/test-services.sh
	$(BIN)/pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# The benchmark (bench/README.md): clubgraph and its peers over the sandbox, figures in
# bench/results/. Options: BENCH_ARGS="--quick --peers clubgraph --workloads W0,W1".
.PHONY: bench
BENCH_STAMP := $(VENV)/.bench-installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

$(BENCH_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@rm -f $(VENV)/.bench-installed-*
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@for lock in bench/peers/*/package-lock.json; do \
		[ -f "$$lock" ] || continue; \
		dir=$$(dirname "$$lock"); \
		if ! command -v npm >/dev/null; then echo "bench: no npm; $$dir is skipped"; continue; fi; \
		echo "bench: npm ci in $$dir"; \
		(cd "$$dir" && npm ci --no-audit --no-fund --loglevel=error) || echo "bench: npm ci failed in $$dir; it is skipped"; \
	done
	$(BIN)/python -m bench $(BENCH_ARGS)
