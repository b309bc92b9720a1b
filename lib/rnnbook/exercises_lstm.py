"""Checks of the code exercises of chapters 3 and 4 (the LSTM, its derivative).

On the engine of :mod:`rnnbook.grading`; the reference is :class:`rnnbook.cells.LSTMCell`,
forward and backward::

    check_lstm_step(fn)            ch. 3  fn(x, h, c, W_ih, W_hh, b_ih, b_hh) -> (h_new, c_new)
    check_lstm_num_parameters(fn)  ch. 3  fn(input_size, hidden_size, variant) -> int
    check_lstm_step_backward(fn)   ch. 4  fn(dh_new, dc_new, cache) -> {"x", "h", "c", ...}
    check_lstm_cell_jacobian(fn)   ch. 4  fn(x, c, o, W_ih, W_hh, b_ih, b_hh) -> dc_new/dc

:func:`lstm_step_cache` builds the ``cache`` the backward exercise receives.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnbook.cells import LSTMCell
from rnnbook.grading import TIME_LIMIT, Verdict, cell_with, check_function, step_cases

__all__ = [
    "check_lstm_step",
    "check_lstm_num_parameters",
    "check_lstm_step_backward",
    "lstm_step_cache",
    "check_lstm_cell_jacobian",
]


def _lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh, variant="vanilla"):
    _, state = cell_with(LSTMCell, W_ih, W_hh, b_ih, b_hh, variant=variant).step(x, (h, c))
    return tuple(state)


def _lstm_gates_ifog(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """The step of a student who reads the blocks as i, f, o, g: PyTorch's weights reordered."""
    order = [0, 1, 3, 2]
    W_ih, W_hh, b_ih, b_hh = (
        np.concatenate([np.split(a, 4)[k] for k in order]) for a in (W_ih, W_hh, b_ih, b_hh)
    )
    return _lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)


def _lstm_tanh_of_old_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    cache = lstm_step_cache(x, h, c, W_ih, W_hh, b_ih, b_hh)
    return cache["o"] * np.tanh(c), cache["c_new"]


def check_lstm_step(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check one LSTM step against :class:`rnnbook.cells.LSTMCell` (PyTorch's ``nn.LSTM``).

    The student writes ``fn(x, h, c, W_ih, W_hh, b_ih, b_hh) -> (h_new, c_new)`` with ``x``
    (B, I), ``h`` and ``c`` (B, H), ``W_ih`` (4H, I), ``W_hh`` (4H, H), ``b_ih``, ``b_hh``
    (4H,), the gate blocks stacked in PyTorch's order i, f, g, o::

        i, f, g, o = split(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)   # 4 blocks of H columns
        i, f, o = sigmoid(i), sigmoid(f), sigmoid(o);  g = tanh(g)
        c_new = f * c + i * g
        h_new = o * tanh(c_new)
    """
    mistakes = [
        (
            _lstm_tanh_of_old_cell,
            "h_new uses the tanh of the *new* cell state: h_t = o_t * tanh(c_t), "
            "not tanh(c_{t-1}).",
        ),
        (
            lambda **c: _lstm_step(**c, variant="noaf"),
            "h_new = o * tanh(c_new): the tanh on the cell state is missing.",
        ),
        (
            _lstm_gates_ifog,
            "PyTorch stacks the gate blocks as i, f, g, o (candidate g third, output gate o "
            "last); you seem to use i, f, o, g.",
        ),
    ]
    return check_function(
        fn,
        _lstm_step,
        step_cases(LSTMCell, with_c=True),
        outputs={"h_new": "(B, H)", "c_new": "(B, H)"},
        against="rnnbook.cells.LSTMCell (PyTorch's nn.LSTM)",
        hint="Check the order of the four blocks of columns (PyTorch's: i, f, g, o) and which "
        "squashing function each gate gets. Then the two states: which gate decides how much "
        "of the old cell stays, and which one scales what the new cell shows?",
        mistakes=mistakes,
        time_limit=time_limit,
    )


def _lstm_num_parameters(input_size: int, hidden_size: int, variant: str) -> int:
    return LSTMCell(input_size, hidden_size, variant=variant).num_parameters()


def _lstm_count_one_bias(input_size, hidden_size, variant):
    blocks = 4 if variant in ("vanilla", "peephole", "noaf") else 3
    return _lstm_num_parameters(input_size, hidden_size, variant) - blocks * hidden_size


def _lstm_count_four_blocks(input_size, hidden_size, variant):
    H, I = hidden_size, input_size
    return 4 * (H * I + H * H + 2 * H) + (3 * H if variant == "peephole" else 0)


def _lstm_count_no_peepholes(input_size, hidden_size, variant):
    plain = "vanilla" if variant == "peephole" else variant
    return _lstm_num_parameters(input_size, hidden_size, plain)


def _lstm_count_naive(input_size, hidden_size, variant):
    H, I = hidden_size, input_size
    return H * I + H * H + 2 * H


def check_lstm_num_parameters(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check a parameter count against :meth:`rnnbook.cells.LSTMCell.num_parameters`.

    The student writes ``fn(input_size, hidden_size, variant) -> int``: the number of
    scalar parameters of one LSTM layer in PyTorch's layout (two bias vectors, ``b_ih`` and
    ``b_hh``), for ``variant`` "vanilla", "peephole", "cifg", "nfg" or "noaf" (chapter 3):
    ``G * (H*I + H*H + 2*H)`` with G = 4 blocks (3 for "cifg" and "nfg"), plus ``3*H``
    peephole weights for "peephole".
    """
    cases = [
        {"input_size": I, "hidden_size": H, "variant": v}
        for I, H, v in [
            (2, 3, "vanilla"),
            (10, 32, "vanilla"),
            (3, 5, "peephole"),
            (4, 6, "cifg"),
            (7, 2, "nfg"),
            (1, 9, "noaf"),
        ]
    ]
    mistakes = [
        (
            _lstm_count_naive,
            "That is a naive RNN's count, H*I + H*H + 2*H: an LSTM has one such block for "
            "each gate and the candidate.",
        ),
        (
            _lstm_count_one_bias,
            "PyTorch's layout has two bias vectors per block, b_ih and b_hh: count both.",
        ),
        (
            _lstm_count_four_blocks,
            "'cifg' (i = 1 - f) and 'nfg' (f = 1) have no weights for the gate they remove: "
            "3 blocks, not 4.",
        ),
        (
            _lstm_count_no_peepholes,
            "The peephole variant adds three weight vectors of H entries each, w_ci, w_cf, w_co.",
        ),
    ]
    return check_function(
        fn,
        _lstm_num_parameters,
        cases,
        outputs={"count": "()"},
        against="rnnbook.cells.LSTMCell.num_parameters",
        hint="Count one block (a gate or the candidate): its two weight matrices and PyTorch's "
        "two biases. Then count how many blocks each variant keeps, and what the peephole "
        "variant adds.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


def lstm_step_cache(x, h, c, W_ih, W_hh, b_ih, b_hh) -> dict[str, np.ndarray]:
    """Everything the forward of one LSTM step computed, as the backward exercise receives it:
    :meth:`LSTMCell.step_forward <rnnbook.cells.LSTMCell.step_forward>`'s results, named.

    Returns
    -------
    dict with the inputs ``"x"`` (B, I), ``"h"``, ``"c"`` (B, H), ``"W_ih"`` (4H, I),
    ``"W_hh"`` (4H, H), ``"b_ih"``, ``"b_hh"`` (4H,); the gates after their nonlinearity
    ``"i"``, ``"f"``, ``"g"``, ``"o"`` (B, H); and the results ``"c_new"``, ``"h_new"`` (B, H).
    """
    cell = cell_with(LSTMCell, W_ih, W_hh, b_ih, b_hh)
    a_x = x @ W_ih.T + b_ih + b_hh
    (h_new, c_new), kept = cell.step_forward(a_x, (h, c), cell.step_weights())
    gates = dict(zip("ifgo", np.split(kept["gates"], 4, axis=1), strict=True))
    inputs = {"x": x, "h": h, "c": c, "W_ih": W_ih, "W_hh": W_hh, "b_ih": b_ih, "b_hh": b_hh}
    return {**inputs, **gates, "c_new": c_new, "h_new": h_new}


def _lstm_step_backward(dh_new, dc_new, cache):
    """The reference: :meth:`LSTMCell.step_backward <rnnbook.cells.LSTMCell.step_backward>`
    gives the pre-activations' gradient ``da``; the matmuls give the rest."""
    W_ih, W_hh, b_ih, b_hh = (cache[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh"))
    cell = cell_with(LSTMCell, W_ih, W_hh, b_ih, b_hh)
    w, a_x = cell.step_weights(), cache["x"] @ W_ih.T + b_ih + b_hh
    _, kept = cell.step_forward(a_x, (cache["h"], cache["c"]), w)
    d, (dh, dc) = cell.step_backward((dh_new, dc_new), kept, w)
    da = d["a_x"]
    return {
        "x": da @ W_ih,
        "h": dh,
        "c": dc,
        "W_ih": da.T @ cache["x"],
        "W_hh": da.T @ cache["h"],
        "b_ih": da.sum(axis=0),
        "b_hh": da.sum(axis=0),
    }


def check_lstm_step_backward(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the backward of one LSTM step against :meth:`rnnbook.cells.LSTMCell.step_backward`.

    The student writes ``fn(dh_new, dc_new, cache) -> grads`` where

    * ``dh_new``, ``dc_new`` (B, H) are dL/dh_new and dL/dc_new, the gradients arriving from
      above (the output and the next step);
    * ``cache`` is the dict of :func:`lstm_step_cache`: the inputs ``x``, ``h``, ``c``,
      ``W_ih``, ``W_hh``, ``b_ih``, ``b_hh``, the gates ``i``, ``f``, ``g``, ``o`` (after their
      sigmoid or tanh) and ``c_new``, ``h_new``;
    * ``grads`` is a dict with keys ``"x"``, ``"h"``, ``"c"`` (dL/dx, dL/dh, dL/dc of the
      step's inputs) and ``"W_ih"``, ``"W_hh"``, ``"b_ih"``, ``"b_hh"``, each of the shape of
      what it differentiates (``b_ih`` and ``b_hh`` get the same gradient).

    The chain, from the top (``*`` is elementwise)::

        dc = dc_new + dh_new * o * (1 - tanh(c_new)**2)
        do = dh_new * tanh(c_new);  di = dc * g;  df = dc * c;  dg = dc * i
        da = concat([di * i*(1-i), df * f*(1-f), dg * (1-g**2), do * o*(1-o)])   # (B, 4H)
        dx = da @ W_ih;  dh = da @ W_hh;  dc_prev = dc * f
        dW_ih = da.T @ x;  dW_hh = da.T @ h;  db_ih = db_hh = da.sum(axis=0)
    """
    cases = []
    for n, case in enumerate(step_cases(LSTMCell, with_c=True)):
        rng = np.random.default_rng(100 + n)
        shape = case["h"].shape
        cases.append(
            {
                "dh_new": rng.normal(size=shape),
                "dc_new": rng.normal(size=shape),
                "cache": lstm_step_cache(**case),
            }
        )
    outputs = {"x": "(B, I)", "h": "(B, H)", "c": "(B, H)", "W_ih": "(4H, I)", "W_hh": "(4H, H)"}
    outputs |= {"b_ih": "(4H,)", "b_hh": "(4H,)"}
    mistakes = [
        (
            lambda dh_new, dc_new, cache: _lstm_step_backward(dh_new, 0 * dc_new, cache),
            "dc_new is missing: the cell state's gradient is dc_new (from the next step) plus "
            "what comes through h_new = o * tanh(c_new).",
        ),
        (
            lambda dh_new, dc_new, cache: _lstm_step_backward(0 * dh_new, dc_new, cache),
            "The path through h_new is missing: dh_new reaches c_new through "
            "h_new = o * tanh(c_new), and reaches o.",
        ),
    ]
    return check_function(
        fn,
        _lstm_step_backward,
        cases,
        outputs=outputs,
        against="rnnbook.cells.LSTMCell.step_backward",
        hint="Go back through h_new first: the new cell state gets its gradient from two places, "
        "dc_new and the path through h_new. Then go through c_new to each gate, through each "
        "gate's squashing function (its derivative can be written with the gate's own value), "
        "and through the matmuls, keeping the gates' order i, f, g, o.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


def _lstm_cell_jacobian(x, c, o, W_ih, W_hh, b_ih, b_hh, through_h=True, dtanh_c=True):
    """J[b] = dc_new[b] / dc[b] from :meth:`LSTMCell.backward`, one row of J per backward."""
    cell = cell_with(LSTMCell, W_ih, W_hh, b_ih, b_hh)
    tanh_c = np.tanh(c)
    _, _, fc = cell.forward(x[None], (o * tanh_c, c))
    B, H = c.shape
    J = np.empty((B, H, H))
    for j in range(H):
        dc_new = np.zeros((B, H))
        dc_new[:, j] = 1.0  # the gradient of c_new[:, j] alone
        dh, dc = cell.backward(np.zeros((1, B, H)), fc, d_state=(np.zeros((B, H)), dc_new))["state"]
        J[:, j, :] = dc + through_h * dh * o * (1 - tanh_c**2 if dtanh_c else 1.0)
    return J


def check_lstm_cell_jacobian(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the Jacobian of one LSTM step's new cell state with respect to the old one.

    The old cell state ``c`` reaches the new one on two kinds of path: directly,
    ``c_new = f * c + ...`` (the carousel), and through the hidden state ``h = o * tanh(c)``,
    which every gate of the step reads. The student writes
    ``fn(x, c, o, W_ih, W_hh, b_ih, b_hh) -> J`` with ``x`` (B, I) the step's input, ``c``
    (B, H) the old cell state, ``o`` (B, H) the old output gate (so ``h = o * tanh(c)``),
    PyTorch's weights (blocks i, f, g, o), returning ``J`` (B, H, H) with
    ``J[b, j, k] = d c_new[b, j] / d c[b, k]``. In column-vector notation (chapter 4):

    .. math::

        \\frac{\\partial c_{t+1}}{\\partial c_t} = \\operatorname{diag}(f_{t+1})
        + \\big[\\operatorname{diag}(\\tilde c_{t+1} \\odot \\sigma'_i) W_{hi}
        + \\operatorname{diag}(c_t \\odot \\sigma'_f) W_{hf}
        + \\operatorname{diag}(i_{t+1} \\odot \\tanh'_g) W_{hc}\\big]
        \\operatorname{diag}(o_t \\odot (1 - \\tanh^2 c_t))

    The reference is :meth:`rnnbook.cells.LSTMCell.backward`, run once per row of J.
    """
    cases = []
    for n, case in enumerate(step_cases(LSTMCell, with_c=True)):
        rng = np.random.default_rng(200 + n)
        o = rng.uniform(0.05, 0.95, size=case["c"].shape)
        weights = {k: case[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh")}
        cases.append({"x": case["x"], "c": case["c"], "o": o} | weights)
    mistakes = [
        (
            lambda **c: _lstm_cell_jacobian(**c, through_h=False),
            "You kept only the carousel, diag(f_new). The old cell also reaches the input gate, "
            "the forget gate and the candidate of the step, through h = o * tanh(c).",
        ),
        (
            lambda **c: _lstm_cell_jacobian(**c, dtanh_c=False),
            "The derivative of h = o * tanh(c) with respect to c is o * (1 - tanh(c)**2), not o.",
        ),
        (
            lambda **c: _lstm_cell_jacobian(**c).transpose(0, 2, 1),
            "Your J is transposed: J[b, j, k] = d c_new[j] / d c[k], rows for c_new.",
        ),
    ]
    return check_function(
        fn,
        _lstm_cell_jacobian,
        cases,
        outputs={"J": "(B, H, H)"},
        against="rnnbook.cells.LSTMCell.backward (one row of J at a time)",
        hint="Two paths lead from c to c_new: directly, through the forget gate (the carousel, "
        "diag(f)), and through h = o * tanh(c), which the input gate, the forget gate and the "
        "candidate all read. Differentiate both and add them; the new step's output gate is on "
        "neither path.",
        mistakes=mistakes,
        time_limit=time_limit,
    )
