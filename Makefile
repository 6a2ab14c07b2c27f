# modassist: `make run` starts the whole product, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
ARTIFACTS := service/scoring/artifacts

.PHONY: install models run test lint typecheck unit check-services clean

install: $(STAMP) models

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

# Trains only the models whose artifacts are missing (they are normally in the repository).
models: $(STAMP)
	$(BIN)/modassist train --missing-only

run: install
	$(BIN)/modassist run

check-services:
	bash scripts/ensure-services.sh

lint: $(STAMP)
	$(BIN)/ruff check service worker tests bench
	$(BIN)/ruff format --check service worker tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: install check-services lint typecheck
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
