# The two quick-start commands are `make demo` and `make test`; both build the
# virtual environment they need from nothing but Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test,server,mcp,postgres]'
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

pytest: $(STAMP)
	PYTEST=$(BIN)/pytest scripts/test.sh

bench: $(STAMP)
	$(BIN)/python bench/read_path.py
	$(BIN)/python bench/completion.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/packs.py
	$(BIN)/python bench/legacy.py
	$(BIN)/python bench/daemon.py
	-$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/mcp.py
	$(BIN)/python bench/compare_and_set.py
	$(BIN)/python bench/lineage.py
	$(BIN)/python bench/lock.py
	$(BIN)/python bench/events.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build src/*.egg-info
