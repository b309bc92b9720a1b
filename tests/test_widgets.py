"""Tests for rnnbook.widgets: the static PNG is displayed, and a control change redraws it."""

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from rnnbook import plots, plots_rnn, widgets

PNG = "iVBORw0KGgo"  # the PNG signature, base64-encoded as in a notebook


@pytest.fixture(scope="module", autouse=True)
def shell():
    """An IPython shell, so that display() publishes outputs that can be captured."""
    return InteractiveShell.instance()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def draw_line(w, T):
    t = np.arange(1, T + 1)
    return plots.line_log(t, {f"w = {w}": w ** (t - 1.0)}, title="w chain")


def make(show=True, calls=None):
    def draw(w, T):
        if calls is not None:
            calls.append((w, T))
        return draw_line(w, T)

    controls = {
        "w": ipywidgets.FloatSlider(value=1.01, min=0.9, max=1.1, continuous_update=False),
        "T": ipywidgets.IntSlider(value=50, min=2, max=500),
    }
    return widgets.interactive_figure(draw, controls, show=show)


def test_static_png_is_displayed_first():
    calls = []
    with capture_output() as captured:
        fig = make(calls=calls)
    assert calls == [(1.01, 50)]
    first, second = captured.outputs[0], captured.outputs[1]
    assert first.data["image/png"].startswith(PNG)  # the static figure: what the web page shows
    assert "application/vnd.jupyter.widget-view+json" in second.data  # then the controls
    assert fig.box.children[-1] is fig.output
    assert not plt.get_fignums()  # the matplotlib figure was closed, not shown twice


def test_changing_a_control_redraws_in_place():
    calls = []
    with capture_output() as captured:
        fig = make(calls=calls)
        n_outputs = len(captured.outputs)
        fig.controls["w"].value = 0.99
        fig.controls["T"].value = 100
    assert calls == [(1.01, 50), (0.99, 50), (0.99, 100)]
    assert fig.draws == 3
    updates = [o for o in captured.outputs[n_outputs:] if o.update]
    assert len(updates) == 2
    assert all(u.data["image/png"].startswith(PNG) for u in updates)
    display_id = captured.outputs[0].transient["display_id"]
    assert all(u.transient["display_id"] == display_id for u in updates)


def test_redraw_error_keeps_figure_and_reports():
    def draw(n):
        if n < 0:
            raise ValueError("n must be >= 0")
        return draw_line(1.0, n + 2)

    with capture_output():
        fig = widgets.interactive_figure(draw, {"n": ipywidgets.IntText(value=3)})
        image = fig.image
        fig.controls["n"].value = -1
    assert fig.image is image and fig.errors == ["ValueError: n must be >= 0"]


def test_show_false_displays_nothing():
    with capture_output() as captured:
        fig = make(show=False)
    assert captured.outputs == [] and fig.draws == 1 and fig.image is not None
    with capture_output() as captured:
        fig._ipython_display_()
    assert captured.outputs == []


def test_interactive_figure_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        widgets.interactive_figure("draw", {"a": ipywidgets.IntText()})
    with pytest.raises(ValueError, match="non-empty"):
        widgets.interactive_figure(draw_line, {})
    with pytest.raises(TypeError, match="ipywidgets widget"):
        widgets.interactive_figure(draw_line, {"w": 1.0})
    with pytest.raises(TypeError, match="Figure"):
        widgets.interactive_figure(lambda a: None, {"a": ipywidgets.IntText()}, show=False)


def test_parse_sequence():
    x = widgets.parse_sequence("1,1; 1,1; 2,2")
    assert x.shape == (3, 1, 2)
    np.testing.assert_array_equal(x[:, 0], [[1, 1], [1, 1], [2, 2]])
    np.testing.assert_array_equal(widgets.parse_sequence(" 0.5 ;-1; 2e1; ")[:, 0, 0], [0.5, -1, 20])
    for bad, match in [
        ("", "empty"),
        ("1,a; 2,2", "step 1"),
        ("1,1; 2", "same number"),
        ("1,inf", "inf"),
    ]:
        with pytest.raises(ValueError, match=match):
            widgets.parse_sequence(bad)
    with pytest.raises(ValueError, match="needs 3 values"):
        widgets.parse_sequence("1,1", input_size=3)


def test_rnn_stepper_memory_example():
    pytest.importorskip("rnnbook.cells")
    with capture_output() as captured:
        stepper = widgets.rnn_stepper()
    assert captured.outputs[0].data["image/png"].startswith(PNG)
    # the figure shows the memory example's hidden states [2,2], [6,6], [16,16]
    seen = {}

    def spy(hs, inputs, title):
        seen["hs"], seen["x"] = hs, inputs
        return plt.figure()

    original = plots_rnn.hidden_state_trajectory
    plots_rnn.hidden_state_trajectory = spy
    try:
        with capture_output():
            stepper.controls["sequence"].value = "1,1; 1,1; 2,2; 0,0"
    finally:
        plots_rnn.hidden_state_trajectory = original
    np.testing.assert_array_equal(seen["hs"], [[2, 2], [6, 6], [16, 16], [32, 32]])
    np.testing.assert_array_equal(seen["x"][:, 0], [1, 1, 2, 0])
    assert stepper.draws == 2
    with capture_output():
        stepper.controls["sequence"].value = "1,1,1"
    assert "needs 2 values" in stepper.errors[-1]


def test_rnn_stepper_bad_cell():
    with pytest.raises(TypeError, match="forward"):
        widgets.rnn_stepper(cell=object(), show=False)
