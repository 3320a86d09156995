# Each target creates .venv and installs the project into it when needed,
# so `make demo` and `make test` work on a fresh machine with only Python 3.11+ and git.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= gitmonkey-demo

.PHONY: demo test bench lint install clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/gitmonkey demo $(DEMO_DIR)

# The site's browser tests drive Debian's Chromium through its ChromeDriver (packages chromium and
# chromium-driver); installed here when missing, with sudo when not root.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null; }; }

test: $(STAMP) browser
	MOTO_EC2_LOAD_DEFAULT_AMIS=false $(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	MOTO_EC2_LOAD_DEFAULT_AMIS=false $(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check gitmonkey tests benchmarks

clean:
	rm -rf $(VENV) build dist *.egg-info $(DEMO_DIR)
