# giftcerts — the two commands a new machine needs:
#   make run    install everything, migrate, seed the demo workspace, serve on http://localhost:3000
#   make test   install everything (Chromium included), run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
TOOLS := $(CURDIR)/.tools
BUN_VERSION := 1.4.5
PORT ?= 3000

# Reflex 0.10 wants Node >= 22 for npm; the machine has Node 20, so Reflex uses bun from npm.
export PATH := $(TOOLS)/node_modules/.bin:$(BIN):$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_TELEMETRY_ENABLED := false

.PHONY: install run test test-fast chromium bench clean

install: $(VENV)/.installed $(TOOLS)/node_modules/.bin/bun

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $@

$(TOOLS)/node_modules/.bin/bun:
	mkdir -p $(TOOLS)
	npm install --prefix $(TOOLS) --no-fund --no-audit --loglevel=error bun@$(BUN_VERSION)

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: install
	$(BIN)/giftcerts migrate
	@$(BIN)/giftcerts seed-demo
	@echo
	@echo "  Dashboard:  http://localhost:$(PORT)/login"
	@echo "  API docs:   http://localhost:$(PORT)/api/v1/docs"
	@echo "  Checkout:   http://localhost:$(PORT)/demo/checkout  (the embedded redemption widget)"
	@echo
	PORT=$(PORT) $(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

test: install chromium
	$(BIN)/pytest

# Everything but the browser tests (no app build), for a quick loop while developing.
test-fast: install
	$(BIN)/pytest -m "not browser"

bench: install
	$(BIN)/python bench/search.py
	$(BIN)/python bench/reports.py

clean:
	rm -rf .web .states test-artifacts giftcerts.db giftcerts.db-wal giftcerts.db-shm
