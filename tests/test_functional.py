"""rnnbook.functional: values, derivatives, stability at |x| = 1e4, masks."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rnnbook.functional import (
    drelu,
    dsigmoid,
    dtanh,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softmax_backward,
    tanh,
)

rng = np.random.default_rng(0)
EXTREME = np.array([-1e4, -800.0, -50.0, -1.0, 0.0, 1.0, 50.0, 800.0, 1e4])


def no_warnings():
    """Warnings become errors, and so do NumPy overflow / invalid / divide-by-zero."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("error")
    err = np.errstate(over="raise", invalid="raise", divide="raise")
    err.__enter__()
    return ctx, err


@pytest.fixture
def strict():
    ctx, err = no_warnings()
    yield
    err.__exit__(None, None, None)
    ctx.__exit__(None, None, None)


def numerical_derivative(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def test_sigmoid_matches_torch():
    x = rng.normal(scale=10, size=100)
    np.testing.assert_allclose(sigmoid(x), torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-14)


def test_sigmoid_extremes_finite_without_warnings(strict):
    y = sigmoid(EXTREME)
    assert np.all(np.isfinite(y))
    assert y[0] == 0.0 and y[-1] == 1.0 and y[4] == 0.5
    # relative precision is kept for very negative inputs: sigma(-50) = e^-50 / (1 + e^-50)
    np.testing.assert_allclose(y[2], np.exp(-50.0), rtol=1e-12)
    assert np.all(np.isfinite(sigmoid(-EXTREME)))


def test_sigmoid_float32_stays_float32(strict):
    y = sigmoid(EXTREME.astype(np.float32))
    assert y.dtype == np.float32 and np.all(np.isfinite(y))


def test_derivatives_from_outputs():
    x = rng.normal(size=50) * 3
    np.testing.assert_allclose(dsigmoid(sigmoid(x)), numerical_derivative(sigmoid, x), atol=1e-8)
    np.testing.assert_allclose(dtanh(tanh(x)), numerical_derivative(tanh, x), atol=1e-8)
    x = x[np.abs(x) > 1e-3]  # away from the kink
    np.testing.assert_allclose(drelu(relu(x)), numerical_derivative(relu, x), atol=1e-8)
    np.testing.assert_array_equal(relu(np.array([-2.0, 0.0, 3.0])), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(drelu(relu(np.array([-2.0, 0.0, 3.0]))), [0.0, 0.0, 1.0])


def test_integers_become_float_and_complex_is_refused():
    assert sigmoid(np.array([0, 1])).dtype == np.float64
    with pytest.raises(TypeError, match="real array"):
        sigmoid(np.array([1j]))


def test_softmax_matches_torch_and_sums_to_one():
    x = rng.normal(size=(3, 4, 5)) * 5
    for axis in (0, 1, -1):
        y = softmax(x, axis=axis)
        np.testing.assert_allclose(
            y, torch.softmax(torch.tensor(x), dim=axis).numpy(), rtol=1e-13, atol=1e-15
        )
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-14)


def test_softmax_and_log_softmax_extremes(strict):
    x = np.stack([EXTREME, EXTREME[::-1], np.full(9, 1e4)])
    y = softmax(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y.sum(-1), 1.0)
    assert y[0, -1] == 1.0 and y[1, 0] == 1.0
    ly = log_softmax(x)
    assert np.all(np.isfinite(ly))
    np.testing.assert_allclose(
        ly, torch.log_softmax(torch.tensor(x), dim=-1).numpy(), rtol=1e-13, atol=1e-13
    )
    assert ly[0, 0] == pytest.approx(-2e4)  # log(softmax) would be -inf here


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
        elements=st.floats(-1e4, 1e4),
    )
)
@settings(max_examples=40, deadline=None)
def test_softmax_property_finite_normalised(x):
    ctx, err = no_warnings()
    try:
        y = softmax(x)
        s = sigmoid(x)
        ly = log_softmax(x)
    finally:
        err.__exit__(None, None, None)
        ctx.__exit__(None, None, None)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(s)) and np.all(np.isfinite(ly))
    assert np.all((y >= 0) & (y <= 1)) and np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(softmax(x + 123.0), y, atol=1e-12)  # shift invariance


def test_softmax_mask_zeroes_masked_entries(strict):
    x = rng.normal(size=(2, 4))
    mask = np.array([[True, False, True, True], [False, False, True, False]])
    y = softmax(x, mask=mask)
    assert np.all(y[~mask] == 0.0)
    np.testing.assert_allclose(y.sum(-1), 1.0)
    np.testing.assert_allclose(y[0, [0, 2, 3]], softmax(x[0, [0, 2, 3]]))
    assert y[1, 2] == 1.0
    # a mask that broadcasts: one per column
    yb = softmax(x, mask=np.array([True, True, False, True]))
    assert np.all(yb[:, 2] == 0.0)


def test_softmax_fully_masked_row_raises():
    mask = np.array([[True, True], [False, False]])
    with pytest.raises(ValueError, match=r"row at index \(1,\)"):
        softmax(np.zeros((2, 2)), mask=mask)
    with pytest.raises(ValueError, match="keep at least one entry"):
        softmax(np.zeros((2, 2)), mask=mask)


def test_softmax_bad_mask():
    with pytest.raises(TypeError, match="boolean"):
        softmax(np.zeros((2, 2)), mask=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"does not broadcast to the input shape \(2, 2\)"):
        softmax(np.zeros((2, 2)), mask=np.ones((3,), dtype=bool))


def test_softmax_backward_matches_torch():
    x = rng.normal(size=(3, 5))
    dy = rng.normal(size=(3, 5))
    for axis in (0, -1):
        tx = torch.tensor(x, requires_grad=True)
        torch.softmax(tx, dim=axis).backward(torch.tensor(dy))
        got = softmax_backward(dy, softmax(x, axis=axis), axis=axis)
        np.testing.assert_allclose(got, tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match=r"shape of y \(3, 5\)"):
        softmax_backward(dy[:2], softmax(x))


def test_softmax_backward_with_mask_matches_finite_differences():
    x = rng.normal(size=(2, 4))
    mask = np.array([[True, False, True, True]])
    dy = rng.normal(size=(2, 4))
    got = softmax_backward(dy, softmax(x, mask=mask))
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = 1e-6
        num[idx] = ((softmax(x + e, mask=mask) - softmax(x - e, mask=mask)) * dy).sum() / 2e-6
    np.testing.assert_allclose(got, num, atol=1e-8)
    assert np.all(got[:, 1] == 0.0)


# ------------------------------------------------------------------------------------------
# bad input: refused with the argument's name, never a NumPy error from inside
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: sigmoid(np.array(["a"])), TypeError, r"x must be a real array .* dtype <U1"),
        (lambda: dtanh([None]), TypeError, r"y must be a real array .* dtype object"),
        (lambda: relu([[1.0], [1.0, 2.0]]), ValueError, r"x is not an array of one shape"),
        (lambda: softmax(np.zeros(0)), ValueError, r"x of shape \(0,\) has no entries along axis"),
        (lambda: softmax(np.zeros((3, 0))), ValueError, r"has no entries along axis -1"),
        (lambda: log_softmax(np.float64(2.0)), ValueError, r"axis -1 does not exist: x has shape"),
        (lambda: softmax(np.zeros((2, 3)), axis=2), ValueError, r"axis 2 does not exist"),
        (lambda: softmax(np.zeros(3), axis=0.0), TypeError, r"axis must be an int, got 0.0"),
        (
            lambda: softmax(np.array([[0.0, 1.0], [np.nan, 1.0]])),
            ValueError,
            r"x has NaN or \+inf, or only -inf, in the row at index \(1,\) along axis -1",
        ),
        (lambda: softmax(np.array([np.inf, 1.0])), ValueError, r"its only row"),
        (lambda: log_softmax(np.array([-np.inf, -np.inf])), ValueError, r"only -inf"),
        (lambda: softmax(np.zeros(2), mask=[[True], [False, True]]), ValueError, "mask is not"),
        (
            lambda: softmax_backward(np.zeros(2), np.array([0.5, np.nan])),
            ValueError,
            r"y contains NaN or inf",
        ),
        (lambda: softmax_backward([1j, 0], np.ones(2)), TypeError, r"dy must be a real array"),
        (lambda: softmax_backward(np.ones(2), np.ones(2), axis=1), ValueError, "axis 1 does not"),
    ],
)
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_minus_infinity_is_a_score_of_weight_zero(strict):
    x = np.array([[-np.inf, 0.0, 1.0]])
    np.testing.assert_allclose(softmax(x), softmax(x[:, 1:]) @ np.array([[0, 1, 0], [0, 0, 1]]))
    assert softmax(x)[0, 0] == 0.0 and log_softmax(x)[0, 0] == -np.inf
    assert softmax(np.zeros((0, 3))).shape == (0, 3)  # no rows: nothing to normalise


def test_float16_rows_beyond_its_range_without_warnings(strict):
    """x - max(x) = -1.2e5 is beyond float16's range: weight 0, log-weight -inf, no warning."""
    x = np.array([-6e4, 6e4], dtype=np.float16)
    y, ly = softmax(x), log_softmax(x)
    assert y.dtype == ly.dtype == np.float16
    np.testing.assert_array_equal(y, [0.0, 1.0])
    np.testing.assert_array_equal(ly, [-np.inf, 0.0])
