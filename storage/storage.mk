# Storage targets; the top-level Makefile includes this file.
#   postgres-ready  installs the distribution's PostgreSQL server when initdb/pg_ctl are missing
#                   (the store tests start their own throwaway cluster on 127.0.0.1)
#   bench-storage   store round trips per second for one turn, on SQLite and PostgreSQL

STORAGE_PYTHON ?= $(or $(PY),.venv/bin/python)
PG_BINARIES = $(or $(shell command -v initdb 2>/dev/null),$(wildcard /usr/lib/postgresql/*/bin/initdb))

.PHONY: postgres-ready bench-storage

postgres-ready:
	@if [ -n "$(strip $(PG_BINARIES))" ]; then \
		echo "postgresql server binaries present"; \
	else \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; \
	fi

bench-storage: postgres-ready
	$(STORAGE_PYTHON) tests/bench/bench_storage.py --json bench-results/storage.json
