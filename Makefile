# The book's commands. Every target bootstraps .venv from requirements.txt on first use.
# make book     build the HTML site into _build/html from the notebooks' stored outputs
# make test     everything CI runs: ruff, library tests, nbval (strict), site build, browser tests
# make execute  re-run every notebook in place, refreshing its stored outputs
# make test-perturbed  re-run every notebook with RNNBOOK_PERTURB=1 (copies): every claim must hold
# make lab      JupyterLab on the notebooks with the book's kernel
# make serve    serve _build/html on http://localhost:8000
# make student  student copies into _build/student: each chapter's exercises, as `rnnbook-course assign` releases them
# make bench    speed of the library against torch, and of the book's own build
# make clean    remove _build (keeps .venv; `make distclean` removes it too)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS := $(shell $(PYTHON) tools/toc_notebooks.py)
export PYTHONHASHSEED := 0

.PHONY: book test test-perturbed execute setup-cells lab serve student bench clean distclean lint

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (rnnbook)" >/dev/null
	touch $@

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check lib tests tools benchmarks notebooks

# make check: the quick check while working (at most 3 minutes on 2 cores): ruff, the library's
# tests and the book's frame, without the tests marked slow or site (make test runs those too).
.PHONY: check
check: lint
	$(BIN)/python -m pytest tests -q -m "not slow and not site"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check lib tests tools benchmarks notebooks
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tools/nbval_sanitize.cfg -p no:randomly -n 2 --dist loadfile $(NOTEBOOKS)

setup-cells: $(STAMP)
	$(BIN)/python tools/setup_cells.py

execute: setup-cells
	$(BIN)/python tools/execute.py $(NOTEBOOKS)

test-perturbed: $(STAMP)
	RNNBOOK_PERTURB=1 $(BIN)/python tools/execute.py --out _build/perturbed $(NOTEBOOKS)

# make render: the reader's copies (colab/) that the Colab, Binder and download buttons open,
# setup cell pinned to the last commit of notebooks/ lib/ pyproject.toml: commit those first.
.PHONY: render
render: $(STAMP)
	$(BIN)/python tools/render.py

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

serve:
	$(PYTHON) -m http.server --directory _build/html --bind 127.0.0.1 8000

student: $(STAMP)
	$(BIN)/python tools/student.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV)
