"""Re-run notebooks in place, refreshing their stored outputs (`make execute`).

Each notebook runs top to bottom in a fresh kernel from its own folder, with the same
environment nbval uses. Widget state is not stored (the site shows the static figure
each widget draws; the live widget needs a kernel). Prints the time each notebook took.

    python tools/execute.py notebooks/01_naive_rnn.ipynb [...]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMEOUT = 600  # seconds per cell

# The same single-threaded BLAS/OpenMP as the tests and nbval (see conftest.py).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"


def execute(path: Path) -> float:
    """Execute one notebook in place; return the wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False,
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return elapsed


def main(paths: list[str]) -> int:
    total = 0.0
    for name in paths:
        seconds = execute(Path(name))
        total += seconds
        print(f"{name}: {seconds:.1f} s", flush=True)
    print(f"total: {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
