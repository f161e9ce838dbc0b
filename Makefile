# jewel-retouch: one command runs the server, one runs the tests.
#   make serve   - create .venv when missing, install, start the server on 127.0.0.1
#   make test    - same setup, then the whole suite (Python, real GIMP 3, browser, UXP node tests)
#   make test-fast - the unit tier: no root, no GIMP chroot, no browser, no server processes
#   make bench   - benchmark scripts that print figures
#   make eval    - quality table on the project's benchmark set
#   make eval-real PHOTOS=DIR - retouch a folder of real photos: before/after sheets + figures
#   make photoshop - write the Photoshop panel's .ccx (photoshop_uxp/dist/); no Node, no venv

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch this project is tested with (a local wheel on the project's machines).
# Users with another setup may override: make TORCH_SPEC='torch>=2.4' serve
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv serve test test-fast test-python test-node lint bench eval eval-real system-deps node-deps clean photoshop

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

serve: venv
	$(VENV)/bin/jewel-retouch serve

system-deps:
	bash scripts/system-deps.sh

node-deps:
	cd photoshop_uxp && npm ci --no-audit --no-fund --loglevel=error

lint: venv
	$(VENV)/bin/ruff check server models tests gimp_plugin scripts

test: venv system-deps node-deps lint test-python test-node

test-python: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# The tiers are pytest markers applied by tests/conftest.py (registered in pyproject.toml).
FAST_MARKERS := not (gimp or browser or live or dask or synth)

test-fast: venv
	$(PY) -m pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

test-node: node-deps
	cd photoshop_uxp && npm test

bench: venv
	$(PY) benchmarks/run_all.py

eval: venv
	$(PY) -m models.eval

# Real photos have no ground truth: look at the sheets this writes (models/README.md keeps the
# verdicts). The photos are never copied into the project.
PHOTOS ?= ../shared/photos
EVAL_OUT ?= out/eval-real
eval-real: venv
	$(PY) -m models.eval.real "$(PHOTOS)" --out "$(EVAL_OUT)"

# The Photoshop panel's installable .ccx: standard-library Python only (no Node, no venv), so it
# works on a fresh clone. Double-click the .ccx to install it (Creative Cloud desktop).
#   make photoshop SERVER_PORT=9000 SERVER_WS_PORT=9001 - also let the panel reach a server on these ports
SERVER_PORT ?=
SERVER_WS_PORT ?=
photoshop:
	$(PYTHON) -m server.commands.install photoshop $(if $(SERVER_PORT),--port $(SERVER_PORT)) $(if $(SERVER_WS_PORT),--ws-port $(SERVER_WS_PORT))

clean:
	rm -rf $(VENV) photoshop_uxp/node_modules .pytest_cache
