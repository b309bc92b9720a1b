"""Checks of the code exercises of chapters 1 and 2 (the naive RNN, its gradients).

On the engine of :mod:`rnnbook.grading`; the references are :class:`rnnbook.cells.RNNCell`
and :class:`rnnbook.cells.JordanRNN`, forward and backward::

    check_memory_example(fn)   ch. 1  fn(x (T, B, 2)) -> y (T, B, 2)
    check_rnn_step(fn)         ch. 1  fn(x, h, W_ih, W_hh, b_ih, b_hh) -> h_new (B, H)
    check_one_unit_bptt(fn)    ch. 2  fn(w, T) -> (y_T, dy_T/dw)
    check_jacobian_bptt(fn)    ch. 2  fn(W_hh, hs, delta_T) -> delta_0 (H,)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnbook import tasks
from rnnbook.cells import JordanRNN, RNNCell
from rnnbook.grading import TIME_LIMIT, Verdict, cell_with, check_function, step_cases

__all__ = ["check_memory_example", "check_rnn_step", "check_one_unit_bptt", "check_jacobian_bptt"]


def _ones(cell):
    cell.params = {name: np.ones_like(p) for name, p in cell.params.items()}
    return cell


def _elman_memory(x, recurrent=True):
    cell = _ones(RNNCell(2, 2, nonlinearity="linear", bias=False))
    if not recurrent:
        cell.params["weight_hh"][...] = 0.0
    h, _, _ = cell.forward(x)
    return h @ np.ones((2, 2)).T  # y_t = W_hy h_t with W_hy all ones


def check_memory_example(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the Elman network of the memory example (chapter 1).

    Two inputs, two hidden units, two outputs; every weight 1, no bias, no nonlinearity, and
    the memory starts at 0: :math:`h_t = W_{xh} x_t + W_{hh} h_{t-1}`, :math:`y_t = W_{hy} h_t`.
    The student writes ``fn(x) -> y`` with ``x`` (T, B, 2), time-major as
    ``rnnbook.tasks.memory_example()``, returning the outputs ``y`` (T, B, 2). For the book's
    inputs [1, 1], [1, 1], [2, 2] they are [4, 4], [12, 12], [32, 32].
    """
    rng = np.random.default_rng(0)
    cases = [
        {"x": tasks.memory_example()},
        {"x": rng.integers(-2, 3, size=(4, 2, 2)).astype(float)},
        {"x": np.array([[[0.5, -1.0]]])},
    ]
    mistakes = [
        (
            lambda x: _ones(JordanRNN(2, 2, 2, nonlinearity="linear", bias=False)).forward(x)[0],
            "These are a Jordan network's outputs: it feeds back the previous output y_{t-1}. "
            "The Elman network feeds back its hidden values h_{t-1}.",
        ),
        (
            lambda x: _ones(RNNCell(2, 2, nonlinearity="linear", bias=False)).forward(x)[0],
            "You returned the hidden values h_t; the outputs are y_t = W_hy h_t.",
        ),
        (
            lambda x: _elman_memory(x, recurrent=False),
            "Your outputs ignore the memory: h_t = W_xh x_t + W_hh h_{t-1}.",
        ),
    ]
    return check_function(
        fn,
        _elman_memory,
        cases,
        outputs={"y": "(T, B, 2)"},
        against="rnnbook.cells.RNNCell (linear, all weights 1) with an output layer of ones",
        hint="Carry the memory h from one step to the next, starting from zeros: each step mixes "
        "the new input with the old memory, and the output reads the memory after it is "
        "updated.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


_STEP_OUTPUT = {"h_new": "(B, H)"}


def _rnn_step(x, h, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return cell_with(RNNCell, W_ih, W_hh, b_ih, b_hh, nonlinearity=nonlinearity).step(x, h)[0]


def check_rnn_step(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check one step of an Elman RNN with tanh against :class:`rnnbook.cells.RNNCell`.

    The student writes ``fn(x, h, W_ih, W_hh, b_ih, b_hh) -> h_new`` with ``x`` (B, I),
    ``h`` (B, H), ``W_ih`` (H, I), ``W_hh`` (H, H), ``b_ih``, ``b_hh`` (H,), returning
    ``h_new = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``, shape (B, H).
    """
    mistakes = [
        (
            lambda **c: _rnn_step(**c, nonlinearity="linear"),
            "You returned the pre-activation: apply np.tanh to it.",
        ),
        (
            lambda b_hh, **c: _rnn_step(**c, b_hh=0 * b_hh),
            "b_hh is missing: PyTorch's layout has two biases, b_ih and b_hh; add both.",
        ),
        (
            lambda b_ih, **c: _rnn_step(**c, b_ih=0 * b_ih),
            "b_ih is missing: PyTorch's layout has two biases, b_ih and b_hh; add both.",
        ),
    ]
    return check_function(
        fn,
        _rnn_step,
        step_cases(RNNCell),
        outputs=_STEP_OUTPUT,
        against="rnnbook.cells.RNNCell",
        hint="Mind the layout: x and h hold one example per row, while W_ih (H, I) and W_hh "
        "(H, H) hold one hidden unit per row, so which way round must each product go? Then "
        "check that both biases and the activation are there.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


def _one_unit_bptt(w, T):
    """y_T and dy_T/dw of h_t = w h_{t-1} + x_t from :class:`RNNCell` and its backward."""
    cell = RNNCell(1, 1, nonlinearity="linear", bias=False)
    cell.params = {"weight_ih": np.ones((1, 1)), "weight_hh": np.full((1, 1), float(w))}
    y, _, cache = cell.forward(tasks.w_chain(T))
    dy = np.zeros_like(y)
    dy[-1] = 1.0  # the loss is y_T itself
    return float(y[-1, 0, 0]), float(cell.backward(dy, cache)["weight_hh"][0, 0])


def check_one_unit_bptt(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the forward and BPTT of the one-unit linear RNN of the w-chain.

    The network is :math:`h_t = w h_{t-1} + x_t`, :math:`y_t = h_t`, :math:`h_0 = 0`, run for
    ``T`` steps on the input 1 at step 1 and 0 at steps 2..T (``rnnbook.tasks.w_chain(T)``).
    So :math:`h_1 = 1` and :math:`y_T = w^{T-1}`, with :math:`dy_T/dw = (T-1) w^{T-2}` (0 for
    ``T = 1``).

    The student writes ``fn(w, T) -> (y_T, dy_T_dw)``: ``w`` a float, ``T >= 1`` an int, both
    results numbers (floats, NumPy scalars or size-1 arrays). The intended answer runs the
    forward loop, then the backward loop, rather than the closed form.
    """
    cases = [{"w": w, "T": T} for w, T in [(0.9, 5), (1.1, 10), (-0.5, 4), (0.5, 1), (0.0, 2)]]
    mistakes = [
        (
            lambda w, T: (w**T, T * w ** (T - 1)),
            "Off by one: with the input 1 at step 1, h_1 = 1, so after T steps y_T = w**(T-1), "
            "not w**T.",
        )
    ]
    return check_function(
        fn,
        _one_unit_bptt,
        cases,
        outputs={"y_T": "a number", "dy_T/dw": "a number"},
        against="rnnbook.cells.RNNCell (linear, one unit) and its backward",
        hint="Keep every state of the forward loop. Going back from the last step (where "
        "dy_T/dh_T is 1), w acts at every step: each step adds its own share to dy_T/dw (what "
        "is the derivative of w h_{t-1} + x_t with respect to w?), and the gradient that "
        "reaches h_{t-1} is scaled by the step's Jacobian.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


def _jacobian_cases() -> list[dict[str, np.ndarray]]:
    """Hidden states of real tanh RNN runs: W_hh (H, H), hs (T, H), delta_T (H,)."""
    cases = []
    for seed, (T, I, H) in enumerate([(4, 2, 3), (1, 3, 5), (6, 1, 2), (10, 2, 4)]):
        rng = np.random.default_rng(50 + seed)
        cell = RNNCell(I, H, seed=seed)
        cell.params["weight_hh"] *= 3.0  # large enough that tanh' matters
        hs = cell.forward(rng.normal(size=(T, 1, I)))[0][:, 0]
        cases.append({"W_hh": cell.params["weight_hh"], "hs": hs, "delta_T": rng.normal(size=H)})
    return cases


def _jacobian_bptt(W_hh, hs, delta_T):
    """delta_0 from RNNCell.backward, given the states (backward reads only h_0, h_t, W_hh)."""
    T, H = hs.shape
    cell = RNNCell(1, H, bias=False)
    cell.params["weight_hh"] = W_hh
    cache = {"x": np.zeros((T, 1, 1)), "h0": np.zeros((1, H)), "h": hs[:, None, :]}
    return cell.backward(np.zeros((T, 1, H)), cache, d_state=delta_T[None])["state"][0]


def _jacobian_loop(W_hh, hs, delta_T, jacobian):
    d = delta_T
    for t in range(hs.shape[0], 0, -1):
        d = jacobian(W_hh, hs, t, d)
    return d


def check_jacobian_bptt(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check BPTT written as a product of Jacobians (chapter 2) against ``RNNCell.backward``.

    One sequence of a tanh RNN in the chapter's column-vector notation:
    :math:`h_t = \\tanh(W_{hh} h_{t-1} + W_{xh} x_t + b)`, so the step Jacobian is
    :math:`J_t = \\partial h_t / \\partial h_{t-1} = \\operatorname{diag}(1 - h_t^2)\\, W_{hh}`.
    For a loss that depends on :math:`h_T` only, with :math:`\\delta_T = \\partial L /
    \\partial h_T`,

    .. math::  \\delta_0 = \\frac{\\partial L}{\\partial h_0}
               = (J_T J_{T-1} \\cdots J_1)^{\\top} \\delta_T .

    The student writes ``fn(W_hh, hs, delta_T) -> delta_0`` with ``W_hh`` (H, H), ``hs``
    (T, H) the states :math:`h_1 .. h_T` (row ``t - 1`` is :math:`h_t`), ``delta_T`` (H,);
    it returns ``delta_0`` (H,).
    """

    def no_derivative(W_hh, hs, t, d):
        return W_hh.T @ d

    def not_transposed(W_hh, hs, t, d):
        return (1 - hs[t - 1] ** 2) * (W_hh @ d)

    def previous_state(W_hh, hs, t, d):
        h_prev = hs[t - 2] if t >= 2 else np.zeros_like(hs[0])
        return W_hh.T @ ((1 - h_prev**2) * d)

    def diagnose(jacobian):
        return lambda W_hh, hs, delta_T: _jacobian_loop(W_hh, hs, delta_T, jacobian)

    mistakes = [
        (
            diagnose(no_derivative),
            "tanh' is missing: each step's Jacobian is not W_hh alone.",
        ),
        (
            diagnose(not_transposed),
            "The gradient goes back through the transpose of each step's Jacobian.",
        ),
        (
            diagnose(previous_state),
            "tanh' belongs to the state the step produced: J_t uses 1 - h_t**2, not "
            "1 - h_{t-1}**2 (row t - 1 of hs is h_t).",
        ),
    ]
    return check_function(
        fn,
        _jacobian_bptt,
        _jacobian_cases(),
        outputs={"delta_0": "(H,)"},
        against="rnnbook.cells.RNNCell.backward",
        hint="Each step's Jacobian is tanh's derivative (written with the state the step "
        "produced) times W_hh. Chain them in the order the steps happened, and remember that a "
        "gradient goes back through the transpose.",
        mistakes=mistakes,
        time_limit=time_limit,
    )
