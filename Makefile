# giftcerts — the two commands a new machine needs:
#   make run    install everything, migrate, seed the demo workspace, serve on http://localhost:3000
#   make test   install everything (Chromium included), run the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
TOOLS := $(CURDIR)/.tools
BUN_VERSION := 1.4.5
AXE_VERSION := 4.14.1
PORT ?= 3000
LOCALSTRIPE_PORT ?= 8420
SMTP_PORT ?= 1025

# Reflex 0.10 wants Node >= 22 for npm; the machine has Node 20, so Reflex uses bun from npm.
export PATH := $(TOOLS)/node_modules/.bin:$(BIN):$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_TELEMETRY_ENABLED := false

.PHONY: install run test test-fast chromium pdf-libs bench clean

install: $(VENV)/.installed $(TOOLS)/node_modules/.bin/bun $(TOOLS)/node_modules/axe-core/axe.min.js

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $@

# bun for Reflex; axe-core for the browser tests' accessibility checks (injected by Playwright).
$(TOOLS)/node_modules/.bin/bun $(TOOLS)/node_modules/axe-core/axe.min.js &:
	mkdir -p $(TOOLS)
	npm install --prefix $(TOOLS) --no-fund --no-audit --loglevel=error bun@$(BUN_VERSION) axe-core@$(AXE_VERSION)

# WeasyPrint subsets fonts with HarfBuzz when libharfbuzz-subset is present (~50 ms a PDF);
# without it, it falls back to fontTools (~500 ms a PDF). Best effort: not fatal.
pdf-libs:
	@ldconfig -p | grep -q libharfbuzz-subset || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq libharfbuzz-subset0 >/dev/null; } || echo "note: libharfbuzz-subset0 is missing: PDFs render slower"

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: install pdf-libs
	$(BIN)/giftcerts migrate
	@$(BIN)/giftcerts seed-demo
	@echo
	@echo "  Dashboard:  http://localhost:$(PORT)/login"
	@echo "  API docs:   http://localhost:$(PORT)/api/v1/docs"
	@echo "  Checkout:   http://localhost:$(PORT)/demo/checkout  (the embedded redemption widget)"
	@echo "  Portal:     http://localhost:$(PORT)/portal/demo  (pay with card 4242 4242 4242 4242, any future date, any CVC)"
	@echo "  Sent email: $(CURDIR)/var/mail/*.eml  (local SMTP sink on 127.0.0.1:$(SMTP_PORT))"
	@echo
	@mkdir -p var/mail
	@# Beside the app: a local SMTP sink, and localstripe unless real STRIPE_* keys are set.
	$(BIN)/giftcerts mail-sink --port $(SMTP_PORT) --dir var/mail & SINK=$$!; \
	eval "$$($(BIN)/giftcerts localstripe --port $(LOCALSTRIPE_PORT) --app-url http://localhost:$(PORT))"; \
	trap 'kill $$SINK 2>/dev/null; test -z "$$LOCALSTRIPE_PID" || kill $$LOCALSTRIPE_PID' EXIT INT TERM; \
	GIFTCERTS_SMTP_URL=$${GIFTCERTS_SMTP_URL:-smtp://127.0.0.1:$(SMTP_PORT)} PORT=$(PORT) GIFTCERTS_DEMO_CHECKOUT=on \
	$(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

test: install chromium pdf-libs
	$(BIN)/pytest

# Everything but the browser tests (no app build), for a quick loop while developing.
test-fast: install
	$(BIN)/pytest -m "not browser"

bench: install
	$(BIN)/python bench/search.py
	$(BIN)/python bench/pdf.py
	$(BIN)/python bench/expiry.py
	$(BIN)/python bench/reports.py

clean:
	rm -rf .web .states test-artifacts var giftcerts.db giftcerts.db-wal giftcerts.db-shm
