# The two commands a new user runs: `make run` and `make test`. Everything else is installed by them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make run: install, migrate, load the demo data on an empty database, start the web server and django-q2
## (`manage.py serve`: a busy port is refused before anything starts; Ctrl-C stops both cleanly).
run: install
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py serve --host $(HOST) --port $(PORT)

## make test: the whole suite on SQLite, then on PostgreSQL when one answers (REQUIRE_POSTGRES=1: must).
test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/run_tests.py

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install-test
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache
