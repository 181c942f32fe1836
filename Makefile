# Each target builds (or refreshes) its own virtualenv in .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: tour test lint bench golden docs captures clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

tour: $(STAMP)
	$(BIN)/rawproto tour

lint: $(STAMP)
	$(BIN)/ruff check rawproto tests $(wildcard benchmarks/*.py)
	$(BIN)/mypy rawproto

test: lint
	$(BIN)/pytest -q

golden: $(STAMP)
	NO_COLOR=1 $(BIN)/rawproto tour --deterministic > tests/golden/tour.txt

# Needs `wrk` and `taskset` (apt-get install wrk util-linux) for the HTTP scenario.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

docs: $(STAMP)
	$(BIN)/python -m rawproto.docsgen

captures: $(STAMP)
	$(BIN)/rawproto capture --out captures/
