"""Tests for what chapter 1 (the naive RNN) added to the library.

- plots.dependency_matrices: the "which outputs see which inputs" figure;
- plots.hidden_state_trajectory(outputs=...): a third panel with the outputs y_t;
- widgets.rnn_stepper(readout=...): the stepper passes the readout's outputs to the figure.
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from rnnbook import cells, plots, widgets

PNG = "iVBORw0KGgo"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def test_dependency_matrices_draws_which_outputs_depend_on_which_inputs():
    lower = np.tril(np.full((4, 4), 0.3))
    full = np.full((4, 4), -1e-9)  # any nonzero change counts, of either sign
    fig = plots.dependency_matrices({"one way": lower, "both ways": full}, title="seen")
    assert fig._suptitle.get_text() == "seen"
    axes = _image_axes(fig)
    assert [ax.get_title() for ax in axes] == ["one way", "both ways"]
    np.testing.assert_array_equal(axes[0].images[0].get_array(), lower != 0)
    np.testing.assert_array_equal(axes[1].images[0].get_array(), np.ones((4, 4), bool))
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["1", "2", "3", "4"]
    assert axes[0].get_xlabel() == "input step k" and axes[0].get_ylabel() == "output step t"


def test_dependency_matrices_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.dependency_matrices({})
    with pytest.raises(ValueError, match="square"):
        plots.dependency_matrices({"a": np.ones((3, 2))})


def test_hidden_state_trajectory_with_outputs_adds_a_panel():
    hs = np.array([[0.5, -0.5], [0.1, 0.2], [0.0, 1.0]])
    xs = np.array([[1.0], [0.0], [1.0]])
    ys = np.array([[0.9], [0.8], [0.1]])
    fig = plots.hidden_state_trajectory(hs, xs, outputs=ys)
    axes = _image_axes(fig)
    assert [ax.get_ylabel() for ax in axes] == ["input", "hidden", "output"]
    np.testing.assert_array_equal(axes[2].images[0].get_array(), ys.T)
    assert len(_image_axes(plots.hidden_state_trajectory(hs, xs))) == 2
    with pytest.raises(ValueError, match="outputs must be"):
        plots.hidden_state_trajectory(hs, xs, outputs=ys[:2])


def test_rnn_stepper_passes_the_readout_to_the_figure(monkeypatch):
    InteractiveShell.instance()
    cell = cells.RNNCell(1, 3, seed=0)
    seen = {}

    def spy(hs, inputs, title, outputs=None):
        seen.update(hs=hs, x=inputs, y=outputs)
        return plt.figure()

    def readout(hs):
        return hs.sum(axis=1, keepdims=True)

    monkeypatch.setattr(plots, "hidden_state_trajectory", spy)
    with capture_output() as captured:
        widgets.rnn_stepper(cell, sequence="1; 0; 1", readout=readout)
    assert captured.outputs[0].data["image/png"].startswith(PNG)
    expected = cell.forward(np.array([[[1.0]], [[0.0]], [[1.0]]]))[0][:, 0]
    np.testing.assert_allclose(seen["hs"], expected)
    np.testing.assert_allclose(seen["y"], expected.sum(axis=1, keepdims=True))
    seen.clear()
    with capture_output():
        widgets.rnn_stepper(cell, sequence="1; 0; 1")
    assert seen["y"] is None  # no readout: no output panel


def test_hidden_state_trajectory_writes_the_values_of_one_row_panels():
    hs = np.array([[0.5, -0.5], [0.1, 0.2], [0.0, 1.0]])
    xs = np.array([[1.0], [0.0], [1.0]])
    ys = np.array([[0.987], [-0.001], [0.5]])
    fig = plots.hidden_state_trajectory(hs, xs, outputs=ys, annotate=False)
    ax_x, ax_h, ax_y = _image_axes(fig)
    assert [t.get_text() for t in ax_x.texts] == ["1", "0", "1"]
    assert [t.get_text() for t in ax_y.texts] == ["0.99", "0", "0.5"]
    assert len(ax_h.texts) == 0  # a panel of several rows follows `annotate`
    colorbars = [ax for ax in fig.axes if not ax.images]
    assert len(colorbars) == 3  # one per panel, so the panels stay aligned
