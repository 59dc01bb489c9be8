# `make run` opens a chat with the bot; `make test` runs every test. Both install what they
# need first (virtual environments, services), so a fresh clone needs nothing by hand.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Settings from .env (KEY=value lines, see .env.example) reach the bot through make too.
ifneq (,$(wildcard .env))
include .env
export $(shell sed -n 's/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p' .env)
endif

VENV := .venv
PY := $(VENV)/bin/python
# The bot runs on Python 3.11: take python3.11 from PATH, else pyenv's, else python3 if it is 3.11.
PYTHON311 ?= $(shell command -v python3.11 2>/dev/null || ls -d $$HOME/.pyenv/versions/3.11*/bin/python3.11 2>/dev/null | tail -n 1 || true)
ifeq ($(strip $(PYTHON311)),)
PYTHON311 := $(shell python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null && command -v python3)
endif
BOT_STAMP := $(VENV)/.installed

.PHONY: help setup run chat test lint bench bench-engine bench-telegram
help:
	@echo "make run    talk to the bot through Matrix, end-to-end encrypted (local homeserver)"
	@echo "make chat   talk to the bot in this terminal, without Matrix"
	@echo "make test   lint, type-check and run every test"
	@echo "make bench  measure the engine (and the services) on this machine"

$(BOT_STAMP): pyproject.toml
	@test -n "$(PYTHON311)" || { echo "Python 3.11 is required (python3.11 on PATH or under pyenv)."; exit 1; }
	$(PYTHON311) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(BOT_STAMP)

# With a Matrix account in .env, serve it; without, the whole encrypted path on this machine
# (a local Synapse, demo accounts, a terminal client as the demo person).
run: setup nlu-ready synapse-ready
	$(PY) -m bot run $(if $(MATRIX_HOMESERVER),,--demo) --local-nlu

chat: setup nlu-ready
	$(PY) -m bot chat --demo-keys --local-nlu

lint: setup
	$(VENV)/bin/ruff check bot flows nlu storage tests
	$(VENV)/bin/mypy

test: setup lint postgres-ready nlu-check synapse-ready js-ready
	$(VENV)/bin/pytest

bench: setup bench-engine bench-storage bench-nlu bench-matrix bench-console bench-telegram

bench-engine: setup
	$(PY) tests/bench/bench_engine.py

# 200 Telegram chats at once through the bot, then through a bare python-telegram-bot echo
# bot, both on the Bot API stand-in; writes bench-results/telegram.json. About five minutes:
# both send at most 30 messages a second (AIORateLimiter), as Telegram allows.
bench-telegram: setup
	$(PY) -m tests.bench.bench_telegram

include nlu/nlu.mk
include storage/storage.mk
include bot/dev/synapse.mk
include tests/matrix/js/js.mk
