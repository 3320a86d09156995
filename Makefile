# Each target creates .venv and installs the project into it when needed,
# so `make demo` and `make test` work on a fresh machine with only Python 3.11+ and git.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= gitmonkey-demo

.PHONY: demo test bench lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/gitmonkey demo $(DEMO_DIR)

test: $(STAMP)
	MOTO_EC2_LOAD_DEFAULT_AMIS=false $(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	MOTO_EC2_LOAD_DEFAULT_AMIS=false $(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check gitmonkey tests benchmarks

clean:
	rm -rf $(VENV) build dist *.egg-info $(DEMO_DIR)
