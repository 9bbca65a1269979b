# The two commands: `make run` (the portal with its worker, demo data, zero setup)
# and `make test` (the whole suite). Both create .venv and install pinned requirements.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format clean clean-demo messages translations

# The browser tests drive Debian's chromium with Playwright (never a downloaded browser).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The single sign-on browser tests sign in at the certified OpenID provider (node
# oidc-provider), installed from npm into an ignored node_modules, pinned by its lock file.
OIDC_PROVIDER := tests/oidc_provider
OIDC_STAMP := $(OIDC_PROVIDER)/node_modules/.installed
NPM := $(shell command -v npm || echo /usr/bin/npm)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m app.devserver

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

$(NPM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm

$(OIDC_STAMP): $(OIDC_PROVIDER)/package-lock.json | $(NPM)
	cd $(OIDC_PROVIDER) && $(NPM) ci --no-audit --no-fund
	touch $(OIDC_STAMP)

test: $(STAMP) $(CHROMIUM) $(OIDC_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache $(OIDC_PROVIDER)/node_modules

clean-demo:
	rm -f instance/portal.db instance/portal.db-wal instance/portal.db-shm instance/redis.db

# Translations (docs/translating.md): `make messages` extracts every marked string into
# app/translations/messages.pot and merges it into each language's .po; after translating,
# `make translations` compiles the .mo files (committed; a test fails when one is stale).
BABEL_KEYWORDS := -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k N_
messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --no-location \
		--sort-output -o app/translations/messages.pot .
	$(VENV)/bin/pybabel update -i app/translations/messages.pot -d app/translations \
		--no-fuzzy-matching --ignore-obsolete

translations: $(STAMP)
	$(VENV)/bin/pybabel compile -d app/translations
