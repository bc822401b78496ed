# The two set-up commands are `make run` and `make test`; see README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres lint format migrate check bench bench-quick chaos clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

# The web server on :8000 (RUN_PORT=... for another), the workers, the event relay and the scheduler
# (Procfile); Ctrl-C stops them all. exec: the shell would die of the Ctrl-C and make report it.
run: migrate
	PATH="$(abspath $(BIN)):$$PATH" exec $(BIN)/python -m idem_project.run start -f Procfile -p $(or $(RUN_PORT),8000)

# The whole suite on SQLite, then again on PostgreSQL when DATABASE_URL names one.
test: $(STAMP)
	$(MAKE) test-sqlite
	@case "$$DATABASE_URL" in \
	  postgres://*|postgresql://*|pgsql://*) $(MAKE) test-postgres ;; \
	  *) echo "DATABASE_URL names no PostgreSQL database: skipped the PostgreSQL run." ;; \
	esac

test-sqlite: $(STAMP)
	env -u DATABASE_URL $(BIN)/pytest

test-postgres: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: $(STAMP)
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# Every target of bench/targets.py: HTTP, re-import, queues, events (docs/benchmarks.md).
bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/reimport.py
	$(BIN)/python bench/queues.py
	$(BIN)/python bench/events.py

bench-quick: $(STAMP)
	$(BIN)/python bench/run.py --quick
	$(BIN)/python bench/reimport.py --quick
	$(BIN)/python bench/queues.py --quick
	$(BIN)/python bench/events.py --quick

# Faults that overlap, against a PostgreSQL and a RabbitMQ of its own (as root;
# about 6 minutes): SEED=n picks the run, QUICK=1 a short one. Not part of test.
chaos: $(STAMP)
	$(BIN)/python bench/chaos.py $(if $(SEED),--seed $(SEED)) $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
