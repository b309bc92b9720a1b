"""Chapter 9 (recurrence in parallel): its figures, its exercise checks, the hand-built parity
networks, the timing helper, and the notebook's own conventions."""

import ast
import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from rnnbook import exercises_parallel as ex
from rnnbook import mincells, plots_parallel, scan, tasks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "09_parallel.ipynb"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ------------------------------------------------------------------------------ figures


def test_scan_timing_plots_milliseconds_on_log_axes():
    T = [64, 128, 256]
    fig = plots_parallel.scan_timing(T, {"a": [1e-3, 2e-3, 4e-3], "b": [1e-3, 1e-3, 1e-3]})
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1, 2, 4])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.lines[0].get_linestyle() != ax.lines[1].get_linestyle()
    with pytest.raises(ValueError, match="non-empty"):
        plots_parallel.scan_timing(T, {})
    with pytest.raises(ValueError, match="shape"):
        plots_parallel.scan_timing(T, {"a": [1.0]})


def test_state_orbits_one_panel_per_model():
    h = np.arange(30.0).reshape(10, 3)
    fig = plots_parallel.state_orbits({"A": h, "B": -h}, title="t")
    assert len(fig.axes) == 2 and fig._suptitle.get_text() == "t"
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), -h[:, 0])
    with pytest.raises(ValueError, match=r"\(T, k\)"):
        plots_parallel.state_orbits({"A": np.zeros(5)})
    with pytest.raises(ValueError, match="non-empty"):
        plots_parallel.state_orbits({})


# ------------------------------------------------------------------------------ the checks


def combine(first, second):
    a1, b1 = first
    a2, b2 = second
    return a1 * a2, a2 * b1 + b2


def test_check_combine_accepts_the_answer_and_names_mistakes():
    assert ex.check_combine(combine).ok
    wrong_order = ex.check_combine(lambda f, s: (f[0] * s[0], f[0] * s[1] + f[1]))
    assert not wrong_order.ok and "second map first" in wrong_order.hint
    no_decay = ex.check_combine(lambda f, s: (f[0] * s[0], f[1] + s[1]))
    assert "multiplied by a2" in no_decay.hint
    added = ex.check_combine(lambda f, s: (f[0] + s[0], s[0] * f[1] + s[1]))
    assert "a1 * a2" in added.hint
    assert "wrong type" in ex.check_combine(lambda f, s: f[0]).title

    def unanswered(first, second):
        raise NotImplementedError()

    assert "not answered" in ex.check_combine(unanswered).title


def min_gru_step(x, h, W, b):
    k_z, k_h = np.split(x @ W.T + b, 2, axis=-1)
    z = 1 / (1 + np.exp(-k_z))
    return (1 - z) * h + z * mincells.g(k_h)


def test_check_min_gru_step_accepts_the_answer_and_names_mistakes():
    assert ex.check_min_gru_step(min_gru_step).ok, str(ex.check_min_gru_step(min_gru_step))

    def swapped(x, h, W, b):
        k_z, k_h = np.split(x @ W.T + b, 2, axis=-1)
        z = 1 / (1 + np.exp(-k_z))
        return z * h + (1 - z) * mincells.g(k_h)

    def with_tanh(x, h, W, b):
        k_z, k_h = np.split(x @ W.T + b, 2, axis=-1)
        z = 1 / (1 + np.exp(-k_z))
        return (1 - z) * h + z * np.tanh(k_h)

    def linear(x, h, W, b):
        k_z, k_h = np.split(x @ W.T + b, 2, axis=-1)
        z = 1 / (1 + np.exp(-k_z))
        return (1 - z) * h + z * k_h

    assert "swapped" in ex.check_min_gru_step(swapped).hint
    assert "no tanh" in ex.check_min_gru_step(with_tanh).hint
    assert "goes through g" in ex.check_min_gru_step(linear).hint
    transposed = ex.check_min_gru_step(lambda x, h, W, b: min_gru_step(x, h, W, b).T)
    assert not transposed.ok and "shape" in transposed.title


# ------------------------------------------------------------------------------ parity by hand


def test_parity_by_sign_is_exact_at_any_length():
    x, y = tasks.running_parity(20, 3000, seed=1, dtype=np.float64)
    h = mincells.parity_by_sign().forward(x)[0][..., 0]
    assert np.array_equal(h > 0.5, y == 1) and np.abs(h - y).max() < 1e-9


@pytest.mark.parametrize("n", [1, 3, 8])
def test_parity_by_depth_holds_up_to_n_ones_and_fails_after(n):
    layer1, layer2, readout = mincells.parity_by_depth(n)
    x, y = tasks.running_parity(400, 4 * n + 8, seed=2, dtype=np.float64)
    estimate = layer2.forward(layer1.forward(x)[0])[0] @ readout
    count = np.cumsum(x[..., 0], axis=0)
    right = np.round(estimate) == y
    assert right[count <= n].all()
    assert right[count > n].mean() < 0.7  # stuck at the parity of n
    with pytest.raises(ValueError, match="max_ones"):
        mincells.parity_by_depth(0)
    with pytest.raises(ValueError, match="eps"):
        mincells.parity_by_depth(3, eps=1.5)


def test_time_methods_returns_one_time_per_length():
    times = scan.time_methods([16, 32], shape=(2, 3), repeats=1)
    assert set(times) == set(scan.METHODS)
    assert all(t.shape == (2,) and np.all(t >= 0) for t in times.values())
    with pytest.raises(ValueError, match="methods"):
        scan.time_methods([16], methods=("tree",))


# ------------------------------------------------------------------------------ the notebook


def cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def test_notebook_follows_the_book_conventions():
    nb = cells()
    code = [c for c in nb if c["cell_type"] == "code"]
    assert code[0]["metadata"].get("tags") == ["remove-cell"]
    assert "train.deterministic()" in "".join(code[1]["source"])
    for c in code[1:]:
        src = "".join(c["source"])
        tags = c["metadata"].get("tags", [])
        asserts = any(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(src)))
        assert "NBVAL_IGNORE_OUTPUT" not in src  # a tag, never a comment
        if "hide-cell" in tags:
            assert asserts and "print(" not in src, f"a hidden cell only checks: {src[:60]}"
            assert not c.get("outputs"), f"a hidden check prints nothing: {src[:60]}"
        else:
            assert not asserts, f"an assert in a reader's cell: {src[:60]}"
        assert max(map(len, src.splitlines()), default=0) <= 100, src[:60]
    figures = [c for c in code if "figure" in c["metadata"].get("mystnb", {})]
    assert len(figures) >= 5
    for c in figures:
        fig = c["metadata"]["mystnb"]["figure"]
        assert fig["name"].startswith("fig-09-") and len(fig["caption"]) > 40
        if "explorable.figure(" not in "".join(c["source"]):  # an explorable's alt is in its HTML
            assert len(c["metadata"]["mystnb"]["image"]["alt"]) > 40
    timing = [c for c in code if "time_methods" in "".join(c["source"])]
    assert timing and all("nbval-ignore-output" in c["metadata"]["tags"] for c in timing)


def test_notebook_exercises_and_citations():
    text = "".join("".join(c["source"]) for c in cells() if c["cell_type"] == "markdown")
    labels = [line.split()[-1] for line in text.splitlines() if line.startswith(":label: ex-09")]
    assert len(labels) >= 6
    for label in labels:
        if label not in ("ex-09-combine", "ex-09-step"):
            assert f"{{solution}} {label}" in text, label
    graded = [c for c in cells() if c["metadata"].get("nbgrader", {}).get("grade")]
    assert len(graded) == 2 and all(c["metadata"]["nbgrader"]["points"] == 2 for c in graded)
    assert "Where write-ups err:" in text
    bib = (ROOT / "references.bib").read_text()
    for key in set(re.findall(r"\{cite\}`([^`]+)`", text)):
        for k in key.split(","):
            assert f"{{{k.strip()}," in bib, k
