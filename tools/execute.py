"""Re-run notebooks, refreshing their stored outputs (`make execute`, `make test-perturbed`).

Each notebook runs top to bottom in a fresh kernel from its own folder, with the same pinned
environment nbval uses (rnnbook.repro.environment). Widget state is not stored (the site
shows the static figure each widget draws; the live widget needs a kernel). Prints the time
each notebook took. A cell that raises stops the run with an error.

    python tools/execute.py notebooks/01_naive_rnn.ipynb [...]        # in place
    python tools/execute.py --out DIR notebooks/01_naive_rnn.ipynb    # write copies into DIR
"""

from __future__ import annotations

import argparse
import copy
import fcntl
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

from rnnbook import repro

TIMEOUT = 1800  # seconds per cell: generous, so that a busy machine only slows the run

# The same pinned environment as the tests and nbval (see conftest.py); the kernel inherits it.
os.environ.update(repro.environment())
# Matplotlib's font cache names font files by path, so a cache shared with another venv (a
# second checkout, a deleted clone) makes the kernels warn on stderr: keep one per venv.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(sys.prefix, "matplotlib"))


def _inputs(nb) -> list:
    """What a person edits in a notebook: each cell's type, source and metadata."""
    return copy.deepcopy([(c.cell_type, c.source, c.metadata) for c in nb.cells])


def execute(path: Path, out: Path | None = None) -> float:
    """Execute one notebook, in place or into the folder ``out``; return the wall time in s.

    In place, the outputs are written only if nobody edited the notebook meanwhile (an edit in
    Jupyter while `make execute` runs); otherwise RuntimeError, and the edit is kept.
    """
    nb = nbformat.read(path, as_version=4)
    before = _inputs(nb)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False,
        record_timing=False,  # no timestamps in the stored cells: diffs show only real changes
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    # one output per stream and cell: how print() calls were split into messages depends on
    # the machine's timing, and would otherwise show as changes in a diff
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    if out is not None:
        nbformat.write(nb, out / path.name)
        return elapsed
    with open(path, "r+") as handle:  # editors that lock the notebook (fcntl) wait for this
        fcntl.flock(handle, fcntl.LOCK_EX)
        if _inputs(nbformat.read(handle, as_version=4)) != before:
            raise RuntimeError(f"{path} was edited while it ran: outputs not written, run again")
        handle.seek(0)
        handle.truncate()
        nbformat.write(nb, handle)
    return elapsed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write executed copies here, not in place")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    if repro.perturbed() and not args.out:
        parser.error(
            f"{repro.PERTURB_VARIABLE} is set: write perturbed runs with --out, never in place"
        )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    if repro.perturbed():
        print(f"{repro.PERTURB_VARIABLE} is set: weights and data seeds are perturbed", flush=True)
    total = 0.0
    for name in args.paths:
        seconds = execute(Path(name), args.out)
        total += seconds
        print(f"{name}: {seconds:.1f} s", flush=True)
    print(f"total: {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
