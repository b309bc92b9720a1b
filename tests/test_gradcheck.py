"""rnnbook.gradcheck: passes right gradients, flags wrong ones, and says where."""

import doctest

import numpy as np
import pytest
import torch

from rnnbook import gradcheck
from rnnbook.gradcheck import GradCheckReport, check, numerical_gradient


def mlp_loss(W, x):
    return np.tanh(W @ x).sum()


def mlp_grads(W, x):
    d = 1 - np.tanh(W @ x) ** 2
    return {"W": np.outer(d, x), "x": W.T @ d}


@pytest.fixture
def inputs():
    rng = np.random.default_rng(0)
    return {"W": rng.normal(size=(3, 4)), "x": rng.normal(size=4)}


def test_numerical_gradient_matches_torch(inputs):
    tW = torch.tensor(inputs["W"], requires_grad=True)
    torch.tanh(tW @ torch.tensor(inputs["x"])).sum().backward()
    g = numerical_gradient(mlp_loss, inputs)
    np.testing.assert_allclose(g["W"], tW.grad.numpy(), rtol=0, atol=1e-9)
    assert g["x"].shape == (4,)


def test_right_gradient_passes_in_each_form(inputs):
    assert check(mlp_loss, inputs, analytic=mlp_grads(**inputs)).ok
    assert check(mlp_loss, inputs, analytic=mlp_grads).ok  # a function of the inputs
    assert check(lambda W, x: (mlp_loss(W, x), mlp_grads(W, x)), inputs).ok  # f returns both
    # a torch scalar is accepted as the loss
    assert check(lambda W, x: torch.tensor(mlp_loss(W, x)), inputs, mlp_grads).ok


def test_wrong_gradient_is_flagged_with_its_worst_entry(inputs):
    g = mlp_grads(**inputs)
    g["W"][1, 2] += 1e-3
    report = check(mlp_loss, inputs, analytic=g)
    assert not report.ok
    assert report.inputs["x"].ok and not report.inputs["W"].ok
    w = report.inputs["W"]
    assert w.worst_index == (1, 2)
    assert w.max_abs_error == pytest.approx(1e-3, rel=1e-4)
    assert w.analytic - w.numeric == pytest.approx(1e-3, rel=1e-4)
    text = str(report)
    assert text.startswith("gradient check FAILED")
    assert "(1, 2)" in text and "NO" in text
    assert "| W | (3, 4) |" in report._repr_markdown_()
    with pytest.raises(AssertionError, match="gradient check FAILED"):
        report.assert_ok()


def test_nan_in_the_analytic_gradient_fails(inputs):
    g = mlp_grads(**inputs)
    g["x"][0] = np.nan
    report = check(mlp_loss, inputs, analytic=g)
    assert not report.ok and report.inputs["x"].worst_index == (0,)


def test_tiny_errors_pass_and_tolerances_are_honoured(inputs):
    g = mlp_grads(**inputs)
    g["W"] = g["W"] + 1e-9
    assert check(mlp_loss, inputs, g).ok
    assert not check(mlp_loss, inputs, g, rtol=0, atol=1e-12).ok


def test_wrt_and_max_entries(inputs):
    g = mlp_grads(**inputs)
    g["x"] = g["x"] * 0  # wrong, but not checked
    report = check(mlp_loss, inputs, {"W": g["W"]}, wrt=["W"])
    assert report.ok and list(report.inputs) == ["W"]
    report = check(mlp_loss, inputs, g, wrt=["W"], max_entries=5)
    assert report.ok and report.inputs["W"].checked == 5
    assert np.isnan(report.numeric["W"]).sum() == 7


def test_inputs_are_not_modified_and_float32_is_checked_in_float64(inputs):
    W32 = inputs["W"].astype(np.float32)
    before = W32.copy()
    report = check(mlp_loss, {"W": W32, "x": inputs["x"]}, mlp_grads)
    np.testing.assert_array_equal(W32, before)
    assert isinstance(report, GradCheckReport)


def test_bad_use_gets_clear_errors(inputs):
    with pytest.raises(TypeError, match="scalar loss.*shape \\(3,\\)"):
        check(lambda W, x: np.tanh(W @ x), inputs, mlp_grads)
    with pytest.raises(ValueError, match=r"no entry for \['x'\]"):
        check(mlp_loss, inputs, {"W": np.zeros((3, 4))})
    with pytest.raises(ValueError, match=r"input's shape \(3, 4\), got \(4, 3\)"):
        check(mlp_loss, inputs, {"W": np.zeros((4, 3)), "x": np.zeros(4)})
    with pytest.raises(TypeError, match=r"\(value, grads\)"):
        check(mlp_loss, inputs)
    with pytest.raises(TypeError, match="real numeric"):
        check(mlp_loss, {"W": inputs["W"] + 0j, "x": inputs["x"]}, mlp_grads)
    with pytest.raises(ValueError, match="not among the inputs"):
        check(mlp_loss, inputs, mlp_grads, wrt=["b"])
    with pytest.raises(ValueError, match="NaN or inf"):
        check(lambda W, x: np.inf if W[0, 0] > inputs["W"][0, 0] else 0.0, inputs, mlp_grads)


def test_docstring_examples():
    assert doctest.testmod(gradcheck).failed == 0
