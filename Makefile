# udl: two commands for a newcomer — `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.udl-installed

.PHONY: demo test slow lint bench install clean

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
test: $(STAMP)  ## fast tier: unit, reference and smoke tests
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -q

slow: $(STAMP)  ## every quick preset with its verdicts asserted, every Config field fuzzed, every experiment killed and resumed
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy src

bench: $(STAMP)
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
