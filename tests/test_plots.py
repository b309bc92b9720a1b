"""Tests for rnnbook.plots: every figure has a title, labelled axes, the book's look, and data."""

import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from rnnbook import plots, plots_gates, plots_rnn
from rnnbook.train import History


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def history(loss, dt=0.01):
    loss = np.asarray(loss, dtype=float)
    return History(loss=loss, grad_norm=np.ones_like(loss), step_time=np.full(len(loss), dt))


def check_figure(fig, title=None):
    """Title, labelled axes, dpi 100 and a PNG that renders."""
    assert isinstance(fig, matplotlib.figure.Figure)
    assert fig.dpi == 100
    ax = fig.axes[0]
    assert ax.get_title(), "figure has no title"
    if title is not None:
        assert title in ax.get_title()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    return ax


def test_figures_display_as_png_without_pyplot():
    fig = plots.line_log(np.arange(3), {"a": np.ones(3)})
    assert isinstance(fig, plots.BookFigure)
    assert not plt.get_fignums()  # not managed by pyplot: never shown twice, never piles up
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert repr(fig) == "<BookFigure size 700x350 with 1 Axes>"  # stable text for nbval
    fig.savefig(io.BytesIO())  # drawn outside style(): the look stays
    tick = fig.axes[0].xaxis.get_major_ticks()[0]
    assert tick.gridline.get_alpha() == plots.RC["grid.alpha"]
    assert tick.label1.get_fontsize() == plots.RC["xtick.labelsize"]


def test_style_is_scoped():
    before = plt.rcParams["axes.grid"], plt.rcParams["figure.dpi"]
    with plots.style():
        assert plt.rcParams["axes.grid"] is True and plt.rcParams["figure.dpi"] == 100
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        assert colors == plots.PALETTE
    assert (plt.rcParams["axes.grid"], plt.rcParams["figure.dpi"]) == before


def test_use_style():
    with matplotlib.rc_context():
        plots.use_style()
        assert plt.rcParams["figure.figsize"] == list(plots.FIGSIZE)


def test_loss_curves():
    fig = plots.loss_curves(
        {
            "rnn": history([1.0, 0.9, 0.8]),
            "lstm": [history([1.0, 0.5, 0.1]), history([1, 0.6, 0.2])],
        },
        baseline=0.167,
    )
    ax = check_figure(fig, "Training loss")
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "training step" and ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["rnn", "lstm", "baseline"]  # one legend entry for a list of seeds
    lines = ax.get_lines()
    assert len(lines) == 4  # 3 runs + baseline
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines[1].get_ydata(), [1.0, 0.5, 0.1])
    assert lines[1].get_color() == lines[2].get_color() != lines[0].get_color()
    assert lines[3].get_ydata()[0] == 0.167


def test_loss_curves_time_axis_and_smoothing():
    fig = plots.loss_curves(
        {"gru": history([4.0, 2.0, 0.0], dt=0.5)},
        baseline={"chance": 1.0, "half": 0.5},
        x="time",
        logy=False,
        smooth=2,
    )
    ax = check_figure(fig)
    assert ax.get_yscale() == "linear" and "time" in ax.get_xlabel()
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [0.5, 1.0, 1.5])
    np.testing.assert_allclose(line.get_ydata(), [4.0, 3.0, 1.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["gru", "chance", "half"]


def test_loss_curves_bad_arguments():
    with pytest.raises(ValueError, match="'step' or 'time'"):
        plots.loss_curves({"a": history([1.0])}, x="epoch")
    with pytest.raises(ValueError, match="non-empty"):
        plots.loss_curves({})


def test_heatmap():
    m = np.array([[0.9, 0.1], [0.25, 0.75], [0.5, 0.5]])
    fig = plots.heatmap(m, xlabels=["a", "b"], ylabels=[1, 2, 3], title="Weights")
    ax = check_figure(fig, "Weights")
    np.testing.assert_array_equal(ax.images[0].get_array(), m)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "3"]
    assert sorted(t.get_text() for t in ax.texts) == sorted(
        ["0.90", "0.10", "0.25", "0.75", "0.50", "0.50"]
    )
    assert ax.get_xlabel() and ax.get_ylabel()
    assert len(fig.axes) == 2  # colour bar
    with pytest.raises(ValueError, match="xlabels must have 2"):
        plots.heatmap(m, xlabels=["a"])
    with pytest.raises(ValueError, match="2-D"):
        plots.heatmap(np.ones(3))


def test_line_log():
    x = np.arange(5)
    fig = plots.line_log(x, {"up": 2.0**x, "zero": np.zeros(5)}, title="norms")
    ax = check_figure(fig, "norms")
    assert ax.get_yscale() == "log" and ax.get_xlabel() and ax.get_ylabel()
    up, zero = ax.get_lines()
    np.testing.assert_array_equal(up.get_ydata(), 2.0**x)
    assert np.all(np.isnan(zero.get_ydata()))  # zeros are left out on a log axis
    assert plots.line_log(x, {"a": x + 1.0}, logy=False, logx=True).axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match="expected"):
        plots.line_log(x, {"a": np.ones(3)})


def test_log_axis_labels_are_plain_numbers():
    fig = plots.line_log(np.arange(3), {"a": np.array([0.35, 0.5, 0.72])})
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels(minor=True) if t.get_text()]
    assert "0.5" in labels and not any("10" in s for s in labels)


def test_hidden_state_trajectory():
    hs = np.array([[2.0, 2.0], [6.0, 6.0], [16.0, 16.0]])
    xs = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
    fig = plots_rnn.hidden_state_trajectory(hs, xs)
    ax_x, ax_h = fig.axes[0], fig.axes[1] if fig.axes[1].images else fig.axes[2]
    check_figure(fig)
    np.testing.assert_array_equal(ax_h.images[0].get_array(), hs.T)
    np.testing.assert_array_equal(ax_x.images[0].get_array(), xs.T)
    assert {"2", "6", "16"} <= {t.get_text() for t in ax_h.texts}
    assert ax_h.get_xlabel() == "step t"
    assert [t.get_text() for t in ax_h.get_xticklabels()] == ["1", "2", "3"]
    only_h = plots_rnn.hidden_state_trajectory(hs)
    assert sum(1 for a in only_h.axes if a.images) == 1
    with pytest.raises(ValueError, match="inputs must be"):
        plots_rnn.hidden_state_trajectory(hs, xs[:2])
    with pytest.raises(ValueError, match=r"\(T, H\)"):
        plots_rnn.hidden_state_trajectory(hs[:, 0])


def test_line_log_draws_references_dashed_and_series_in_distinct_styles():
    x = np.arange(5.0)
    ys = {"a": x + 1, "b": 2 * x + 1, "c": 3 * x + 1, "bound": 4 * x + 1}
    ax = plots.line_log(x, ys, references=["bound"]).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["bound"].get_linestyle() == "--" and lines["bound"].get_color() == "black"
    styles = {lines[k].get_linestyle() for k in "abc"}
    colors = {lines[k].get_color() for k in "abc"}
    assert len(styles) == 3 and len(colors) == 3  # told apart without colour, too
    with pytest.raises(ValueError, match="references"):
        plots.line_log(x, ys, references=["nope"])


def test_error_surface_draws_each_path_in_its_own_style_above_the_last():
    x, y = np.linspace(0, 1, 5), np.linspace(0, 1, 4)
    paths = {
        "plain": np.array([[0.1, 0.1], [0.5, 0.5]]),
        "clipped": np.array([[0.1, 0.1], [0.4, 0.5]]),
    }
    ax = plots_rnn.error_surface(x, y, np.ones((4, 5)), paths).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines() if line.get_label() in paths}
    plain, clipped = lines["plain"], lines["clipped"]
    assert plain.get_linestyle() != clipped.get_linestyle()
    assert plain.get_marker() != clipped.get_marker()
    assert plain.get_linewidth() > clipped.get_linewidth()  # the one beneath shows around it
    assert clipped.get_zorder() > plain.get_zorder()


def test_gate_trajectories_gives_every_reference_its_own_line_style():
    rng = np.random.default_rng(0)
    runs = {name: rng.normal(size=(10, 2)) for name in ("rnn", "copy", "mlp", "mine")}
    fig = plots_gates.gate_trajectories(runs, highlight="mine")
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    refs = [lines[k] for k in ("rnn", "copy", "mlp")]
    assert len({line.get_linestyle() for line in refs}) == 3
    assert len({line.get_marker() for line in refs}) == 3
    assert lines["mine"].get_linestyle() == "-" and lines["mine"].get_linewidth() > 2
