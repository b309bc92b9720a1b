"""The conventions that make the stored outputs reproducible on another machine.

See book/reproducibility.md: timings and training results are tagged ``nbval-ignore-output``
(a cell tag, never a comment), and every chapter fixes its seeds and kernels at the top.
"""

from __future__ import annotations

import itertools
import re

import nbformat
import pytest
import toc_notebooks

from conftest import ROOT

NOTEBOOKS = toc_notebooks.toc_notebooks()
TIMED = re.compile(
    r"median_times?\(|cpu_times\(|perf_counter|process_time|timing=True|x=\"time\"|\.step_time"
)


def code_cells(path: str) -> list:
    nb = nbformat.read(ROOT / path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_nbval_markers_are_tags_not_comments(path):
    for cell in code_cells(path):
        assert "NBVAL_" not in cell.source, f"{path}: use the nbval-ignore-output tag"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_every_cell_that_shows_a_timing_is_not_compared(path):
    for cell in code_cells(path):
        shows = cell.get("outputs") and not cell.metadata.get("tags", []) == ["hide-cell"]
        if TIMED.search(cell.source) and shows:
            assert "nbval-ignore-output" in cell.metadata.get("tags", []), (
                f"{path}: a cell that times something must carry nbval-ignore-output:\n"
                + cell.source[:300]
            )


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_every_chapter_fixes_seeds_and_kernels_before_its_first_result(path):
    head = "\n".join(c.source for c in code_cells(path)[:3])
    assert "deterministic()" in head, f"{path}: call train.deterministic() in the first cells"


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_each_cell_stores_one_output_per_stream(path):
    # tools/execute.py coalesces them: how prints were split into messages is the machine's
    for cell in code_cells(path):
        kinds = [o.get("name", o.output_type) for o in cell.get("outputs", [])]
        split = any(a == b in ("stdout", "stderr") for a, b in itertools.pairwise(kinds))
        assert not split, f"{path}: a stream split in two in\n{cell.source[:200]}"
