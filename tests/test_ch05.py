"""Tests for what chapter 5 (the GRU) added to the library: pin_gates, the gate-trajectory
figure, the z/r widget and the check of the rnn_to_gru exercise."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from rnnbook import exercises, plots_gates, widgets
from rnnbook.cells import GRUCell, LSTMCell, RNNCell, pin_gates


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def sequence(T=5, B=2, I=3, H=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(T, B, I)), rng.uniform(-1, 1, size=(B, H))


# ------------------------------------------------------------------------------ pin_gates


@pytest.mark.parametrize("reset", ["after", "before"])
@pytest.mark.parametrize("z, r", [(0.0, 1.0), (1.0, 0.0), (0.25, 0.7), (0.0, 0.0)])
def test_pin_gates_makes_gru_gates_constant(reset, z, r):
    gru = GRUCell(3, 4, reset=reset, seed=1)
    x, h0 = sequence()
    _, _, cache = pin_gates(gru, z=z, r=r).forward(x, h0)
    assert np.allclose(cache["z"], z, atol=1e-15)
    assert np.allclose(cache["r"], r, atol=1e-15)


def test_pin_gates_leaves_the_cell_and_the_candidate_alone():
    gru = GRUCell(3, 4, seed=2)
    before = {k: v.copy() for k, v in gru.params.items()}
    pinned = pin_gates(gru, z=0.0)
    for k, v in gru.params.items():
        assert np.array_equal(v, before[k])  # the original is not changed
        assert np.array_equal(pinned.params[k][8:], v[8:])  # the n block is kept
        assert np.array_equal(pinned.params[k][:4], v[:4])  # r is kept (not pinned)
    assert pinned.reset == gru.reset and type(pinned) is GRUCell


def test_pin_gates_limits_of_the_gru():
    gru = GRUCell(3, 4, seed=3)
    x, h0 = sequence()
    rnn = RNNCell(3, 4)
    rnn.params = {k: v[8:].copy() for k, v in gru.params.items()}
    assert np.allclose(pin_gates(gru, z=0.0, r=1.0).forward(x, h0)[0], rnn.forward(x, h0)[0])
    assert np.array_equal(pin_gates(gru, z=1.0).forward(x, h0)[0], np.broadcast_to(h0, (5, 2, 4)))
    mlp = np.tanh(x @ gru.params["weight_ih"][8:].T + gru.params["bias_ih"][8:])
    assert np.allclose(pin_gates(gru, z=0.0, r=0.0).forward(x, h0)[0], mlp, atol=1e-15)


@pytest.mark.parametrize("variant", ["vanilla", "peephole", "cifg"])
def test_pin_gates_lstm(variant):
    lstm = LSTMCell(3, 4, variant=variant, seed=4)
    x, h0 = sequence()
    gates = {"o": 0.0, "f": 1.0}
    _, (_, c), cache = pin_gates(lstm, **gates).forward(x, (h0, h0))
    assert np.abs(cache["h"]).max() < 1e-15  # o = 0: silent
    assert np.allclose(cache["f"], 1.0)


def test_pin_gates_bad_arguments():
    gru = GRUCell(2, 3, seed=0)
    with pytest.raises(ValueError, match="gates are"):
        pin_gates(gru, n=0.5)  # the candidate is not a gate
    with pytest.raises(ValueError, match="gates are"):
        pin_gates(LSTMCell(2, 3, variant="cifg"), i=1.0)  # cifg has no input gate
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pin_gates(gru, z=1.5)
    with pytest.raises(ValueError, match="biases"):
        pin_gates(GRUCell(2, 3, bias=False), z=0.0)
    with pytest.raises(TypeError, match="GRUCell or LSTMCell"):
        pin_gates(RNNCell(2, 3), z=0.0)


# ------------------------------------------------------------------------------ the figure


def test_gate_trajectories():
    rng = np.random.default_rng(0)
    runs = {"a": rng.normal(size=(6, 2)), "b": rng.normal(size=(6, 2))}
    fig = plots_gates.gate_trajectories(runs, h0=np.array([0.5, -0.5]), highlight="b", title="T")
    assert fig._suptitle.get_text() == "T"
    left, right = fig.axes[:2]
    assert len(left.lines) == 2 and left.lines[1].get_linewidth() > left.lines[0].get_linewidth()
    assert np.array_equal(left.lines[0].get_xdata(), np.arange(7))
    assert left.lines[0].get_ydata()[0] == 0.5  # starts at h0
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_gate_trajectories_bad_arguments():
    with pytest.raises(ValueError, match="non-empty"):
        plots_gates.gate_trajectories({})
    with pytest.raises(ValueError, match="H >= 2"):
        plots_gates.gate_trajectories({"a": np.zeros((5, 1))})
    with pytest.raises(ValueError, match="same T"):
        plots_gates.gate_trajectories({"a": np.zeros((5, 2)), "b": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="highlight"):
        plots_gates.gate_trajectories({"a": np.zeros((5, 2))}, highlight="c")
    with pytest.raises(ValueError, match="h0"):
        plots_gates.gate_trajectories({"a": np.zeros((5, 2))}, h0=np.zeros(3))


# ------------------------------------------------------------------------------ the widget


def test_gru_gates_widget_shows_png_and_redraws():
    InteractiveShell.instance()
    with capture_output() as captured:
        w = widgets.gru_gates(z=0.3, r=0.6)
    assert any("image/png" in o.data for o in captured.outputs)
    assert w.draws == 1 and set(w.controls) == {"z", "r"}
    first = w.image.data
    w.controls["z"].value = 0.9
    assert w.draws == 2 and w.image.data != first and not w.errors


def test_gru_gates_example_and_bad_arguments():
    cell, x, h0 = widgets.gru_gate_example(T=10)
    assert isinstance(cell, GRUCell) and x.shape == (10, 1, 1) and h0.shape == (1, 2)
    with pytest.raises(TypeError, match="GRUCell"):
        widgets.gru_gates(cell=RNNCell(1, 2), show=False)
    with pytest.raises(ValueError, match="one sequence"):
        widgets.gru_gates(x=np.zeros((5, 2, 1)), show=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        widgets.gru_gates(z=2.0, show=False)


# ------------------------------------------------------------------------------ the check


def rnn_to_gru(W_ih, W_hh, b_ih, b_hh, z_bias=-30.0, r_bias=30.0):
    H, I = W_ih.shape
    return (
        np.concatenate([np.zeros((2 * H, I)), W_ih]),
        np.concatenate([np.zeros((2 * H, H)), W_hh]),
        np.concatenate([np.full(H, r_bias), np.full(H, z_bias), b_ih]),
        np.concatenate([np.zeros(2 * H), b_hh]),
    )


def test_check_rnn_to_gru_accepts_a_right_answer():
    verdict = exercises.check_rnn_to_gru(rnn_to_gru)
    assert verdict.ok, str(verdict)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda *w: rnn_to_gru(*w, z_bias=30.0), "keeps its state"),
        (lambda *w: rnn_to_gru(*w, r_bias=-30.0), "reset gate is closed"),
        (lambda *w: rnn_to_gru(*w, z_bias=0.0), "about 0.5"),
        (lambda *w: rnn_to_gru(*w, z_bias=-8.0), "not enough"),
    ],
)
def test_check_rnn_to_gru_diagnoses_mistakes(wrong, hint):
    verdict = exercises.check_rnn_to_gru(wrong)
    assert not verdict.ok and verdict.title.endswith("wrong values")
    assert hint in verdict.hint


def test_check_rnn_to_gru_wrong_shapes_and_errors():
    verdict = exercises.check_rnn_to_gru(lambda W_ih, W_hh, b_ih, b_hh: (W_ih, W_hh, b_ih, b_hh))
    assert not verdict.ok and "wrong shape" in verdict.title and "(3H, I)" in verdict.message

    def unanswered(W_ih, W_hh, b_ih, b_hh):
        raise NotImplementedError()

    assert "not answered" in exercises.check_rnn_to_gru(unanswered).title
    assert "raised ZeroDivisionError" in exercises.check_rnn_to_gru(lambda *w: 1 / 0).title


# ------------------------------------------------------------------------------ cpu_times


def test_cpu_times_medians_and_interleaving():
    from rnnbook.timing import median_times as cpu_times

    calls = []

    def slow():
        calls.append("slow")
        sum(range(200_000))

    def fast():
        calls.append("fast")

    times = cpu_times({"slow": slow, "fast": fast}, repeats=3)
    assert calls == ["slow", "fast"] * 4  # one warm-up round, then 3 rounds, interleaved
    assert set(times) == {"slow", "fast"} and times["slow"] > times["fast"] >= 0.0
    with pytest.raises(ValueError, match="repeats"):
        cpu_times({"f": fast}, repeats=0)
    with pytest.raises(TypeError, match="no arguments"):
        cpu_times({"f": 1})
