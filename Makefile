# The book's commands. Every target bootstraps .venv from requirements.txt on first use.
# make book     build the HTML site into _build/html from the notebooks' stored outputs
# make test     everything CI runs: ruff, library tests, nbval (strict), site build, browser tests
# make execute  re-run every notebook in place, refreshing its stored outputs
# make lab      JupyterLab on the notebooks with the book's kernel
# make serve    serve _build/html on http://localhost:8000
# make student  student copies (solutions removed, outputs cleared) into _build/student
# make bench    speed of the library against torch, and of the book's own build
# make clean    remove _build (keeps .venv; `make distclean` removes it too)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS := $(shell $(PYTHON) tools/toc_notebooks.py)
export PYTHONHASHSEED := 0

.PHONY: book test execute setup-cells lab serve student bench clean distclean lint

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
	$(BIN)/ruff format --check lib tests tools benchmarks

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check lib tests tools benchmarks
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with tools/nbval_sanitize.cfg -p no:randomly $(NOTEBOOKS)

setup-cells: $(STAMP)
	$(BIN)/python tools/setup_cells.py

execute: setup-cells
	$(BIN)/python tools/execute.py $(NOTEBOOKS)

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
