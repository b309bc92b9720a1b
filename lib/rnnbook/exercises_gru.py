"""Checks of the code exercises of chapter 5 (the GRU).

On the engine of :mod:`rnnbook.grading`; the reference is :class:`rnnbook.cells.GRUCell`::

    check_gru_step(fn)    fn(x, h, W_ih, W_hh, b_ih, b_hh) -> h_new (B, H)
    check_rnn_to_gru(fn)  fn(W_ih, W_hh, b_ih, b_hh) -> GRU weights computing that tanh RNN
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnbook.cells import GRUCell, RNNCell, pin_gates
from rnnbook.grading import STEP_SIZES, TIME_LIMIT, Verdict, cell_with, check_function, step_cases

__all__ = ["check_gru_step", "check_rnn_to_gru"]

_STEP_OUTPUT = {"h_new": "(B, H)"}


def _gru_step(x, h, W_ih, W_hh, b_ih, b_hh, reset="after"):
    return cell_with(GRUCell, W_ih, W_hh, b_ih, b_hh, reset=reset).step(x, h)[0]


def _gru_swapped_update(x, h, W_ih, W_hh, b_ih, b_hh):
    _, _, cache = cell_with(GRUCell, W_ih, W_hh, b_ih, b_hh).forward(x[None], h)
    z, n = cache["z"][0], cache["n"][0]
    return (1 - z) * h + z * n


def check_gru_step(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check one GRU step against :class:`rnnbook.cells.GRUCell` (PyTorch's ``nn.GRU``).

    The student writes ``fn(x, h, W_ih, W_hh, b_ih, b_hh) -> h_new`` with ``x`` (B, I), ``h``
    (B, H), ``W_ih`` (3H, I), ``W_hh`` (3H, H), ``b_ih``, ``b_hh`` (3H,), blocks r, z, n, and
    the reset gate applied *after* the hidden matmul, as PyTorch::

        r = sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
        z = sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
        n = tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
        h_new = z * h + (1 - z) * n
    """
    mistakes = [
        (
            lambda **c: _gru_step(**c, reset="before"),
            "PyTorch applies the reset gate after the hidden matmul, r * (h @ W_hn.T + b_hn); "
            "you applied it before, (r * h) @ W_hn.T + b_hn, as Cho et al. (2014).",
        ),
        (
            _gru_swapped_update,
            "z and 1 - z are swapped: with PyTorch's weights, h_new = z * h + (1 - z) * n.",
        ),
    ]
    return check_function(
        fn,
        _gru_step,
        step_cases(GRUCell),
        outputs=_STEP_OUTPUT,
        against="rnnbook.cells.GRUCell (PyTorch's nn.GRU)",
        hint="The 3H rows are the blocks r, z, n in that order. The reset gate acts on one "
        "part of the candidate's pre-activation only: which one, and does its bias come with "
        "it?",
        mistakes=mistakes,
        time_limit=time_limit,
    )


_GRU_PARAMS_OUTPUT = {
    "W_ih_gru": "(3H, I)",
    "W_hh_gru": "(3H, H)",
    "b_ih_gru": "(3H,)",
    "b_hh_gru": "(3H,)",
}


def _rnn_to_gru(W_ih, W_hh, b_ih, b_hh, big: float = 40.0):
    """GRU weights (blocks r, z, n) that compute the tanh RNN: r = 1, z = 0, n = the RNN."""
    H, I = W_ih.shape
    zeros_i, zeros_h, bias = np.zeros((H, I)), np.zeros((H, H)), np.full(H, big)
    return (
        np.concatenate([zeros_i, zeros_i, W_ih]),
        np.concatenate([zeros_h, zeros_h, W_hh]),
        np.concatenate([bias, -bias, b_ih]),  # r = sigmoid(40) = 1, z = sigmoid(-40) ~ 0
        np.concatenate([np.zeros(H), np.zeros(H), b_hh]),
    )


def _rnn_outputs(W_ih, W_hh, b_ih, b_hh, x, h0):
    return cell_with(RNNCell, W_ih, W_hh, b_ih, b_hh).forward(x, h0)[0]


def _gru_pinned_outputs(W_ih, W_hh, b_ih, b_hh, x, h0, z, r):
    """Outputs of the GRU whose n block is the RNN and whose gates are pinned to z and r."""
    gru = cell_with(GRUCell, *_rnn_to_gru(W_ih, W_hh, b_ih, b_hh))
    return pin_gates(gru, z=z, r=r).forward(x, h0)[0]


def check_rnn_to_gru(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check a GRU built to compute a given tanh RNN exactly (the limit z = 0, r = 1).

    The student writes ``fn(W_ih, W_hh, b_ih, b_hh) -> (W_ih_gru, W_hh_gru, b_ih_gru,
    b_hh_gru)``: from an :class:`rnnbook.cells.RNNCell`'s weights (``W_ih`` (H, I), ``W_hh``
    (H, H), ``b_ih``, ``b_hh`` (H,)), the weights of a :class:`rnnbook.cells.GRUCell`
    (reset "after", PyTorch's layout, blocks r, z, n: shapes (3H, I), (3H, H), (3H,), (3H,))
    whose outputs equal the RNN's on any input sequence and initial state, to within 1e-6.
    Many answers are right (any large bias pins a gate); the check runs both networks on
    seeded sequences and compares the outputs.
    """
    name = getattr(fn, "__name__", "your function")
    cases = []
    for seed, (_, I, H) in enumerate(STEP_SIZES):
        p = RNNCell(I, H, seed=seed).params
        case = {"W_ih": p["weight_ih"], "W_hh": p["weight_hh"]}
        case.update(b_ih=p["bias_ih"], b_hh=p["bias_hh"])
        cases.append(case)
    # 1. the returned weights: a 4-tuple of arrays of the right shapes (values not compared)
    shapes = check_function(
        fn,
        _rnn_to_gru,
        cases,
        outputs=_GRU_PARAMS_OUTPUT,
        against="",
        time_limit=time_limit,
        atol=np.inf,
    )
    if not shapes.ok:
        return shapes

    # 2. the GRU they make, run over sequences, against the RNN
    def gru_outputs(W_ih, W_hh, b_ih, b_hh, x, h0):
        weights = fn(W_ih, W_hh, b_ih, b_hh)
        return cell_with(GRUCell, *(np.asarray(w, dtype=float) for w in weights)).forward(x, h0)[0]

    gru_outputs.__name__ = name
    runs = []
    for seed, case in enumerate(cases):
        rng = np.random.default_rng(100 + seed)
        H, I = case["W_ih"].shape
        x = rng.normal(size=(5, 2, I))
        runs.append({**case, "x": x, "h0": rng.uniform(-1, 1, size=(2, H))})
    pinned = {
        (1.0, 1.0): "Your GRU keeps its state (z = 1): with PyTorch's convention "
        "h_t = z * h_{t-1} + (1 - z) * h~_t, the update gate must be 0 to take the candidate. "
        "Make z's bias large and negative.",
        (0.0, 0.0): "Your reset gate is closed (r = 0): the candidate ignores h_{t-1}. "
        "Make r's bias large and positive so that r = 1.",
        (0.5, 1.0): "Your update gate is about 0.5 (zero weights, zero bias): pin it to 0 "
        "with a large negative bias, e.g. -40.",
    }
    mistakes = [
        (lambda z=z, r=r, **c: _gru_pinned_outputs(**c, z=z, r=r), hint)
        for (z, r), hint in pinned.items()
    ]
    return check_function(
        gru_outputs,
        _rnn_outputs,
        runs,
        outputs={"outputs of your GRU": "(T, B, H)"},
        against="rnnbook.cells.RNNCell with the same weights, run over 5 steps",
        hint="Which block of the GRU computes the naive RNN's step once the reset gate is open? "
        "The two gates can then be pinned by their biases alone: which values must r and z "
        "take? A bias of 8 is not enough: sigmoid(-8) is still 3e-4, and the outputs must "
        "agree to within 1e-6.",
        mistakes=mistakes,
        time_limit=time_limit,
        atol=1e-6,
    )
