# One entry point for people and CI. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON310 ?= $(shell bash scripts/find-python310.sh)
BOT_VENV := .venv-bot
BOT_BIN := $(BOT_VENV)/bin
RASA := PYTHONPATH=$(CURDIR) $(BOT_BIN)/rasa
MODEL := models/care.tar.gz
BOT_SOURCES := bot/config.yml bot/frustration.py $(shell find bot/domain bot/components data -name '*.yml' -o -name '*.py')
RASA_PROJECT := --config bot/config.yml --domain bot/domain

export RASA_TELEMETRY_ENABLED := false
export ACTION_ENDPOINT_URL ?= http://127.0.0.1:5055/webhook
export RASA_TRACKER_DB ?= $(CURDIR)/var/rasa-tracker.sqlite3
export HANDOFF_OUTBOX_PATH ?= $(CURDIR)/var/handoff-outbox.sqlite3

.PHONY: help run train test test-fast test-bot validate lint format clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BOT_VENV)/.installed: pyproject.toml
	@test -x $(BOT_BIN)/python || $(PYTHON310) -m venv $(BOT_VENV)
	$(BOT_BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BOT_BIN)/pip install --quiet -e ".[bot,dev]"
	@touch $@

$(MODEL): $(BOT_VENV)/.installed $(BOT_SOURCES)
	$(RASA) train $(RASA_PROJECT) --data data --out models --fixed-model-name care
	@touch $@

train: $(MODEL) ## Train the bot if data, domain or config changed since the last model

run: $(MODEL) ## Start the bot and the action server on the embedded default (SQLite)
	@bash scripts/run.sh

validate: $(BOT_VENV)/.installed ## Check the bot's data, domain and config (clear errors)
	$(RASA) data validate $(RASA_PROJECT) --data data --fail-on-warnings
	$(BOT_BIN)/python -m actions.welcome_rules

test-bot: validate $(MODEL) ## Validate the bot and run the test stories in tests/stories/
	$(RASA) test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors --out results/core

test-fast: $(BOT_VENV)/.installed ## Unit and integration tests that need no trained model
	$(BOT_BIN)/pytest -m "not slow"

test: lint test-bot ## Everything: lint, bot validation, test stories, all pytest tiers
	$(BOT_BIN)/pytest

lint: $(BOT_VENV)/.installed ## ruff lint and format check
	$(BOT_BIN)/ruff check .
	$(BOT_BIN)/ruff format --check .

format: $(BOT_VENV)/.installed ## Apply ruff's fixes and formatting
	$(BOT_BIN)/ruff check --fix .
	$(BOT_BIN)/ruff format .

clean: ## Remove models, results and local databases (keeps the environments)
	rm -rf models results var .rasa
