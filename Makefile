# Two entry points (see README):
#   make demo  - set up .venv, run the quick start on the local store, then a quick benchmark against h5py
#   make test  - set up .venv and run the whole test suite (memory, local and S3 stores)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALL_LOG := $(VENV)/install.log
# bash for `set -o pipefail`: the install pipes pip's output through a progress filter
SHELL := bash

.PHONY: demo test venv bench clean chromium

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

# the browser test of `dosna-like serve` drives Debian's Chromium (apt-get, with sudo when not root)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium > /dev/null 2>&1 || command -v chromium-browser > /dev/null 2>&1 || { \
		echo "==> installing Chromium for the browser test (apt-get; log: $(VENV)/chromium.log)"; \
		mkdir -p $(VENV); \
		$(SUDO) apt-get update -qq > $(VENV)/chromium.log 2>&1 \
		&& $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >> $(VENV)/chromium.log 2>&1 \
		|| { echo "==> installing Chromium failed; the end of $(VENV)/chromium.log:"; tail -n 20 $(VENV)/chromium.log; exit 1; }; }

test: venv chromium
	$(PY) -m pytest -n 2 -q tests

bench: venv
	$(PY) benchmarks/run.py
	$(PY) benchmarks/floor.py

clean:
	rm -rf $(VENV) bench-results
