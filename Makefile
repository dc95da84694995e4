# tailbench: `make demo` and `make test` set up .venv on first use.
# torch is installed first and pinned (CPU build; a range would pull multi-GB CUDA wheels),
# then tailbench, then the generator plugins under plugins/ (each its own distribution,
# installed editable; tailbench-mbi pins mbi/jax/jaxlib so numpy stays 1.26.4).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
TORCH  := torch==2.13.0
PLUGINS := plugins/tailbench-mbi
export TAILBENCH_DATA_DIR ?= $(wildcard $(abspath ../shared/data))

.PHONY: install demo test test-all lint bench clean

$(VENV)/.installed: pyproject.toml constraints.txt $(addsuffix /pyproject.toml,$(PLUGINS))
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install $(TORCH)
	$(PY) -m pip install -e '.[dev,launchers]' -c constraints.txt
	for p in $(PLUGINS); do $(PY) -m pip install -e $$p -c constraints.txt || exit 1; done
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/tailbench -m experiment=demo hydra/launcher=joblib

# the fast suite on 2 pytest-xdist workers; --dist loadfile keeps each test file (and its
# session fixtures) on one worker
test: install
	$(PY) -m pytest -m "not slow" -q -n 2 --dist loadfile

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-all: install
	$(PY) -m pytest -q

bench: install
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
