# kfp-quality-gates: every target creates/uses the project's own virtual environment (.venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_HOME ?= .demo

.PHONY: install demo demo-fail demo-biased demo-leaky test test-fast lint format compile bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## The main job end to end on the embedded default: candidate gated and promoted to staging.
demo: install
	$(BIN)/quality-gates demo --home $(DEMO_HOME)

## The failing path: a weak candidate is evaluated and not promoted; the scorecard says why.
demo-fail: install
	$(BIN)/quality-gates demo --fail --home $(DEMO_HOME)

## A model trained on biased labels that uses `sex`: the fairness gate names the disparity.
demo-biased: install
	$(BIN)/quality-gates demo --scenario biased --home $(DEMO_HOME)

## The good candidate on evaluation data whose free-text notes hold e-mails and phone numbers.
demo-leaky: install
	$(BIN)/quality-gates demo --scenario leaky --home $(DEMO_HOME)

## Every test: unit, components (kfp.local), pipelines (compile + local runs), integration (mlflow server).
test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Recompile every component.yaml and pipelines/compiled/*.yaml (committed; a test checks staleness).
compile: install
	$(BIN)/quality-gates compile

bench: install
	$(BIN)/python bench/bench_performance.py

clean:
	rm -rf $(DEMO_HOME) local_outputs .pytest_cache
