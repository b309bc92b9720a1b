"""Tests for chapter 7's library code: the attention figures and the attention widget."""

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from rnnbook import attention, plots_attention, widgets

PNG = "iVBORw0KGgo"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


KEYS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5]])


# ------------------------------------------------------------------------- figures


def test_attention_2d_draws_keys_query_and_weight_bars():
    q = np.array([1.0, 1.0])
    _, w = attention.attend(q, KEYS, KEYS, "dot")
    fig = plots_attention.attention_2d(q, KEYS, w, key_labels=["a", "b", "c"], title="T")
    left, right = fig.axes
    assert fig._suptitle.get_text() == "T"
    heights = [p.get_height() for p in right.patches]
    np.testing.assert_allclose(heights, w)
    assert [t.get_text() for t in right.get_xticklabels()] == ["a", "b", "c"]
    texts = [t.get_text() for t in left.texts]
    assert f"a: {w[0]:.2f}" in texts and "query" in texts
    offsets = left.collections[0].get_offsets()
    np.testing.assert_allclose(offsets, KEYS)
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_attention_2d_rejects_bad_shapes():
    w = np.full(3, 1 / 3)
    with pytest.raises(ValueError, match="query \\(2,\\)"):
        plots_attention.attention_2d(np.zeros(3), KEYS, w)
    with pytest.raises(ValueError, match="weights \\(T,\\)"):
        plots_attention.attention_2d(np.zeros(2), KEYS, w[:2])
    with pytest.raises(ValueError, match="key_labels must have 3"):
        plots_attention.attention_2d(np.zeros(2), KEYS, w, key_labels=["a"])


def test_softmax_saturation_draws_both_panels():
    d = np.array([2, 4, 8, 16])
    mw = {"dot": np.array([0.3, 0.5, 0.7, 0.9]), "scaled": np.full(4, 0.25)}
    gn = {"dot": np.array([0.3, 0.2, 0.1, 0.05]), "scaled": np.full(4, 0.3)}
    fig = plots_attention.softmax_saturation(d, mw, gn, T=16, title="S")
    left, right = fig.axes
    assert fig._suptitle.get_text() == "S"
    np.testing.assert_allclose(left.lines[0].get_ydata(), mw["dot"])
    np.testing.assert_allclose(right.lines[0].get_ydata(), gn["dot"])
    np.testing.assert_allclose(left.lines[-1].get_ydata(), [1 / 16, 1 / 16])  # uniform line
    assert left.get_xscale() == "log" and right.get_yscale() == "log"
    assert [t.get_text() for t in left.get_legend().get_texts()] == [
        "dot",
        "scaled",
        "uniform 1/16",
    ]


def test_softmax_saturation_rejects_mismatched_curves():
    d = np.array([2, 4])
    with pytest.raises(ValueError, match="non-empty"):
        plots_attention.softmax_saturation(d, {}, {})
    with pytest.raises(ValueError, match="same labels"):
        plots_attention.softmax_saturation(d, {"a": d}, {"b": d})
    with pytest.raises(ValueError, match="shape of d"):
        plots_attention.softmax_saturation(d, {"a": np.ones(3)}, {"a": np.ones(3)})


# ------------------------------------------------------------------------- widget


def test_attention_explorer_shows_a_static_png_and_redraws():
    InteractiveShell.instance()
    with capture_output() as captured:
        fig = widgets.attention_explorer(show=True)
    assert captured.outputs[0].data["image/png"].startswith(PNG)
    assert isinstance(fig.controls["method"], ipywidgets.Dropdown)
    assert list(fig.controls["method"].options) == list(attention.METHODS)
    assert fig.draws == 1
    for method in attention.METHODS:
        fig.controls["method"].value = method
    fig.controls["angle"].value = 200.0
    assert fig.draws == 1 + len(attention.METHODS) - 1 + 1 and fig.errors == []


def test_attention_explorer_draws_the_weights_of_attend(monkeypatch):
    drawn = {}

    def spy(query, keys, weights, key_labels=None, title=""):
        drawn.update(query=query, keys=keys, weights=weights, title=title)
        return plt.figure()

    monkeypatch.setattr(plots_attention, "attention_2d", spy)
    fig = widgets.attention_explorer(method="general", angle=90.0, length=2.0, show=False)
    np.testing.assert_allclose(drawn["query"], [0.0, 2.0], atol=1e-12)
    params = attention.init_params("general", 2, 2, d_attn=4, seed=0)
    _, expected = attention.attend(
        drawn["query"], widgets.ATTENTION_KEYS, widgets.ATTENTION_KEYS, "general", params
    )
    np.testing.assert_allclose(drawn["weights"], expected)
    assert drawn["title"].startswith("general:")
    fig.controls["length"].value = 0.0  # a zero query: uniform weights for general
    np.testing.assert_allclose(drawn["weights"], np.full(5, 0.2))


def test_attention_explorer_checks_its_arguments():
    with pytest.raises(ValueError, match="method must be one of"):
        widgets.attention_explorer(method="cosine", show=False)
    with pytest.raises(ValueError, match="angle"):
        widgets.attention_explorer(angle=400.0, show=False)
    with pytest.raises(ValueError, match="length"):
        widgets.attention_explorer(length=-1.0, show=False)
    with pytest.raises(ValueError, match="keys must have shape"):
        widgets.attention_explorer(keys=np.zeros((3, 3)), show=False)
