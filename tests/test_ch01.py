"""Tests for what chapter 1 (the naive RNN) added to the library.

- plots_rnn.dependency_matrices: the "which outputs see which inputs" figure;
- plots_rnn.hidden_state_trajectory(outputs=...): a third panel with the outputs y_t;
- widgets.rnn_stepper(readout=...): the stepper passes the readout's outputs to the figure.
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from rnnbook import cells, plots_rnn, widgets

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
    fig = plots_rnn.dependency_matrices({"one way": lower, "both ways": full}, title="seen")
    assert fig._suptitle.get_text() == "seen"
    axes = _image_axes(fig)
    assert [ax.get_title() for ax in axes] == ["one way", "both ways"]
    np.testing.assert_array_equal(axes[0].images[0].get_array(), lower != 0)
    np.testing.assert_array_equal(axes[1].images[0].get_array(), np.ones((4, 4), bool))
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["1", "2", "3", "4"]
    assert axes[0].get_xlabel() == "input step k" and axes[0].get_ylabel() == "output step t"


def test_dependency_matrices_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty dict"):
        plots_rnn.dependency_matrices({})
    with pytest.raises(ValueError, match="square"):
        plots_rnn.dependency_matrices({"a": np.ones((3, 2))})


def test_hidden_state_trajectory_with_outputs_adds_a_panel():
    hs = np.array([[0.5, -0.5], [0.1, 0.2], [0.0, 1.0]])
    xs = np.array([[1.0], [0.0], [1.0]])
    ys = np.array([[0.9], [0.8], [0.1]])
    fig = plots_rnn.hidden_state_trajectory(hs, xs, outputs=ys)
    axes = _image_axes(fig)
    assert [ax.get_ylabel() for ax in axes] == ["input", "hidden", "output"]
    np.testing.assert_array_equal(axes[2].images[0].get_array(), ys.T)
    assert len(_image_axes(plots_rnn.hidden_state_trajectory(hs, xs))) == 2
    with pytest.raises(ValueError, match="outputs must be"):
        plots_rnn.hidden_state_trajectory(hs, xs, outputs=ys[:2])


def test_rnn_stepper_passes_the_readout_to_the_figure(monkeypatch):
    InteractiveShell.instance()
    cell = cells.RNNCell(1, 3, seed=0)
    seen = {}

    def spy(hs, inputs, title, outputs=None):
        seen.update(hs=hs, x=inputs, y=outputs)
        return plt.figure()

    def readout(hs):
        return hs.sum(axis=1, keepdims=True)

    monkeypatch.setattr(plots_rnn, "hidden_state_trajectory", spy)
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
    fig = plots_rnn.hidden_state_trajectory(hs, xs, outputs=ys, annotate=False)
    ax_x, ax_h, ax_y = _image_axes(fig)
    assert [t.get_text() for t in ax_x.texts] == ["1", "0", "1"]
    assert [t.get_text() for t in ax_y.texts] == ["0.99", "0", "0.5"]
    assert len(ax_h.texts) == 0  # a panel of several rows follows `annotate`
    colorbars = [ax for ax in fig.axes if not ax.images]
    assert len(colorbars) == 3  # one per panel, so the panels stay aligned


# ----------------------------------------------------------------------- the loop written out


def _loop_model(H=4, seed=0):
    """The chapter's NumPy model: an Elman cell and a linear readout, one dict of arrays."""
    rnn = cells.RNNCell(1, H, seed=seed)
    readout = {
        "W_hy": np.random.default_rng(seed).uniform(-0.25, 0.25, size=(1, H)),
        "b_y": np.zeros(1),
    }

    def loss_and_grads(x, y):  # as in the chapter
        h, _, cache = rnn.forward(x)
        y_hat = h @ readout["W_hy"].T + readout["b_y"]
        err = y_hat - y
        d_y = 2 * err / err.size
        grads = rnn.backward(d_y @ readout["W_hy"], cache)
        grads["W_hy"] = np.einsum("tbo,tbh->oh", d_y, h)
        grads["b_y"] = d_y.sum(axis=(0, 1))
        return np.mean(err**2), grads

    return {**rnn.params, **readout}, loss_and_grads


def test_the_chapters_loop_gradient_is_the_loss_derivative():
    from rnnbook import tasks

    params, loss_and_grads = _loop_model()
    x, y = (a.astype(float) for a in tasks.noisy_sine(3, 6, seed=1))
    _, grads = loss_and_grads(x, y)
    eps = 1e-6
    for name, p in params.items():
        for idx in [(0,) * p.ndim, tuple(s - 1 for s in p.shape)]:
            keep = p[idx]
            p[idx] = keep + eps
            up, _ = loss_and_grads(x, y)
            p[idx] = keep - eps
            down, _ = loss_and_grads(x, y)
            p[idx] = keep
            assert abs((up - down) / (2 * eps) - grads[name][idx]) < 1e-7, (name, idx)


def test_the_chapters_loop_lowers_the_loss():
    from rnnbook import tasks

    params, loss_and_grads = _loop_model(H=16)
    losses = []
    for step in range(60):
        x, y = (a.astype(float) for a in tasks.noisy_sine(32, 30, seed=step))
        loss, grads = loss_and_grads(x, y)
        for name, p in params.items():
            p -= 0.3 * grads[name]
        losses.append(loss)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
