# Two commands: `make run` (set up and serve with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# The Nu Html Checker for the browser tests: vnu.jar from npm (pinned), run with Debian's Java,
# installed into a git-ignored folder.
VNU_VERSION := 26.9.27
VNU_DIR := .tools/vnu
VNU_JAR := $(VNU_DIR)/node_modules/vnu-jar/build/dist/vnu.jar

# Lighthouse CI for the web-quality budget (bench/lighthouse.py): @lhci/cli from npm (pinned),
# run with Debian's Chromium, installed into a git-ignored folder like vnu.
LHCI_VERSION := 0.15.1
LHCI_DIR := .tools/lhci
LHCI := $(LHCI_DIR)/node_modules/.bin/lhci

.PHONY: run test install lint format lock setup clean messages vnu lighthouse map-css

$(STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

$(VNU_JAR):
	mkdir -p $(VNU_DIR)
	npm install --no-save --no-audit --no-fund --ignore-scripts --prefix $(VNU_DIR) vnu-jar@$(VNU_VERSION)

vnu: $(VNU_JAR)

$(LHCI):
	mkdir -p $(LHCI_DIR)
	npm install --no-save --no-audit --no-fund --ignore-scripts --prefix $(LHCI_DIR) @lhci/cli@$(LHCI_VERSION)

# Public pages and, logged in, the member's pages, on a production-like server with the demo
# data; fails when a page misses its budget. Reports in bench/out/lhci/ (git-ignored).
lighthouse: install $(LHCI)
	LHCI=$(LHCI) $(BIN)/python bench/lighthouse.py

# The map page's one stylesheet, from Leaflet's, markercluster's and css/directory.css.
map-css: install
	$(BIN)/python -m tookets.map_css

setup: install
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py collectstatic --noinput -v0

run: setup
	$(BIN)/python manage.py demo_logins
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Refresh the French catalog from the sources and compile it (needs GNU gettext). Both files are
# committed, so a fresh clone needs no gettext tools. The msgids are French already: only a new
# plural entry needs its msgstr[0]/msgstr[1] filled (tests/associations/test_i18n.py checks it).
messages: install
	$(BIN)/python manage.py makemessages -l fr --ignore=.venv --ignore=staticfiles \
		--ignore=bench --ignore=node_modules --ignore=tests
	$(BIN)/python manage.py compilemessages --ignore=.venv

# Re-pin every dependency from pyproject.toml (needs pip-tools in the venv).
lock: install
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --extra dev --no-emit-index-url --no-emit-find-links \
		--no-emit-trusted-host --strip-extras -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 .tools
