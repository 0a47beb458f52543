# 会销通 — `make run` serves the app, `make test` runs every test. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2
export FLASK_APP := app

.PHONY: run run-pg scheduler test test-pg setup os-deps venv i18n i18n-update i18n-check db demo clean

run: setup db
	@$(BIN)/flask demo-data --if-empty
	@echo "会销通 → http://$(HOST):$(PORT)"
	@if [ "$$FLASK_DEBUG" = "1" ]; then \
		exec $(BIN)/flask run --host $(HOST) --port $(PORT) --debug; \
	else \
		HOST=$(HOST) PORT=$(PORT) WORKERS=$(WORKERS) \
			exec $(BIN)/gunicorn -c deploy/gunicorn.conf.py "app:create_app()"; \
	fi

# The multi-process set-up on one machine: 4 gunicorn workers on the local PostgreSQL (the
# database is created when missing, migrated, and gets the demo company when it has no users).
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/huixiaotong
PG_WORKERS ?= 4
run-pg: setup
	@export DATABASE_URL="$(PG_URL)"; \
	$(BIN)/flask create-database && $(BIN)/flask db upgrade && \
	$(BIN)/flask demo-data --if-empty && \
	echo "会销通 → http://$(HOST):$(PORT) ($(PG_WORKERS) workers, PostgreSQL)" && \
	HOST=$(HOST) PORT=$(PORT) WORKERS=$(PG_WORKERS) \
		exec $(BIN)/gunicorn -c deploy/gunicorn.conf.py "app:create_app()"

# The nightly jobs in their own process: catches up missed days, then runs daily at the hour set
# in the settings (company time zone). One per installation is enough; a second one is harmless.
scheduler: setup db
	exec $(BIN)/flask scheduler

# The layers first (.importlinter: the areas import downward only, DESIGN §3), then the suite.
test: setup
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The same suite against the local PostgreSQL server (a throwaway database per run).
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
test-pg: setup
	$(BIN)/lint-imports --no-cache --no-logo
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest $(PYTEST_ARGS)

setup: os-deps venv i18n

os-deps:
	@scripts/os-deps.sh

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

# Catalogues are compiled here, never committed as .mo.
i18n: venv
	@$(BIN)/python scripts/i18n.py compile

i18n-update: venv
	$(BIN)/python scripts/i18n.py update

i18n-check: venv
	$(BIN)/python scripts/i18n.py check

db: setup
	$(BIN)/flask db upgrade

demo: db
	$(BIN)/flask demo-data

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
