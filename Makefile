# Two entry points (see README):
#   make demo  - set up .venv, run the quick start on the local store, then a quick benchmark against h5py
#   make test  - set up .venv and run the whole test suite (memory, local and S3 stores)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test venv bench clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) examples/quickstart.py
	$(PY) benchmarks/run.py --quick

test: venv
	$(PY) -m pytest -n 2 -q tests

bench: venv
	$(PY) benchmarks/run.py
	$(PY) benchmarks/floor.py

clean:
	rm -rf $(VENV) bench-results
