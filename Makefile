# CamStream: `make demo` shows live video from two virtual cameras; `make test` runs the test suite;
# `make check` runs the format, lint and type gates; `make soak` runs the long endurance proofs (about 25 min).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench soak setup setup-test cvlc-user clean

# hostsim's fake CircuitPython modules import each other by their board names (busio, microcontroller, ...):
# they are type-checked as top-level modules, with the fakes folder on the path.
HOSTSIM_FAKES := AXP313A board busio espcamera espidf microcontroller microcontroller.pin micropython socketpool \
	ssl supervisor watchdog wifi

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
testkit/mpwasm/node_modules/.installed: testkit/mpwasm/package.json
	cd testkit/mpwasm && npm ci --no-audit --no-fund
	touch $@

# Debian's chromium for the browser tests (Playwright drives it through executable_path).
/usr/bin/chromium:
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

# The real video clients the streams and exports are tested with: ffmpeg/ffprobe, VLC (run as the non-root user
# cvlc: VLC refuses root), GStreamer's souphttpsrc + multipartdemux, and promtool from Debian's prometheus.
CLIENTS := /usr/bin/ffmpeg /usr/bin/cvlc /usr/bin/gst-launch-1.0 /usr/bin/promtool
$(CLIENTS):
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ffmpeg \
		vlc-bin vlc-plugin-base gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good prometheus

cvlc-user:
	id -u cvlc >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin cvlc

setup-test: $(STAMP) .cpstubs/.installed testkit/mpwasm/node_modules/.installed /usr/bin/chromium $(CLIENTS) cvlc-user

# CircuitPython's own core for the firmware tests: the caller's CAMSTREAM_CIRCUITPYTHON, else the team's build
# that .ci/circuitpython-core finds; with neither, those tests skip with a message naming the variable.
CIRCUITPYTHON_CORE = CAMSTREAM_CIRCUITPYTHON="$${CAMSTREAM_CIRCUITPYTHON:-$$(.ci/circuitpython-core)}"

test: setup-test
	$(CIRCUITPYTHON_CORE) $(BIN)/pytest -q

check: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy --strict camhub
	$(BIN)/mypy --strict --exclude 'hostsim/fakes/' hostsim
	MYPYPATH=hostsim/fakes $(BIN)/mypy --strict --no-namespace-packages --follow-imports=silent \
		$(addprefix -m ,$(HOSTSIM_FAKES))
	$(BIN)/mypy --exclude 'bench/guest/' bench
	$(BIN)/mypy --exclude 'testkit/guest/' --exclude 'testkit/mpy/shims/' testkit

demo: $(STAMP)
	$(BIN)/python -m camhub.demo

bench: $(STAMP) testkit/mpwasm/node_modules/.installed /usr/bin/ffmpeg
	$(BIN)/python -m bench

# The long forms of the endurance tests and one table of their figures (bench/soak.py).
soak: setup-test
	$(CIRCUITPYTHON_CORE) $(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .cpstubs testkit/mpwasm/node_modules camhub-data test-output
