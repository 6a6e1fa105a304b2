# CamStream: `make demo` shows live video from two virtual cameras; `make test` runs every check.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench setup setup-test clean

$(STAMP): pyproject.toml requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]' -r requirements.txt
	touch $@

setup: $(STAMP)

# CircuitPython stubs and typeshed live in their own folder: they install top-level packages.
.cpstubs/.installed:
	$(BIN)/pip install -q --target .cpstubs circuitpython-stubs circuitpython-typeshed
	touch $@

# The official MicroPython WebAssembly port, run under node by the MicroPython tests.
host_tests/mpwasm/node_modules/.installed: host_tests/mpwasm/package.json
	cd host_tests/mpwasm && npm ci --no-audit --no-fund
	touch $@

# Debian's chromium for the browser tests (Playwright drives it through executable_path).
/usr/bin/chromium:
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

setup-test: $(STAMP) .cpstubs/.installed host_tests/mpwasm/node_modules/.installed /usr/bin/chromium

test: setup-test
	$(BIN)/pytest -q

demo: $(STAMP)
	$(BIN)/python -m camhub.demo

bench: $(STAMP) host_tests/mpwasm/node_modules/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .cpstubs host_tests/mpwasm/node_modules camhub-data test-output
