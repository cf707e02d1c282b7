# Two commands on a fresh machine: `make demo` and `make test`. Only Python 3.11+ is needed.
PYTHON ?= python3
VENV ?= .venv
# a pandas requirement installed with the rest (default: the newest release); `make test-pandas2` sets it
PANDAS ?=
PANDAS2 := pandas>=2.2,<3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
# `make demo REDIS_URL=redis://host:6379/0` runs the demo on Redis instead of the embedded SQLite store
REDIS_URL ?=

.PHONY: demo test lint bench bench-feast clean serve test-pandas2 demo-pandas2 pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]" $(if $(PANDAS),'$(PANDAS)')
	touch $(STAMP) $(DEMO_STAMP)

# the demo needs only the server and pandas extras (much faster to install than the dev tools)
$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[server,pandas]" $(if $(PANDAS),'$(PANDAS)')
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m featurestore.demo definitions $(if $(REDIS_URL),--redis-url '$(REDIS_URL)')

# the UI's browser tests need Debian's chromium: installed when missing and possible (root), else they skip
# (unless FEATURESTORE_REQUIRE_BROWSER=1, as in CI)
test: $(STAMP)
	@sh deploy/install-browser.sh || echo "no chromium: the browser tests of the web UI will skip"
	@sh deploy/install-java.sh || echo "no java: the Spark engine's tests will skip"
	@sh deploy/install-redis.sh || echo "no redis-cli: the Redis Cluster tests will skip"
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check featurestore server tests bench definitions
	$(BIN)/mypy

pytest: $(STAMP)
	@sh deploy/install-browser.sh || echo "no chromium: the browser tests of the web UI will skip"
	@sh deploy/install-java.sh || echo "no java: the Spark engine's tests will skip"
	@sh deploy/install-redis.sh || echo "no redis-cli: the Redis Cluster tests will skip"
	@sh deploy/install-java.sh || echo "no java: the Spark engine's tests will skip"
	@sh deploy/install-redis.sh || echo "no redis-cli: the Redis Cluster tests will skip"
	$(BIN)/python -c "import pandas; print('pandas', pandas.__version__, 'in $(VENV)')"
	$(BIN)/python -m pytest -q

# pandas 2.x and 3.x are both supported: the same suite and demo in a second venv with the newest pandas 2.x
# (`make test` uses the newest release); .ci/run runs both
test-pandas2:
	$(MAKE) pytest VENV=.venv-pandas2 PANDAS='$(PANDAS2)'

demo-pandas2:
	$(MAKE) demo VENV=.venv-pandas2 PANDAS='$(PANDAS2)'

lint: $(STAMP)
	$(BIN)/ruff check featurestore server tests bench definitions
	$(BIN)/mypy

# the HTTP cases use wrk (a C load generator; bench/wrk.py) when it is installed: install it when missing
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } \
		|| echo "could not install wrk: the HTTP cases use bench/loadgen.py (a Python client, slower)"
	$(BIN)/python -m bench.run

# Feast's current release in its own venv, with its Redis online store and its DuckDB offline store (ibis);
# `make bench` then runs the same workloads on Feast (training sets on both its dask and DuckDB stores)
bench-feast:
	$(PYTHON) -m venv .venv-feast
	.venv-feast/bin/python -m pip install --quiet --upgrade pip
	.venv-feast/bin/pip install --quiet --upgrade 'feast[redis,duckdb]'
	.venv-feast/bin/python -c "import feast, ibis, duckdb; print('Feast', feast.__version__, 'ibis', ibis.__version__, 'duckdb', duckdb.__version__, 'in .venv-feast')"

serve: $(STAMP)
	$(BIN)/featurestore serve --repo definitions

clean:
	rm -rf $(VENV) .venv-pandas2 .venv-feast definitions/data bench/data .pytest_cache .mypy_cache .ruff_cache
