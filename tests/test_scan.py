"""rnnbook.scan: every scan equals the loop, counts what its formula says, and fails loudly."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnbook import scan

torch.set_num_threads(1)
SCANS = ["hillis_steele", "blelloch"]


def pairs(T, shape=(2, 3), seed=0, low=0.5):
    rng = np.random.default_rng(seed)
    a = rng.uniform(low, 1.0, (T, *shape))
    b = rng.normal(size=(T, *shape))
    h0 = rng.normal(size=shape)
    return a, b, h0


def loop_by_hand(a, b, h0):
    h, out = h0, []
    for t in range(len(a)):
        h = a[t] * h + b[t]
        out.append(h)
    return np.stack(out)


# ------------------------------------------------------------------------------ the operator


def test_combine_composes_two_affine_maps_in_time_order():
    rng = np.random.default_rng(1)
    (a1, b1), (a2, b2), h = rng.normal(size=(2, 4)), rng.normal(size=(2, 4)), rng.normal(size=4)
    a, b = scan.combine((a1, b1), (a2, b2))
    np.testing.assert_allclose(a * h + b, a2 * (a1 * h + b1) + b2)


def test_combine_is_associative_not_commutative():
    rng = np.random.default_rng(2)
    e = [tuple(rng.normal(size=(2, 3))) for _ in range(3)]
    left = scan.combine(scan.combine(e[0], e[1]), e[2])
    right = scan.combine(e[0], scan.combine(e[1], e[2]))
    np.testing.assert_allclose(left, right)
    swapped = scan.combine(e[1], e[0])
    assert not np.allclose(scan.combine(e[0], e[1])[1], swapped[1])


# ------------------------------------------------------------------------------ the scans


@pytest.mark.parametrize("method", SCANS + ["loop"])
@pytest.mark.parametrize("T", [1, 2, 3, 5, 8, 13, 64, 100])
def test_every_scan_equals_the_loop_written_by_hand(method, T):
    a, b, h0 = pairs(T, seed=T)
    np.testing.assert_allclose(scan.METHODS[method](a, b, h0), loop_by_hand(a, b, h0), atol=1e-12)
    np.testing.assert_allclose(
        scan.METHODS[method](a, b), loop_by_hand(a, b, np.zeros_like(h0)), atol=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 70), seed=st.integers(0, 10_000))
def test_scans_agree_for_any_length_and_signs(T, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-1.2, 1.2, (T, 3)), rng.normal(size=(T, 3))
    ref = loop_by_hand(a, b, np.zeros(3))
    for method in SCANS:
        np.testing.assert_allclose(scan.METHODS[method](a, b), ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("method", SCANS + ["loop"])
@pytest.mark.parametrize("T", [1, 2, 3, 7, 8, 9, 31, 64, 1000])
def test_the_counted_depth_and_work_are_the_formulas(method, T):
    counter = scan.ScanCount()
    a, b, _ = pairs(T, shape=(1,))
    scan.METHODS[method](a, b, counter=counter)
    assert counter == scan.scan_cost(method, T)
    pattern = scan.scan_pattern(method, T)
    assert len(pattern) == counter.depth and sum(map(len, pattern)) == counter.work
    for rnd in pattern:  # within a round no target is written twice, sources lie before it
        targets = [t for _, t in rnd]
        assert len(set(targets)) == len(targets) and all(s < t for s, t in rnd)


def test_the_costs_in_closed_form():
    for T in (2**k for k in range(1, 15)):
        k = int(math.log2(T))
        assert scan.scan_cost("hillis_steele", T) == scan.ScanCount(k, T * k - (T - 1))
        blelloch = scan.scan_cost("blelloch", T)
        assert blelloch.depth == max(2 * k - 1, 1) and blelloch.work == 2 * T - k - 2
        assert scan.scan_cost("loop", T) == scan.ScanCount(T - 1, T - 1)


def test_torch_scans_match_numpy_and_keep_gradients():
    a, b, h0 = pairs(37, seed=3)
    ta = torch.tensor(a, requires_grad=True)
    tb, th = torch.tensor(b), torch.tensor(h0)
    for method in SCANS + ["loop"]:
        out = scan.METHODS[method](ta, tb, th)
        assert isinstance(out, torch.Tensor) and out.requires_grad
        np.testing.assert_allclose(out.detach().numpy(), loop_by_hand(a, b, h0), atol=1e-12)


def test_broadcast_coefficient_for_a_matrix_state():
    rng = np.random.default_rng(4)
    a = rng.uniform(0.5, 1, (6, 2, 1, 1))
    b = rng.normal(size=(6, 2, 3, 4))
    ref = loop_by_hand(np.broadcast_to(a, b.shape), b, np.zeros((2, 3, 4)))
    for method in SCANS:
        np.testing.assert_allclose(scan.METHODS[method](a, b), ref, atol=1e-12)


def test_closed_form_is_exact_short_and_breaks_long():
    a, b, h0 = pairs(20, seed=5)
    np.testing.assert_allclose(scan.closed_form(a, b, h0), loop_by_hand(a, b, h0), atol=1e-10)
    T = 8000  # 0.9 ** 8000 underflows float64
    a, b = np.full((T, 1), 0.9), np.ones((T, 1))
    with np.errstate(all="ignore"):
        broken = scan.closed_form(a, b)
    assert not np.isfinite(broken).all()
    np.testing.assert_allclose(scan.blelloch(a, b)[-1], 10.0)  # the fixed point 1 / (1 - 0.9)


def test_log_space_equals_the_loop_and_survives_long_sequences():
    a, b, h0 = pairs(50, seed=6)
    b, h0 = np.abs(b) + 0.1, np.abs(h0) + 0.1
    np.testing.assert_allclose(
        scan.log_space(np.log(a), np.log(b), np.log(h0)), loop_by_hand(a, b, h0), rtol=1e-10
    )
    np.testing.assert_allclose(scan.log_space(np.log(a), np.log(b)), scan.loop(a, b), rtol=1e-10)
    T = 20_000
    log_a, log_b = np.full((T, 1), math.log(0.9)), np.zeros((T, 1))
    out = scan.log_space(log_a, log_b)
    assert np.isfinite(out).all() and abs(out[-1, 0] - 10.0) < 1e-9
    t = [torch.tensor(v) for v in (np.log(a), np.log(b), np.log(h0))]
    np.testing.assert_allclose(scan.log_space(*t).numpy(), loop_by_hand(a, b, h0), rtol=1e-10)
    np.testing.assert_allclose(scan.log_space(*t[:2]).numpy(), scan.loop(a, b), rtol=1e-10)


def test_linear_recurrence_backward_is_a_reverse_scan():
    rng = np.random.default_rng(7)
    a = torch.tensor(rng.uniform(-1, 1, (9, 2, 3)), requires_grad=True)
    b = torch.tensor(rng.normal(size=(9, 2, 3)), requires_grad=True)
    h0 = torch.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    assert torch.autograd.gradcheck(scan.linear_recurrence, (a, b, h0))
    assert torch.autograd.gradcheck(scan.linear_recurrence, (a, b))
    np.testing.assert_allclose(
        scan.linear_recurrence(a.detach().numpy(), b.detach().numpy()),
        scan.loop(a.detach().numpy(), b.detach().numpy()),
    )


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="same T"):
        scan.blelloch(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="does not broadcast"):
        scan.loop(np.ones((3, 5)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="h0 must have the shape"):
        scan.hillis_steele(np.ones((3, 2)), np.ones((3, 2)), h0=np.ones(3))
    with pytest.raises(TypeError, match="floating-point"):
        scan.loop(np.ones((3, 2), dtype=int), np.ones((3, 2)))
    with pytest.raises(TypeError, match="both"):
        scan.loop(torch.ones(3, 2), np.ones((3, 2)))
    with pytest.raises(ValueError, match="method"):
        scan.scan_cost("tree", 8)
    with pytest.raises(ValueError, match="positive int"):
        scan.scan_cost("loop", 0)
    with pytest.raises(ValueError, match="log_a and log_b"):
        scan.log_space(np.zeros((3, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="same shape"):
        scan.linear_recurrence(torch.ones(3, 1), torch.ones(3, 2))


# ------------------------------------------------------------------------------ linear attention


@pytest.mark.parametrize("to", [np.asarray, torch.tensor])
def test_causal_linear_attention_three_ways(to):
    rng = np.random.default_rng(8)
    q, k, v = rng.normal(size=(7, 2, 3)), rng.normal(size=(7, 2, 3)), rng.normal(size=(7, 2, 5))
    ys = [
        np.asarray(scan.causal_linear_attention(to(q), to(k), to(v), m))
        for m in ("parallel", "recurrent", "scan")
    ]
    np.testing.assert_allclose(ys[0], ys[1], atol=1e-12)
    np.testing.assert_allclose(ys[0], ys[2], atol=1e-12)
    # by hand at one step: weights phi(q_t).phi(k_s) over s <= t, normalised
    fq, fk = scan.elu_feature_map(q), scan.elu_feature_map(k)
    t, bb = 4, 1
    w = fk[: t + 1, bb] @ fq[t, bb]
    np.testing.assert_allclose(ys[0][t, bb], (w @ v[: t + 1, bb]) / (w.sum() + 1e-6))


def test_causal_linear_attention_is_causal_and_checks_shapes():
    rng = np.random.default_rng(9)
    q, k, v = rng.normal(size=(6, 1, 2)), rng.normal(size=(6, 1, 2)), rng.normal(size=(6, 1, 2))
    y = scan.causal_linear_attention(q, k, v)
    v2 = v.copy()
    v2[4:] += 10.0  # change the future only
    np.testing.assert_allclose(scan.causal_linear_attention(q, k, v2)[:4], y[:4])
    assert np.all(scan.elu_feature_map(np.array([-30.0, 0.0, 2.0])) > 0)
    with pytest.raises(ValueError, match="expected q, k"):
        scan.causal_linear_attention(q, k[:3], v)
    with pytest.raises(ValueError, match="method"):
        scan.causal_linear_attention(q, k, v, method="softmax")
