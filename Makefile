# Entry points for a fresh machine; each creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.simreal-installed
TEST_STAMP := $(VENV)/.simreal-test-installed

.PHONY: demo test test-slow test-all bench setup clean

demo: $(STAMP)
	$(BIN)/simreal demo

# the fast tier: ruff, then every test not marked slow
test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# the slow tier alone: full calibrations, end-to-end adaptation, process pools and Ray
test-slow: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -m slow

test-all: test test-slow

bench: $(STAMP)
	$(BIN)/simreal bench env

setup: $(STAMP)

# torch first, pinned to the CPU build on disk; the package's range (torch>=2.3) accepts it.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

# the test tools and the optional extras the tests exercise (Ray for sweeps)
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	touch $(TEST_STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
