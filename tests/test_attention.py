"""rnnbook.attention against PyTorch (forward and autograd) and finite differences."""

import doctest
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnbook import attention
from rnnbook.attention import attend, attend_backward, init_params, score, score_backward
from rnnbook.gradcheck import check
from rnnbook.reference import score as torch_score  # the papers' formulas, in PyTorch

METHODS = ["dot", "general", "concat", "scaled_dot"]


def make(method, B=3, T=5, d_q=4, d_k=4, d_v=2, d_attn=3, seed=0):
    rng = np.random.default_rng(seed)
    if method in ("dot", "scaled_dot"):
        d_k = d_q
    q = rng.normal(size=(B, d_q))
    k = rng.normal(size=(B, T, d_k))
    v = rng.normal(size=(B, T, d_v))
    p = init_params(method, d_q, d_k, d_attn=d_attn, seed=seed)
    return q, k, v, p


def as_torch(*arrays):
    return [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("method", METHODS)
def test_score_matches_torch(method):
    q, k, _, p = make(method, d_q=4, d_k=6)
    tq, tk = as_torch(q, k)
    tp = {n: torch.tensor(a) for n, a in p.items()}
    expected = torch_score(tq, tk, method, tp).detach().numpy()
    np.testing.assert_allclose(score(q, k, method, p), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_attend_and_backward_match_torch_autograd(method):
    q, k, v, p = make(method, d_q=4, d_k=6)
    mask = np.ones((3, 5), dtype=bool)
    mask[0, 3:] = False  # padding in the first row
    mask[2, 0] = False
    rng = np.random.default_rng(1)
    dc, dw = rng.normal(size=(3, 2)), rng.normal(size=(3, 5))

    tq, tk, tv = as_torch(q, k, v)
    tp = dict(zip(p, as_torch(*p.values()), strict=True))
    s = torch_score(tq, tk, method, tp).masked_fill(~torch.tensor(mask), -torch.inf)
    tw = torch.softmax(s, dim=-1)
    tc = torch.einsum("bt,btv->bv", tw, tv)
    ((tc * torch.tensor(dc)).sum() + (tw * torch.tensor(dw)).sum()).backward()

    context, weights = attend(q, k, v, method, p, mask=mask)
    np.testing.assert_allclose(context, tc.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(weights, tw.detach().numpy(), rtol=0, atol=1e-12)
    assert (weights[~mask] == 0).all()

    grads = attend_backward(dc, q, k, v, method, p, mask=mask, d_weights=dw)
    expected = {"query": tq.grad, "keys": tk.grad, "values": tv.grad}
    expected |= {n: t.grad for n, t in tp.items()}
    assert set(grads) == set(expected)
    for name, g in expected.items():
        np.testing.assert_allclose(grads[name], g.numpy(), rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("method", METHODS)
def test_score_backward_matches_torch_autograd(method):
    q, k, _, p = make(method, B=2, T=4, d_q=3, d_k=5, d_attn=4, seed=3)
    ds = np.random.default_rng(4).normal(size=(2, 4))
    tq, tk = as_torch(q, k)
    tp = dict(zip(p, as_torch(*p.values()), strict=True))
    (torch_score(tq, tk, method, tp) * torch.tensor(ds)).sum().backward()
    grads = score_backward(ds, q, k, method, p)
    expected = {"query": tq.grad, "keys": tk.grad} | {n: t.grad for n, t in tp.items()}
    assert set(grads) == set(expected)
    for name, g in expected.items():
        np.testing.assert_allclose(grads[name], g.numpy(), rtol=0, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("method", METHODS)
def test_attend_backward_matches_finite_differences(method):
    q, k, v, p = make(method, B=2, T=3, d_q=3, d_k=2, d_v=2, d_attn=2, seed=5)
    mask = np.array([[True, True, False], [True, True, True]])
    dc = np.random.default_rng(6).normal(size=(2, 2))

    def loss(query, keys, values, **params):
        return (attend(query, keys, values, method, params, mask=mask)[0] * dc).sum()

    inputs = {"query": q, "keys": k, "values": v, **p}
    report = check(loss, inputs, attend_backward(dc, q, k, v, method, p, mask=mask))
    report.assert_ok()


@settings(max_examples=25, deadline=None)
@given(
    method=st.sampled_from(METHODS),
    B=st.integers(1, 3),
    T=st.integers(1, 6),
    d_q=st.integers(1, 5),
    d_k=st.integers(1, 5),
    scale=st.sampled_from([1e-3, 1.0, 1e2, 1e4]),
)
def test_attend_shapes_and_weights_for_any_size(method, B, T, d_q, d_k, scale):
    q, k, v, p = make(method, B, T, d_q, d_k, d_v=3, d_attn=2)
    context, weights = attend(scale * q, scale * k, v, method, p)
    assert context.shape == (B, 3) and weights.shape == (B, T)
    assert np.isfinite(context).all() and np.isfinite(weights).all()
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_one_example_without_batch_axis(method):
    q, k, v, p = make(method, B=1, d_q=4, d_k=3)
    mask = np.array([True, False, True, True, True])
    s = score(q[0], k[0], method, p)
    assert s.shape == (5,)
    np.testing.assert_array_equal(s, score(q, k, method, p)[0])
    c, w = attend(q[0], k[0], v[0], method, p, mask=mask)
    c1, w1 = attend(q, k, v, method, p, mask=mask[None])
    np.testing.assert_array_equal(c, c1[0])
    np.testing.assert_array_equal(w, w1[0])
    g = attend_backward(np.ones(2), q[0], k[0], v[0], method, p, mask=mask)
    g1 = attend_backward(np.ones((1, 2)), q, k, v, method, p, mask=mask[None])
    for name in g:
        squeeze = name in ("query", "keys", "values")
        np.testing.assert_array_equal(g[name], g1[name][0] if squeeze else g1[name])
    ds = score_backward(np.ones(5), q[0], k[0], method, p)
    assert ds["query"].shape == (q.shape[1],) and ds["keys"].shape == k.shape[1:]


def test_hand_computed_scores():
    q = np.array([1.0, 2.0])
    K = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(score(q, K, "dot"), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(score(q, K, "scaled_dot"), np.array([1.0, 2.0, 3.0]) / np.sqrt(2))
    W = np.array([[0.0, 1.0], [1.0, 0.0]])  # swaps the key's components
    np.testing.assert_allclose(score(q, K, "general", {"W": W}), [2.0, 1.0, 3.0])
    p = {"W_a": np.eye(2), "W_b": np.eye(2), "v": np.array([1.0, -1.0])}
    expected = [np.tanh(2) - np.tanh(2), np.tanh(1) - np.tanh(3), np.tanh(2) - np.tanh(3)]
    np.testing.assert_allclose(score(q, K, "concat", p), expected)
    np.testing.assert_allclose(score(q, K, "additive", p), expected)


def test_relations_between_methods():
    q, k, _, _ = make("dot", d_q=6)
    dot = score(q, k, "dot")
    np.testing.assert_allclose(score(q, k, "general", {"W": np.eye(6)}), dot, atol=1e-14)
    np.testing.assert_allclose(score(q, k, "scaled_dot") * np.sqrt(6), dot, atol=1e-14)


def test_mask_zeroes_padding_and_fully_masked_row_raises():
    q, k, v, p = make("general")
    mask = np.ones((3, 5), dtype=bool)
    mask[1, 2:] = False
    _, w = attend(q, k, v, "general", p, mask=mask)
    assert (w[1, 2:] == 0).all() and np.isclose(w[1, :2].sum(), 1.0)
    mask[2] = False
    with pytest.raises(ValueError, match=r"every position of batch rows \[2\]"):
        attend(q, k, v, "general", p, mask=mask)
    with pytest.raises(ValueError, match="every position"):
        attend(q[0], k[0], v[0], "general", p, mask=np.zeros(5, dtype=bool))
    with pytest.raises(TypeError, match="boolean"):
        attend(q, k, v, "general", p, mask=np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"mask must have shape \(B=3, T=5\), got \(3, 4\)"):
        attend(q, k, v, "general", p, mask=np.ones((3, 4), dtype=bool))


def test_large_scores_give_finite_weights_without_warnings():
    q = np.array([[1e4, -1e4]])
    k = np.array([[[1e4, 0.0], [0.0, 1e4], [1.0, 1.0]]])
    _, w = attend(q, k, k, "dot")
    np.testing.assert_allclose(w, [[1.0, 0.0, 0.0]])


def test_errors_name_what_was_expected():
    q, k, v, p = make("concat", d_q=4, d_k=6, d_attn=3)
    with pytest.raises(ValueError, match="'dot', 'general', 'concat', 'scaled_dot'"):
        score(q, k, "cosine")
    with pytest.raises(TypeError, match="method must be a string"):
        score(q, k, None)
    with pytest.raises(ValueError, match="same size.*d_q=4 and d_k=6"):
        score(q, k, "dot")
    with pytest.raises(ValueError, match="same size"):
        score(q, k, "scaled_dot")
    with pytest.raises(ValueError, match=r"needs params with keys \['W_a', 'W_b', 'v'\]"):
        score(q, k, "concat")
    with pytest.raises(ValueError, match=r"missing \['v'\]"):
        score(q, k, "concat", {"W_a": p["W_a"], "W_b": p["W_b"]})
    with pytest.raises(ValueError, match=r"needs params with keys \['W'\]"):
        score(q, k, "general", {})
    with pytest.raises(ValueError, match=r"params\['W'\] must have shape \(d_q=4, d_k=6\)"):
        score(q, k, "general", {"W": np.ones((6, 4))})
    with pytest.raises(ValueError, match=r"W_b'\] must have shape \(d_attn=3, d_k=6\)"):
        score(q, k, "concat", {**p, "W_b": np.ones((3, 4))})
    with pytest.raises(ValueError, match=r"keys must have shape \(B=3, T, d_k\), got \(2, 5, 6\)"):
        score(q, k[:2], "concat", p)
    with pytest.raises(ValueError, match=r"query must have shape \(B, d_q\)"):
        score(q[None], k, "concat", p)
    with pytest.raises(ValueError, match=r"keys must have shape \(T, d_k\)"):
        score(q[0], k, "concat", p)
    with pytest.raises(ValueError, match=r"values must have shape \(B=3, T=5, d_v\)"):
        attend(q, k, v[:, :4], "concat", p)
    with pytest.raises(TypeError, match="real floating-point"):
        score(q.astype(complex), k, "concat", p)
    with pytest.raises(ValueError, match="NaN or inf"):
        score(np.full_like(q, np.nan), k, "concat", p)
    with pytest.raises(ValueError, match=r"d_scores must have shape \(B=3, T=5\)"):
        score_backward(np.ones((3, 4)), q, k, "concat", p)
    with pytest.raises(ValueError, match=r"d_context must have shape \(B=3, d_v=2\)"):
        attend_backward(np.ones((3, 3)), q, k, v, "concat", p)


@pytest.mark.parametrize("dtype", [int, bool])
@pytest.mark.parametrize("name", ["query", "keys", "values", "params['W']"])
def test_integer_and_boolean_inputs_are_refused_as_the_cells_refuse_them(dtype, name):
    q, k, v, p = make("general")
    args = {"query": q, "keys": k, "values": v, "params['W']": p["W"]}
    args[name] = args[name].astype(dtype)
    with pytest.raises(TypeError, match=rf"{re.escape(name)} must be a real floating-point array"):
        attend(args["query"], args["keys"], args["values"], "general", {"W": args["params['W']"]})


def test_float16_is_computed_in_float32_without_nan():
    """Inputs near 300 give scores beyond float16's range (65504): in float16 the weights
    were NaN, with only NumPy's warning; now the scores are computed in float32."""
    q = np.array([[300.0, 300.0]], np.float16)
    k = np.array([[[300.0, 300.0], [-300.0, 10.0], [1.0, 1.0]]], np.float16)
    context, weights = attend(q, k, k, "dot")
    assert context.dtype == weights.dtype == np.float32
    np.testing.assert_array_equal(weights, [[1.0, 0.0, 0.0]])
    assert score(q, k, "dot").dtype == np.float32
    assert score(q, k.astype(np.float64), "dot").dtype == np.float64  # float64 if any is
    grads = attend_backward(np.ones((1, 2)), q, k, k, "dot")
    assert all(g.dtype == np.float32 and np.isfinite(g).all() for g in grads.values())


def test_scores_that_overflow_float32_are_refused():
    q = np.full((1, 2), 1e30, np.float32)
    k = np.full((1, 3, 2), 1e30, np.float32)
    with pytest.raises(ValueError, match="the scores overflow float32.*or pass float64 arrays"):
        attend(q, k, k, "dot")
    assert np.isfinite(score(q.astype(np.float64), k, "dot")).all()


@pytest.mark.parametrize(
    ("q", "k", "match"),
    [
        (
            np.zeros((2, 3)),
            np.zeros((2, 0, 3)),
            r"keys must have shape \(B=2, T, d_k\), got \(2, 0, 3\)",
        ),
        (np.zeros(3), np.zeros((0, 3)), r"keys must have shape \(T, d_k\), got \(0, 3\)"),
        (np.zeros((0, 3)), np.zeros((0, 4, 3)), r"query must have shape \(B, d_q\), got \(0, 3\)"),
        (np.zeros((2, 0)), np.zeros((2, 4, 0)), r"query must have shape \(B, d_q\), got \(2, 0\)"),
    ],
    ids=["T=0", "T=0 one example", "B=0", "d=0"],
)
def test_empty_sequences_and_batches_are_refused(q, k, match):
    for call in (lambda: score(q, k, "dot"), lambda: attend(q, k, k, "dot")):
        with pytest.raises(ValueError, match=match):
            call()


def test_concat_names_the_parameter_that_disagrees():
    """d_attn is the size most of W_a, W_b and v have: a v of the wrong length is named."""
    q, k, _, p = make("concat", d_q=4, d_k=6, d_attn=3)
    with pytest.raises(
        ValueError, match=r"params\['v'\] must have shape \(d_attn=3,\), got \(4,\)"
    ):
        score(q, k, "concat", {**p, "v": np.ones(4)})
    with pytest.raises(ValueError, match=r"params\['W_a'\] must have shape \(d_attn=3, d_q=4\)"):
        score(q, k, "concat", {**p, "W_a": np.ones((5, 4))})
    with pytest.raises(TypeError, match=r"params must be a dict of arrays"):
        score(q, k, "concat", list(p.values()))
    with pytest.raises(ValueError, match=r"params\['W_b'\] contains NaN or inf"):
        score(q, k, "concat", {**p, "W_b": np.full((3, 6), np.nan)})


def test_init_params():
    assert init_params("dot", 3, 3) == {} and init_params("scaled_dot", 3, 3) == {}
    assert init_params("general", 3, 5, seed=0)["W"].shape == (3, 5)
    p = init_params("concat", 3, 5, d_attn=7, seed=0)
    assert {n: a.shape for n, a in p.items()} == {"W_a": (7, 3), "W_b": (7, 5), "v": (7,)}
    assert init_params("additive", 3, 5)["v"].shape == (5,)  # d_attn defaults to d_key
    np.testing.assert_array_equal(p["W_a"], init_params("concat", 3, 5, 7, seed=0)["W_a"])
    assert not np.array_equal(p["W_a"], init_params("concat", 3, 5, 7, seed=1)["W_a"])
    assert np.abs(p["W_b"]).max() <= 1 / np.sqrt(5)
    with pytest.raises(ValueError, match="d_query == d_key"):
        init_params("dot", 3, 4)
    with pytest.raises(ValueError, match="d_attn must be a positive int, got 0"):
        init_params("concat", 3, 4, d_attn=0)
    with pytest.raises(TypeError, match="d_key must be a positive int, got 2.0"):
        init_params("concat", 3, 2.0)
    with pytest.raises(ValueError, match="unknown attention method"):
        init_params("luong", 3, 3)


def test_docstring_examples():
    assert doctest.testmod(attention).failed == 0
