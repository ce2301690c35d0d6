# Everything runs from a local virtualenv built from this project's own files.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test check bench profilers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,check]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/smsbridge demo

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: check
	$(BIN)/pytest -q -rs -n 4 --cov --cov-report=term

bench: $(STAMP)
	$(BIN)/python -m bench

profilers: $(STAMP)  # py-spy and pyinstrument, for bench/README.md's profile commands
	$(BIN)/python -m pip install --quiet -e '.[profile]'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
