"""Tests for rnnbook.tasks: shapes, exact layouts, seeding, baselines, argument checks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnbook import tasks


def test_memory_example():
    x = tasks.memory_example()
    assert x.shape == (3, 1, 2)
    np.testing.assert_array_equal(x[:, 0], [[1, 1], [1, 1], [2, 2]])


def test_memory_example_elman_outputs():
    # all weights 1, no bias, linear: h_t = W_hh h_{t-1} + W_xh x_t, y_t = W_hy h_t
    W = np.ones((2, 2))
    h = np.zeros(2)
    hs, ys = [], []
    for x_t in tasks.memory_example()[:, 0]:
        h = W @ h + W @ x_t
        hs.append(h)
        ys.append(W @ h)
    np.testing.assert_array_equal(hs, [[2, 2], [6, 6], [16, 16]])
    np.testing.assert_array_equal(ys, [[4, 4], [12, 12], [32, 32]])


@pytest.mark.parametrize("T", [1, 2, 1000])
def test_w_chain(T):
    x = tasks.w_chain(T)
    assert x.shape == (T, 1, 1)
    assert x[0, 0, 0] == 1.0 and x.sum() == 1.0
    h = 0.0
    for x_t in x[:, 0, 0]:
        h = 1.01 * h + x_t
    assert h == pytest.approx(1.01 ** (T - 1))


def test_w_chain_value_in_chapter():
    h = 0.0
    for x_t in tasks.w_chain(1000)[:, 0, 0]:
        h = 1.01 * h + x_t
    assert h == pytest.approx(20751.6, abs=0.1)


def test_adding_problem_layout():
    x, y = tasks.adding_problem(64, 20, seed=0)
    assert x.shape == (20, 64, 2) and y.shape == (64,)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert np.all((x[..., 0] >= 0) & (x[..., 0] < 1))
    marker = x[..., 1]
    assert set(np.unique(marker)) == {0.0, 1.0}
    np.testing.assert_array_equal(marker[:10].sum(0), 1)  # one mark in the first half
    np.testing.assert_array_equal(marker[10:].sum(0), 1)  # one in the second half
    np.testing.assert_allclose(y, (x[..., 0] * marker).sum(0), rtol=1e-6)


def test_adding_problem_odd_length_and_dtype():
    x, y = tasks.adding_problem(5, 3, seed=1, dtype=np.float64)
    assert x.dtype == np.float64 and y.dtype == np.float64
    np.testing.assert_array_equal(x[:1, :, 1].sum(0), 1)
    np.testing.assert_array_equal(x[1:, :, 1].sum(0), 1)


def test_adding_baseline_matches_sample():
    assert tasks.adding_baseline_mse() == pytest.approx(1 / 6)
    _, y = tasks.adding_problem(200_000, 10, seed=0, dtype=np.float64)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(tasks.adding_baseline_mse(), abs=0.002)


def test_seeding():
    a = tasks.adding_problem(4, 10, seed=3)
    b = tasks.adding_problem(4, 10, seed=3)
    c = tasks.adding_problem(4, 10, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    rng = np.random.default_rng(0)  # a generator gives a fresh batch each call
    assert not np.array_equal(tasks.copy_task(2, 5, rng)[1], tasks.copy_task(2, 5, rng)[1])


def test_copy_task_exact_layout():
    T = 5
    x, y = tasks.copy_task(3, T, seed=0)
    tokens, y2 = tasks.copy_task(3, T, seed=0, one_hot=False)
    assert x.shape == (T + 20, 3, 10) and y.shape == (T + 20, 3) and tokens.shape == (T + 20, 3)
    assert y.dtype == np.int64 and tokens.dtype == np.int64
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(x.argmax(-1), tokens)
    np.testing.assert_array_equal(x.sum(-1), 1)
    for b in range(3):
        seq, tgt = tokens[:, b], y[:, b]
        symbols = seq[:10]
        assert np.all((symbols >= 1) & (symbols <= 8))
        np.testing.assert_array_equal(seq[10 : 10 + T - 1], 0)  # T - 1 blanks
        assert seq[T + 9] == 9  # delimiter at step T + 10 (1-based)
        np.testing.assert_array_equal(seq[T + 10 :], 0)
        np.testing.assert_array_equal(tgt[: T + 10], 0)
        np.testing.assert_array_equal(tgt[T + 10 :], symbols)


def test_copy_task_uses_all_symbols():
    tokens, _ = tasks.copy_task(500, 1, seed=0, one_hot=False)
    assert set(np.unique(tokens[:10])) == set(range(1, 9))


def test_copy_baseline():
    assert tasks.copy_baseline_ce(100) == pytest.approx(10 * math.log(8) / 120)
    # the memoryless predictor's cross-entropy, computed from its probabilities on a sample
    T = 30
    _, y = tasks.copy_task(50, T, seed=0)
    probs = np.zeros((T + 20, 10))
    probs[: T + 10, 0] = 1.0
    probs[T + 10 :, 1:9] = 1 / 8
    ce = -np.mean(np.log(probs[np.arange(T + 20)[:, None], y]))
    assert ce == pytest.approx(tasks.copy_baseline_ce(T))


def test_running_parity():
    x, y = tasks.running_parity(16, 8, seed=0)
    assert x.shape == (8, 16, 1) and y.shape == (8, 16) and y.dtype == np.int64
    bits = x[..., 0].astype(int)
    parity = np.zeros(16, dtype=int)
    for t in range(8):
        parity ^= bits[t]
        np.testing.assert_array_equal(y[t], parity)


def test_noisy_sine():
    x, y = tasks.noisy_sine(8, 30, seed=0, noise=0.1)
    assert x.shape == (30, 8, 1) and y.shape == (30, 8, 1)
    np.testing.assert_array_equal(x[1:], y[:-1])  # y is x shifted by one step
    clean_x, clean_y = tasks.noisy_sine(8, 30, seed=0, noise=0.0)
    assert np.abs(clean_x).max() <= 1.0
    assert 0.05 < np.std(x - clean_x) < 0.15


@pytest.mark.parametrize("fn", [tasks.reverse_digits, tasks.sort_digits])
def test_seq2seq_shapes(fn):
    src, tgt = fn(7, 6, seed=0, n_digits=5)
    assert src.shape == tgt.shape == (6, 7)
    assert src.dtype == tgt.dtype == np.int64
    assert src.min() >= 0 and src.max() < 5


def test_reverse_and_sort():
    src, tgt = tasks.reverse_digits(4, 9, seed=0)
    np.testing.assert_array_equal(tgt, src[::-1])
    src, tgt = tasks.sort_digits(4, 9, seed=0)
    for b in range(4):
        np.testing.assert_array_equal(tgt[:, b], sorted(src[:, b]))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), T=st.integers(2, 40), seed=st.integers(0, 2**32 - 1))
def test_adding_problem_property(n, T, seed):
    x, y = tasks.adding_problem(n, T, seed=seed, dtype=np.float64)
    assert x.shape == (T, n, 2)
    np.testing.assert_array_equal(x[..., 1].sum(0), 2)
    assert np.all((y >= 0) & (y < 2))
    np.testing.assert_allclose(y, (x[..., 0] * x[..., 1]).sum(0))


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: tasks.adding_problem(0, 10), ValueError),
        (lambda: tasks.adding_problem(4, 1), ValueError),
        (lambda: tasks.adding_problem(4, 2.5), TypeError),
        (lambda: tasks.copy_task(4, 0), ValueError),
        (lambda: tasks.copy_baseline_ce(0), ValueError),
        (lambda: tasks.running_parity(4, 1), ValueError),
        (lambda: tasks.noisy_sine(4, 10, noise=-1), ValueError),
        (lambda: tasks.noisy_sine(4, 10, omega=(1.0, 0.5)), ValueError),
        (lambda: tasks.reverse_digits(4, 10, n_digits=1), ValueError),
        (lambda: tasks.sort_digits(-1, 10), ValueError),
        (lambda: tasks.w_chain(0), ValueError),
        (lambda: tasks.w_chain(True), TypeError),
    ],
)
def test_bad_arguments(call, error):
    with pytest.raises(error, match=r"(must be|got)"):
        call()
