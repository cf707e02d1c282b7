# Two commands on a fresh machine: `make demo` and `make test`. Only Python 3.11+ is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m featurestore.demo definitions

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check featurestore server tests bench definitions
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check featurestore server tests bench definitions
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run

serve: $(STAMP)
	$(BIN)/featurestore serve --repo definitions

clean:
	rm -rf $(VENV) definitions/data bench/data .pytest_cache .mypy_cache .ruff_cache
