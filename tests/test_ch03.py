"""Tests for what chapter 3 (the LSTM) added to the library: its figures, its gate widget and
its parameter-count exercise check."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from rnnbook import exercises, plots_gates, widgets
from rnnbook.cells import LSTMCell, RNNCell, pin_gates

PNG = "iVBORw0KGgo"  # the PNG signature, base64-encoded as in a notebook


@pytest.fixture(scope="module", autouse=True)
def shell():
    """An IPython shell, so that display() publishes outputs that can be captured."""
    return InteractiveShell.instance()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _cache(T=6, B=2, I=3, H=4, seed=0):
    cell = LSTMCell(I, H, seed=seed)
    x = np.random.default_rng(seed).normal(size=(T, B, I))
    return cell.forward(x)[2]


# --------------------------------------------------------------------------- plots


def test_lstm_trace_draws_the_cache_of_the_chosen_unit():
    cache = _cache()
    fig = plots_gates.lstm_trace(cache, seq=1, unit=2, title="trace")
    top, gates, states = fig.axes[:3]
    assert top.get_title() == "trace"
    t = np.arange(1, 7)
    lines = {line.get_label(): line for line in gates.lines + states.lines}
    np.testing.assert_allclose(lines["forget gate $f_t$"].get_ydata(), cache["f"][:, 1, 2])
    np.testing.assert_allclose(lines["cell state $c_t$"].get_ydata(), cache["c"][:, 1, 2])
    np.testing.assert_allclose(lines["hidden state $h_t$"].get_ydata(), cache["h"][:, 1, 2])
    np.testing.assert_allclose(lines["hidden state $h_t$"].get_xdata(), t)
    assert len(top.lines) == 3  # one line per input channel


def test_lstm_trace_rejects_bad_input():
    cache = _cache()
    with pytest.raises(ValueError, match="no \\['c'\\]"):
        plots_gates.lstm_trace({k: v for k, v in cache.items() if k != "c"})
    with pytest.raises(ValueError, match="unit in 0..3"):
        plots_gates.lstm_trace(cache, unit=4)
    with pytest.raises(ValueError, match="3 entries"):
        plots_gates.lstm_trace(cache, input_labels=["a"])


# --------------------------------------------------------------------------- widget


def test_lstm_gate_example_writes_at_pulses_and_decays_by_f():
    cell, x = widgets.lstm_gate_example()
    assert x.shape == (40, 1, 1)
    assert np.flatnonzero(x[:, 0, 0]).tolist() == [2, 14, 27]
    _, _, cache = pin_gates(cell, i=1.0, f=0.9, o=1.0).forward(x)
    c = cache["c"][:, 0, 0]
    np.testing.assert_allclose(cache["g"][:, 0, 0], np.tanh(3 * x[:, 0, 0]))
    np.testing.assert_allclose(c[2:14], math.tanh(3.0) * 0.9 ** np.arange(12))
    np.testing.assert_allclose(cache["h"][:, 0, 0], np.tanh(c))
    with pytest.raises(ValueError, match="T must be"):
        widgets.lstm_gate_example(T=10)


def test_lstm_gates_shows_a_png_and_redraws_for_each_slider():
    with capture_output() as captured:
        fig = widgets.lstm_gates(f=0.5)
        n = len(captured.outputs)
        fig.controls["f"].value = 1.0
        fig.controls["o"].value = 0.5
    assert captured.outputs[0].data["image/png"].startswith(PNG)
    assert set(fig.controls) == {"i", "f", "o"}
    assert fig.values() == {"i": 1.0, "f": 1.0, "o": 0.5}
    assert fig.draws == 3
    assert len([o for o in captured.outputs[n:] if o.update]) == 2
    assert not fig.errors


def test_lstm_gates_title_reports_the_state_for_the_sliders():
    seen = []
    original = plots_gates.lstm_trace

    def spy(cache, **kwargs):
        seen.append(kwargs["title"])
        return original(cache, **kwargs)

    with capture_output(), pytest.MonkeyPatch.context() as mp:
        mp.setattr(plots_gates, "lstm_trace", spy)
        widgets.lstm_gates(i=1.0, f=1.0, o=1.0)
    # f = 1 keeps everything written: tanh(3) - tanh(1.8) + tanh(2.4)
    c_T = math.tanh(3.0) + math.tanh(-1.8) + math.tanh(2.4)
    assert f"$c_T$ = {c_T:.3f}" in seen[0]
    assert f"$h_T$ = {math.tanh(c_T):.3f}" in seen[0]


def test_lstm_gates_rejects_bad_input():
    with pytest.raises(ValueError, match="f must be in"):
        widgets.lstm_gates(f=1.5, show=False)
    with pytest.raises(TypeError, match="LSTMCell"):
        widgets.lstm_gates(cell=RNNCell(1, 1), show=False)
    with pytest.raises(TypeError, match="LSTMCell"):
        widgets.lstm_gates(cell=LSTMCell(1, 1, variant="cifg"), show=False)
    with pytest.raises(ValueError, match="one sequence"):
        widgets.lstm_gates(x=np.zeros((5, 2, 1)), show=False)


# --------------------------------------------------------------------------- exercise check


def right_count(input_size, hidden_size, variant):
    blocks = 3 if variant in ("cifg", "nfg") else 4
    H, I = hidden_size, input_size
    return blocks * (H * I + H * H + 2 * H) + (3 * H if variant == "peephole" else 0)


def test_check_lstm_num_parameters_accepts_the_right_count():
    verdict = exercises.check_lstm_num_parameters(right_count)
    assert verdict.ok, str(verdict)
    assert right_count(10, 32, "vanilla") == 4 * (32 * 10 + 32 * 32 + 2 * 32)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda I, H, v: H * I + H * H + 2 * H, "naive RNN"),
        (lambda I, H, v: right_count(I, H, v) - (3 if v in ("cifg", "nfg") else 4) * H, "two"),
        (lambda I, H, v: right_count(I, H, "vanilla" if v != "peephole" else v), "3 blocks"),
        (lambda I, H, v: right_count(I, H, "vanilla" if v == "peephole" else v), "peephole"),
    ],
)
def test_check_lstm_num_parameters_diagnoses_common_mistakes(wrong, hint):
    verdict = exercises.check_lstm_num_parameters(wrong)
    assert not verdict.ok
    assert verdict.title.endswith("wrong values")
    assert hint in verdict.hint


def test_check_lstm_num_parameters_reports_a_wrong_type_and_the_template():
    verdict = exercises.check_lstm_num_parameters(lambda I, H, v: str(right_count(I, H, v)))
    assert not verdict.ok and "wrong type" in verdict.title

    def template(input_size, hidden_size, variant):
        raise NotImplementedError()

    assert "not answered yet" in exercises.check_lstm_num_parameters(template).title
