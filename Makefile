# Two entry points (see README):
#   make demo  - set up .venv, run the quick start on the local store, then a quick benchmark against h5py
#   make test  - set up .venv and run the whole test suite (memory, local and S3 stores)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALL_LOG := $(VENV)/install.log
# bash for `set -o pipefail`: the install pipes pip's output through a progress filter
SHELL := bash

.PHONY: demo test venv bench clean

# pip's output (and setuptools' warnings) go to $(INSTALL_LOG); the terminal gets
# one dot per package, and the end of the log only when the install fails.
INSTALL_FAILED = { echo "==> the install failed; the end of $(INSTALL_LOG):"; tail -n 30 $(INSTALL_LOG); exit 1; }
$(VENV)/.installed: setup.cfg pyproject.toml
	@echo "==> installing dosna_like and its dependencies into $(VENV) (about a minute; full log: $(INSTALL_LOG))"
	@$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --upgrade pip > $(INSTALL_LOG) 2>&1 || $(INSTALL_FAILED)
	@set -o pipefail; $(PY) -m pip install -e ".[all]" 2>&1 | tee -a $(INSTALL_LOG) \
		| awk '/^(Collecting|Requirement already satisfied)/ { printf "."; fflush() } \
		       /^Installing collected packages/ { printf " installing %d packages", split($$0, names, ","); fflush() } \
		       END { print " done" }' \
		|| $(INSTALL_FAILED)
	@touch $@
	@echo "==> ready: activate it with '. $(VENV)/bin/activate', or run $(VENV)/bin/python and $(VENV)/bin/dosna-like"

venv: $(VENV)/.installed

demo: venv
	$(PY) examples/quickstart.py
	$(PY) benchmarks/run.py --quick
	@echo "==> next: '. $(VENV)/bin/activate', then 'python examples/quickstart.py' or 'dosna-like --help'"

test: venv
	$(PY) -m pytest -n 2 -q tests

bench: venv
	$(PY) benchmarks/run.py
	$(PY) benchmarks/floor.py

clean:
	rm -rf $(VENV) bench-results
