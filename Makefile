# Build, test and demo entry points. `make help` lists the targets.
#   make test                       # CKAN 2.12.0 in .venv
#   make test CKAN_VERSION=2.11.6   # CKAN 2.11.6 in .venv-2.11.6, own database
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Steps of `make test` must run in the order listed, even under -j.
.NOTPARALLEL:

PYTHON ?= python3
CKAN_VERSION ?= 2.12.0

# Each CKAN release gets its own venv and test database: the core migrations
# differ, so one database can't be shared between releases.
ifeq ($(CKAN_VERSION),2.12.0)
VENV ?= .venv
TEST_DB ?= harvestplus_test
DEMO_DB ?= harvestplus_demo
else
VENV ?= .venv-$(CKAN_VERSION)
TEST_DB ?= harvestplus_test_$(subst .,_,$(basename $(CKAN_VERSION)))
DEMO_DB ?= harvestplus_demo_$(subst .,_,$(basename $(CKAN_VERSION)))
endif
# The second, real CKAN the tests harvest from (tests/remote/).
REMOTE_DB ?= $(subst _test,_remote_test,$(TEST_DB))
# The CKAN site the browser tests serve and drive (tests/browser/).
BROWSER_DB ?= $(subst _test,_browser_test,$(TEST_DB))
# Debian's chromium, driven by Playwright (its own browser download is not used).
CHROMIUM ?= /usr/bin/chromium

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(CKAN_VERSION)
PG_URL := postgresql://harvestplus:harvestplus@127.0.0.1:5432
# CKAN reads CKAN_SQLALCHEMY_URL in preference to sqlalchemy.url in the ini.
TEST_ENV := CKAN_SQLALCHEMY_URL=$(PG_URL)/$(TEST_DB) \
	HARVESTPLUS_REMOTE_SQLALCHEMY_URL=$(PG_URL)/$(REMOTE_DB) \
	HARVESTPLUS_BROWSER_SQLALCHEMY_URL=$(PG_URL)/$(BROWSER_DB) \
	HARVESTPLUS_CHROMIUM=$(CHROMIUM)
PYTEST_ARGS ?=
HARVEST_TEST_INI ?= test-harvest.ini
# This machine's pip config lists local mirror folders that lack most
# packages; pip warns once per package. Drop those lines, keep pip's status.
PIP_FILTER := 2>&1 | { grep -v "^WARNING: Location 'file:" || true; }
# $(call pip,ARGS[,ENV]): a quiet pip install that shows what it installs.
pip = @echo "  pip install $(1)"; $(2) $(BIN)/pip install -q $(1) $(PIP_FILTER)
DEMO_PORT ?= 5000
DEMO_REMOTE_PORT ?= 5001

.PHONY: help install services browser lint typecheck test-db pytest pytest-harvest \
	test demo demo-stop bench-search bench-harvest clean

help:
	@echo "make install    venv $(VENV) with CKAN $(CKAN_VERSION), requirements, this package"
	@echo "make services   start PostgreSQL + Redis, create role and $(TEST_DB)"
	@echo "make browser    install Debian's chromium for the browser tests (tests/browser) if missing"
	@echo "make lint       ruff check"
	@echo "make typecheck  mypy"
	@echo "make test       lint, typecheck, migrations, our tests, ckanext-harvest's tests"
	@echo "make demo       CKAN on http://127.0.0.1:$(DEMO_PORT) with workers and scheduler, harvesting a remote CKAN on :$(DEMO_REMOTE_PORT)"
	@echo "make demo-stop  stop the demo (web app, remote, workers, scheduler)"
	@echo "make bench-search  search benchmark over 10,000 generated datasets (not a test)"
	@echo "make bench-harvest harvest benchmark, 1k and 10k remote datasets (not a test)"
	@echo "make clean      remove venvs, stamps and caches (keeps .demo/)"
	@echo "Variables: CKAN_VERSION=2.12.0|2.11.6 PYTHON=$(PYTHON) PYTEST_ARGS= HARVEST_TEST_INI=test-harvest.ini"
	@echo "           DEMO_PORT=5000 DEMO_REMOTE_PORT=5001 (make demo)"

install: $(STAMP)

# Rebuilt when the requirements or packaging change; removing the venv also
# removes the stamp.
$(STAMP): setup.py requirements.txt dev-requirements.txt $(wildcard setup.cfg pyproject.toml)
	@echo "==> Installing CKAN $(CKAN_VERSION) into $(VENV)"
	@# psycopg2 builds from source and needs pg_config (Debian: libpq-dev).
	@command -v pg_config >/dev/null || { [ "$$(id -u)" = 0 ] && \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libpq-dev; } || \
		{ echo "pg_config missing: install libpq-dev" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(call pip,-U pip setuptools wheel)
	$(call pip,"ckan[requirements]==$(CKAN_VERSION)" -r requirements.txt)
	@# A step of its own: CKAN 2.11's requirements extra pins mypy==1.10.1 for
	@# CKAN's own type checks; ours must win (pip then reports the conflict).
	$(call pip,-r dev-requirements.txt)
	@# PYTHONWARNINGS: setuptools' editable-install banner is advice, not a problem.
	$(call pip,--no-deps -e .,PYTHONWARNINGS=ignore)
	@rm -f $(VENV)/.installed-*
	@touch $@

services:
	@scripts/services.sh $(TEST_DB) $(REMOTE_DB) $(BROWSER_DB)

# The browser tests drive Debian's chromium; quiet when it is there.
browser:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] || \
		{ echo "$(CHROMIUM) missing: the browser tests need Debian's chromium" \
			"(as root: apt-get install chromium)" >&2; exit 1; }; \
		echo "==> Installing chromium for the browser tests"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) still missing after installing chromium" >&2; exit 1; }

lint: install
	@echo "==> ruff"
	$(BIN)/ruff check ckanext tests bench
	$(BIN)/ruff format --check ckanext tests bench

typecheck: install
	@echo "==> mypy"
	$(BIN)/mypy ckanext/harvestplus

# db init is idempotent: it upgrades core to head on an existing database.
test-db: install services
	@echo "==> Migrating $(TEST_DB)"
	$(TEST_ENV) $(BIN)/ckan -c test.ini db init
	$(TEST_ENV) $(BIN)/ckan -c test.ini db upgrade -p harvest
	$(TEST_ENV) $(BIN)/ckan -c test.ini db upgrade -p harvestplus
	$(TEST_ENV) $(BIN)/ckan -c test.ini db upgrade -p harvestplus_pgsearch

pytest: test-db browser
	@echo "==> pytest tests (CKAN $(CKAN_VERSION), database $(TEST_DB))"
	$(TEST_ENV) $(BIN)/pytest --ckan-ini=test.ini $(PYTEST_ARGS) tests

# ckanext-harvest's own suite, shipped in the installed package, with
# upstream's plugin list (test-harvest.ini). It runs from inside the venv with
# no config file so that none of this project's conftests load, and with
# consider_namespace_packages so its modules import as ckanext.harvest.* (its
# mocks patch them by that name). No cache provider: nothing is written into
# site-packages. Its deprecation warnings are not ours to fix.
pytest-harvest: test-db
	@echo "==> pytest ckanext.harvest.tests (CKAN $(CKAN_VERSION), $(HARVEST_TEST_INI))"
	cd $(VENV) && $(TEST_ENV) bin/pytest -c /dev/null --rootdir=. \
		--ckan-ini=$(CURDIR)/$(HARVEST_TEST_INI) -p no:cacheprovider \
		-o consider_namespace_packages=true -W ignore::DeprecationWarning \
		$(PYTEST_ARGS) --pyargs ckanext.harvest.tests

# Lint and type check run on the default release only: CKAN 2.11 brings
# SQLAlchemy 1.4, whose type information differs; its tests still run.
CHECKS := $(if $(filter 2.12.0,$(CKAN_VERSION)),lint typecheck)

test: install $(CHECKS) test-db browser pytest pytest-harvest
	@echo "==> make test: all passed (CKAN $(CKAN_VERSION))"

# The remote catalogue's database: harvestplus_demo_remote (_2_11 for CKAN 2.11).
demo: install
	@VENV=$(VENV) DEMO_DB=$(DEMO_DB) DEMO_PORT=$(DEMO_PORT) \
		DEMO_REMOTE_DB=$(subst _demo,_demo_remote,$(DEMO_DB)) DEMO_REMOTE_PORT=$(DEMO_REMOTE_PORT) \
		scripts/demo.sh

# Stops every process of the demo (web app, remote, workers, scheduler) and
# waits for them to go, so `make demo` right after finds the ports free.
DEMO_PROCESSES := ckan remote gather fetch scheduler
demo-stop:
	@pids=; for name in $(DEMO_PROCESSES); do f=.demo/$$name.pid; \
		pid=$$(cat "$$f" 2>/dev/null) && kill "$$pid" 2>/dev/null && pids="$$pids $$pid"; \
		rm -f "$$f"; \
	done; \
	[ -n "$$pids" ] || { echo "no demo running (.demo/*.pid)"; exit 0; }; \
	for pid in $$pids; do \
		for i in $$(seq 50); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.2; done; \
	done; \
	echo "demo stopped"

# A benchmark, not a test: its own database, rebuilt from scratch on each run.
BENCH_DB ?= harvestplus_bench
bench-search: install
	@scripts/services.sh $(BENCH_DB)
	@mkdir -p bench/results
	CKAN_SQLALCHEMY_URL=$(PG_URL)/$(BENCH_DB) $(BIN)/ckan -c test.ini db init
	CKAN_SQLALCHEMY_URL=$(PG_URL)/$(BENCH_DB) $(BIN)/ckan -c test.ini db upgrade -p harvest
	CKAN_SQLALCHEMY_URL=$(PG_URL)/$(BENCH_DB) $(BIN)/ckan -c test.ini db upgrade -p harvestplus
	CKAN_SQLALCHEMY_URL=$(PG_URL)/$(BENCH_DB) $(BIN)/ckan -c test.ini db upgrade -p harvestplus_pgsearch
	CKAN_SQLALCHEMY_URL=$(PG_URL)/$(BENCH_DB) $(BIN)/python bench/search.py --ini test.ini \
		$(BENCH_ARGS) | tee bench/results/search.txt

# Harvest benchmark: bare package_create, ckanext-harvest's `ckan` harvester and
# harvestplus_ckan against a synthetic remote CKAN; rebuilds $(BENCH_DB) per run.
# BENCH_ARGS="--sizes 1000" for a shorter run.
bench-harvest: install
	@scripts/services.sh $(BENCH_DB)
	@mkdir -p bench/results
	$(BIN)/python bench/harvest.py --db $(BENCH_DB) $(BENCH_ARGS) | tee bench/results/harvest.txt

clean:
	rm -rf .venv .venv-* .mypy_cache .ruff_cache .pytest_cache .test-storage .test-artifacts
	find ckanext tests -name __pycache__ -type d -prune -exec rm -rf {} +
