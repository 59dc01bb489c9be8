# Make targets for the Matrix channel, included by the top-level Makefile.
#
#   synapse-ready  creates .venv-synapse (Python 3.11) with the pinned matrix-synapse that
#                  bot/dev/homeserver.py runs on loopback for `make run` and the Matrix tests
#
# Synapse has its own venv so that its many pins never constrain the bot's. The venv is
# rebuilt only when bot/dev/synapse-requirements.txt changed (content hash kept in the venv).

SYNAPSE_VENV := .venv-synapse
SYNAPSE_PY := $(SYNAPSE_VENV)/bin/python
SYNAPSE_REQUIREMENTS := bot/dev/synapse-requirements.txt

.PHONY: synapse-ready

synapse-ready:
	@want=$$(sha256sum $(SYNAPSE_REQUIREMENTS) | cut -c1-64); \
	if [ -x $(SYNAPSE_PY) ] && [ "$$(cat $(SYNAPSE_VENV)/.requirements.sha256 2>/dev/null)" = "$$want" ]; then \
		echo "synapse-ready: up to date"; exit 0; fi; \
	if [ -z "$(strip $(PYTHON311))" ]; then \
		echo "synapse-ready: Python 3.11 is required (python3.11 on PATH or under pyenv)." >&2; exit 1; fi; \
	echo "synapse-ready: creating $(SYNAPSE_VENV) with $(PYTHON311)"; \
	rm -rf $(SYNAPSE_VENV) && $(PYTHON311) -m venv $(SYNAPSE_VENV) && \
	$(SYNAPSE_PY) -m pip install --quiet --disable-pip-version-check -r $(SYNAPSE_REQUIREMENTS) && \
	$(SYNAPSE_PY) -m pip check --disable-pip-version-check && \
	echo "$$want" > $(SYNAPSE_VENV)/.requirements.sha256

# bench-matrix  round trips and messages per second through the bot on a throwaway Synapse,
#               next to a bare matrix-nio echo bot (the floor); writes bench-results/matrix.json
# bench-console a crisis sentence to the staff room's card, and a member's `!r` to the
#               person's screen; writes bench-results/console.json
.PHONY: bench-matrix bench-console

bench-matrix: setup synapse-ready
	$(PY) tests/bench/bench_matrix.py

bench-console: setup synapse-ready
	$(PY) -m tests.bench.bench_console
