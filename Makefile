# udl: two commands for a newcomer — `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.udl-installed

.PHONY: demo test slow gpu browser-setup lint bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## run the tour suite (quick presets) and print the report path
	@# exit 1 means a claim did not hold: a finding the report explains; a failed run (exit 3) fails the demo
	$(VENV)/bin/udl reproduce --suite tour || test $$? -eq 1

# Two pytest workers, one intra-op thread each: two processes of two OpenMP threads on two cores spin-wait
# on each other and run several times slower.
test: $(STAMP) browser-setup  ## fast tier: unit, reference and smoke tests, reports in headless Chromium
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -q

# The browser tier (tests/browser) drives Debian's chromium with chromium-driver. Installed here when absent
# and this is root with apt; otherwise nothing happens and the tier skips, saying why.
browser-setup:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver (apt) for tests/browser"; \
	    apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } || \
	      echo "could not install chromium: tests/browser will skip"; \
	  fi; \
	fi

gpu: $(STAMP)  ## every smoke preset on CUDA against the CPU verdicts (skips without CUDA)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -m gpu tests/report/test_gpu.py

slow: $(STAMP)  ## every quick preset with its verdicts asserted, every Config field fuzzed, every experiment killed and resumed
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy src

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
