# The README's commands. Every target makes the virtual environment it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test bench lint format contracts clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## generate a demo province, load it, serve the API (http://127.0.0.1:8000/docs)
	$(BIN)/oversight demo

test: $(STAMP)  ## the test suite on SQLite and on PostgreSQL (skipped, and named, where not running)
	$(BIN)/python -m pytest -n auto --dist loadgroup $(PYTEST_ARGS)

bench: $(STAMP)  ## benchmarks under bench/; figures go to bench/RESULTS.md
	$(BIN)/python -m bench.run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy api schema connectors security cli demo monitor

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

contracts: $(STAMP)  ## regenerate openapi/openapi.json (and later schema.graphql) from the code
	$(BIN)/python -m api.contracts

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .mypy_cache
