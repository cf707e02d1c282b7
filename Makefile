# Two commands on a fresh machine: `make demo` and `make test`. Only Python 3.11+ is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
# `make demo REDIS_URL=redis://host:6379/0` runs the demo on Redis instead of the embedded SQLite store
REDIS_URL ?=

.PHONY: demo test lint bench bench-feast clean serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP) $(DEMO_STAMP)

# the demo needs only the server and pandas extras (much faster to install than the dev tools)
$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[server,pandas]"
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m featurestore.demo definitions $(if $(REDIS_URL),--redis-url '$(REDIS_URL)')

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check featurestore server tests bench definitions
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check featurestore server tests bench definitions
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run

# Feast's current release in its own venv; `make bench` then runs the same workloads on Feast
bench-feast:
	$(PYTHON) -m venv .venv-feast
	.venv-feast/bin/python -m pip install --quiet --upgrade pip
	.venv-feast/bin/pip install --quiet --upgrade 'feast[redis]'
	.venv-feast/bin/python -c "import feast; print('Feast', feast.__version__, 'in .venv-feast')"

serve: $(STAMP)
	$(BIN)/featurestore serve --repo definitions

clean:
	rm -rf $(VENV) .venv-feast definitions/data bench/data .pytest_cache .mypy_cache .ruff_cache
