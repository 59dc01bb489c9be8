# Make targets for the tests that run Element's crypto stack, included by the top-level Makefile.
#
#   js-ready  installs tests/matrix/js/node_modules from its lockfile (npm ci): matrix-js-sdk
#             with its Rust crypto, and the Node 22 it needs, as the `node` package
#
# Only npm has to be on the machine; the node binary the tests run comes with the packages.
# The install is redone only when the lockfile changed (its hash is kept in node_modules).

JS_DIR := tests/matrix/js

.PHONY: js-ready

js-ready:
	@want=$$(sha256sum $(JS_DIR)/package-lock.json | cut -c1-64); \
	if [ -x $(JS_DIR)/node_modules/.bin/node ] && \
		[ "$$(cat $(JS_DIR)/node_modules/.lock.sha256 2>/dev/null)" = "$$want" ]; then \
		echo "js-ready: up to date"; exit 0; fi; \
	command -v npm >/dev/null || { echo "js-ready: npm is required." >&2; exit 1; }; \
	echo "js-ready: installing $(JS_DIR)/node_modules"; \
	(cd $(JS_DIR) && npm ci --no-audit --no-fund --loglevel=error) && \
	$(JS_DIR)/node_modules/.bin/node --version >/dev/null && \
	echo "$$want" > $(JS_DIR)/node_modules/.lock.sha256
