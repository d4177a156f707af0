# 善联 developer commands. `make run` and `make test` are the two a newcomer needs.
VENV        ?= .venv
PY          := $(VENV)/bin/python
PYTHON      ?= python3
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
HOST        ?= 127.0.0.1
PORT        ?= 5000

.PHONY: run test setup test-sqlite test-postgres lint translations bench serve-gunicorn clean

## Install everything, create the embedded database with demo data, and serve the site.
run: setup
	$(VENV)/bin/flask --app wsgi db upgrade
	$(VENV)/bin/flask --app wsgi seed-demo --if-empty
	$(VENV)/bin/flask --app wsgi run --host $(HOST) --port $(PORT)

## Install everything and run the whole suite on SQLite and on PostgreSQL, plus lint.
test: setup lint
	scripts/translations.sh check
	$(MAKE) test-sqlite
	$(MAKE) test-postgres

setup: $(VENV)/.installed translations/zh/LC_MESSAGES/messages.mo static/vendor/leaflet/leaflet.js static/vendor/echarts/echarts.min.js

# Leaflet for the maps and ECharts for the report charts, from npm (pinned by
# package-lock.json), copied where the pages load them. node_modules/ and static/vendor/
# are not committed. Without npm the site works the same, minus maps and charts (every
# chart has a table beside it).
static/vendor/leaflet/leaflet.js: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && \
		mkdir -p static/vendor/leaflet && \
		cp -R node_modules/leaflet/dist/. static/vendor/leaflet/ && \
		touch $@; \
	else \
		echo "npm not found: the map of needs is off (install Node.js and run make setup)"; \
	fi

# The charts come with the same npm install; a tree set up before ECharts was added gets it here.
static/vendor/echarts/echarts.min.js: package.json package-lock.json
	@if [ -f node_modules/echarts/dist/echarts.min.js ] || (command -v npm >/dev/null 2>&1 && npm ci --no-audit --no-fund --loglevel=error); then \
		mkdir -p static/vendor/echarts && \
		cp node_modules/echarts/dist/echarts.min.js node_modules/echarts/LICENSE static/vendor/echarts/; \
	else \
		echo "npm not found: report charts are off (the tables show the same figures)"; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

translations/zh/LC_MESSAGES/messages.mo: $(VENV)/.installed translations/zh/LC_MESSAGES/messages.po translations/en/LC_MESSAGES/messages.po
	PYBABEL=$(VENV)/bin/pybabel scripts/translations.sh compile

test-sqlite: setup
	$(PY) -m pytest --cov --cov-report=term

test-postgres: setup
	TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check app matching search tests scripts wsgi.py bench
	$(VENV)/bin/ruff format --check app matching search tests scripts wsgi.py bench
	$(VENV)/bin/mypy

translations: setup
	PYBABEL=$(VENV)/bin/pybabel scripts/translations.sh update

bench: setup
	$(PY) -m bench

serve-gunicorn: setup
	$(VENV)/bin/flask --app wsgi db upgrade
	$(VENV)/bin/gunicorn --workers 2 --threads 4 --bind $(HOST):$(PORT) wsgi:app

clean:
	rm -rf $(VENV) instance/*.sqlite3* .pytest_cache .coverage
