# Make targets for the Rasa 3.6 NLU service, included by the top-level Makefile.
#
# Rasa 3.6 runs on Python < 3.11, so it has its own venv (.venv-nlu, Python 3.10). Each
# target works from the repository root and is idempotent: the venv is rebuilt only when
# nlu/requirements.txt changed, the model is retrained and the cross-validation rerun only
# when the config, the domain, the data or the requirements changed (content hashes kept
# beside the outputs).

NLU_VENV := .venv-nlu
NLU_PY := $(NLU_VENV)/bin/python
NLU_RASA := $(NLU_VENV)/bin/rasa
NLU_MODEL := nlu/models/nlu.tar.gz
NLU_RESULTS := nlu/results
# The bot's own venv (Python 3.11), which runs the client and the benchmark.
NLU_BOT_PY ?= .venv/bin/python

# Telemetry off, Rasa's training cache inside the git-ignored venv instead of ./.rasa.
NLU_ENV := RASA_TELEMETRY_ENABLED=false RASA_CACHE_DIRECTORY=$(NLU_VENV)/rasa-cache \
	TF_CPP_MIN_LOG_LEVEL=2 PYTHONWARNINGS=ignore SQLALCHEMY_SILENCE_UBER_WARNING=1 TQDM_DISABLE=1

# Shell snippets (used inside recipes).
NLU_REQ_HASH = $$(sha256sum nlu/requirements.txt | cut -c1-64)
NLU_INPUT_HASH = $$( { sha256sum nlu/config.yml nlu/domain.yml nlu/requirements.txt; \
	find nlu/data -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; } \
	| sha256sum | cut -c1-64)
NLU_CV = $(NLU_ENV) $(NLU_RASA) test nlu --nlu nlu/data --config nlu/config.yml \
	--domain nlu/domain.yml --cross-validation --folds 5

.PHONY: nlu-venv nlu-model nlu-ready nlu-cv nlu-check nlu-eval nlu-serve nlu-compare bench-nlu

nlu-venv:
	@want=$(NLU_REQ_HASH); \
	if [ -x $(NLU_PY) ] && [ "$$(cat $(NLU_VENV)/.requirements.sha256 2>/dev/null)" = "$$want" ]; then \
		echo "nlu-venv: up to date"; exit 0; fi; \
	py=""; \
	for c in $$(command -v python3.10 2>/dev/null) $(HOME)/.pyenv/versions/3.10*/bin/python3.10; do \
		if [ -x "$$c" ] && "$$c" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, 10))' \
			>/dev/null 2>&1; then py="$$c"; break; fi; \
	done; \
	if [ -z "$$py" ]; then \
		echo "nlu-venv: no usable Python 3.10 found (Rasa 3.6 needs Python 3.10 here)." >&2; \
		echo "  Looked for python3.10 on PATH and $(HOME)/.pyenv/versions/3.10*/bin/python3.10." >&2; \
		echo "  Install one, e.g. 'pyenv install 3.10', then run 'make nlu-venv' again." >&2; \
		exit 1; fi; \
	echo "nlu-venv: creating $(NLU_VENV) with $$py"; \
	rm -rf $(NLU_VENV) && "$$py" -m venv $(NLU_VENV) && \
	$(NLU_PY) -m pip install --quiet --disable-pip-version-check --use-pep517 -r nlu/requirements.txt && \
	$(NLU_PY) -m pip check && \
	echo "$$want" > $(NLU_VENV)/.requirements.sha256

nlu-model: nlu-venv
	@want=$(NLU_INPUT_HASH); \
	if [ -f $(NLU_MODEL) ] && [ "$$(cat nlu/models/.inputs.sha256 2>/dev/null)" = "$$want" ]; then \
		echo "nlu-model: up to date"; exit 0; fi; \
	echo "nlu-model: training $(NLU_MODEL)"; \
	rm -f nlu/models/.inputs.sha256; \
	$(NLU_ENV) $(NLU_RASA) train nlu --config nlu/config.yml --domain nlu/domain.yml \
		--nlu nlu/data --out nlu/models --fixed-model-name nlu --quiet && \
	echo "$$want" > nlu/models/.inputs.sha256

nlu-ready: nlu-venv nlu-model

# Cross-validation only when the inputs changed since the last report.
nlu-cv: nlu-venv
	@want=$(NLU_INPUT_HASH); \
	if [ -f $(NLU_RESULTS)/intent_report.json ] && \
		[ "$$(cat $(NLU_RESULTS)/.inputs.sha256 2>/dev/null)" = "$$want" ]; then \
		echo "nlu-cv: up to date"; exit 0; fi; \
	echo "nlu-cv: 5-fold cross-validation into $(NLU_RESULTS)"; \
	rm -f $(NLU_RESULTS)/.inputs.sha256; \
	$(NLU_CV) --out $(NLU_RESULTS) --no-plot --quiet && \
	echo "$$want" > $(NLU_RESULTS)/.inputs.sha256

nlu-check: nlu-ready nlu-cv

# Full evaluation, always run: data validation (it warns that intents are unused in
# stories, which is expected for an NLU-only project) and cross-validation with plots.
nlu-eval: nlu-venv
	$(NLU_ENV) $(NLU_RASA) data validate --data nlu/data --domain nlu/domain.yml \
		--config nlu/config.yml
	@want=$(NLU_INPUT_HASH); rm -f $(NLU_RESULTS)/.inputs.sha256; \
	$(NLU_CV) --out $(NLU_RESULTS) && echo "$$want" > $(NLU_RESULTS)/.inputs.sha256

# Cross-validates the kept pipeline and the alternative one, for the README's numbers.
nlu-compare: nlu-venv
	@for c in nlu/config.yml nlu/alternatives/diet.yml; do \
		name=$$(basename $$c .yml); start=$$(date +%s); \
		$(NLU_ENV) $(NLU_RASA) test nlu --nlu nlu/data --config $$c --domain nlu/domain.yml \
			--cross-validation --folds 5 --no-plot --quiet --out $(NLU_RESULTS)/compare/$$name \
			>/dev/null 2>&1 || exit 1; \
		$(NLU_PY) -c 'import json, sys; r = json.load(open(sys.argv[1])); print("%s: %s s, macro-F1 %.3f, crisis recall %.3f" % (sys.argv[2], sys.argv[3], r["macro avg"]["f1-score"], r["crisis"]["recall"]))' \
			$(NLU_RESULTS)/compare/$$name/intent_report.json $$c $$(( $$(date +%s) - start )); \
	done

nlu-serve: nlu-ready
	@if [ -z "$$NLU_TOKEN" ]; then echo "nlu-serve: set NLU_TOKEN (the API's auth token)" >&2; exit 1; fi
	exec env $(NLU_ENV) $(NLU_RASA) run --enable-api --auth-token="$$NLU_TOKEN" \
		-i 127.0.0.1 -p $${NLU_PORT:-5005} -m nlu/models

# Parse latency through nlu/client.py next to raw POST /model/parse, on a service the
# benchmark starts and stops itself.
bench-nlu: nlu-ready
	PYTHONPATH=. $(NLU_BOT_PY) tests/bench/bench_nlu.py
