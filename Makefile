# fangkong — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export FANGKONG_DATABASE_URL ?= sqlite:///var/fangkong.db
PG_TEST ?= postgresql://postgres@127.0.0.1:5432

.PHONY: run test test-sqlite test-postgresql lint install install-test browser-deps i18n bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# The demo city: about 50,000 people of the worst-hit district (东昌区) over 14 days, generated once.
DEMO_DATASET := var/synth/tonghua-2021-50k

## run: install, migrate, generate the demo city once and load it if the database is empty, play a testing
##      round on it once (so that a round is under way), serve on http://127.0.0.1:8000
run: install $(DEMO_DATASET)/manifest.json
	$(BIN)/fangkong db upgrade
	$(BIN)/fangkong demo load --if-empty --from $(DEMO_DATASET)
	$(BIN)/fangkong testing simulate-round --if-none --data $(DEMO_DATASET)
	$(BIN)/fangkong tracing run --if-none
	$(BIN)/fangkong serve --no-migrate

$(DEMO_DATASET)/manifest.json: | install
	$(BIN)/fangkong synth --scenario tonghua-2021 --population 50000 --days 14 --seed 2021 --district 220502 \
	    --out $(DEMO_DATASET)

# Chromium for the browser tests (Debian's package; Playwright drives it, never downloads one).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -q chromium fonts-wqy-zenhei >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-wqy-zenhei >/dev/null)); \
	  else echo "error: install Chromium (/usr/bin/chromium) for the browser tests"; exit 1; fi; \
	fi

## test: the whole suite on SQLite and on PostgreSQL (the two passes at once, one per core), then ruff and mypy
test: install-test browser-deps
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgresql
	$(MAKE) --no-print-directory lint

test-sqlite: install-test
	FANGKONG_TEST_DB=sqlite $(BIN)/pytest

test-postgresql: install-test
	FANGKONG_TEST_DB=postgresql FANGKONG_TEST_PG=$(PG_TEST) $(BIN)/pytest

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

## i18n: re-extract the strings and merge them into the zh_CN catalog (then translate the new ones)
i18n: install-test
	$(BIN)/pybabel extract -F babel.cfg -k N_ --sort-output --no-wrap --add-location=file \
	    --project=fangkong --copyright-holder="fangkong contributors" \
	    -o src/fangkong/core/i18n/messages.pot .
	$(BIN)/pybabel update --no-wrap --ignore-obsolete --previous \
	    -i src/fangkong/core/i18n/messages.pot -d src/fangkong/core/i18n -l zh_CN

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
