r"""The book's one PyTorch reference: every NumPy cell, LSTM variant and attention score
written again, short, in PyTorch, so that autograd checks the hand-written backward passes.

The functions follow the chapters' equations and the papers, not the NumPy code: a mistake
in a step of :mod:`rnnbook.cells` shows as a difference from autograd. They serve the tests
(``tests/test_cells_torch.py``, ``tests/test_properties.py``),
:class:`rnnbook.variant_models.LSTMVariant` (which trains the LSTM variants with
:func:`lstm_step`) and the benchmarks.

=============================  ============================================================
:func:`run`                    any cell of :mod:`rnnbook.cells` over a sequence, in autograd
:func:`rnn`, :func:`jordan`    the naive RNNs of chapter 1
:func:`lstm`, :func:`lstm_step`  the LSTM and its variants (chapters 3, 4)
:func:`lstm_gates`             the gate blocks each variant stacks (the cells' own table)
:func:`gru`                    the GRU, reset after (PyTorch) or before (Cho et al.)
:func:`score`                  the four attention scores of chapter 7
=============================  ============================================================

Arguments: ``cell`` is the NumPy cell (for its options), ``P`` a dict of its parameters as
tensors (``torch.tensor(cell.params[name])``, with ``requires_grad`` to read gradients),
``x`` (T, B, I) and the initial state as tensors. Each returns ``(outputs (T, B, ...),
final state)`` in the cell's structure.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["run", "rnn", "jordan", "lstm", "lstm_step", "lstm_gates", "gru", "score"]

ACTIVATIONS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "linear": lambda a: a,
    "sigmoid": torch.sigmoid,
}


def _affine(x: torch.Tensor, P: dict, w: str, b: str) -> torch.Tensor:
    return x @ P[w].T + (P[b] if b in P else 0.0)


def rnn(cell: Any, P: dict, x: torch.Tensor, h: torch.Tensor):
    r"""Elman: :math:`h_t = \phi(W_{xh} x_t + W_{hh} h_{t-1} + b)`."""
    phi, outs = ACTIVATIONS[cell.nonlinearity], []
    for t in range(len(x)):
        h = phi(_affine(x[t], P, "weight_ih", "bias_ih") + _affine(h, P, "weight_hh", "bias_hh"))
        outs.append(h)
    return torch.stack(outs), h


def jordan(cell: Any, P: dict, x: torch.Tensor, y: torch.Tensor):
    r"""Jordan: :math:`h_t = \phi(W_{xh} x_t + W_{yh} y_{t-1} + b)`, :math:`y_t = \psi(W_{hy} h_t
    + b_y)`."""
    phi, psi = ACTIVATIONS[cell.nonlinearity], ACTIVATIONS[cell.output_nonlinearity]
    outs = []
    for t in range(len(x)):
        h = phi(_affine(x[t], P, "weight_ih", "bias_ih") + _affine(y, P, "weight_hh", "bias_hh"))
        y = psi(_affine(h, P, "weight_hy", "bias_y"))
        outs.append(y)
    return torch.stack(outs), y


def lstm_gates(variant: str) -> str:
    """The gate blocks stacked in the weights of an LSTM ``variant``, in order ("ifgo",
    "fgo" for cifg, "igo" for nfg): read from :class:`rnnbook.cells.LSTMCell`'s variants."""
    from rnnbook.cells.lstm import _VARIANTS, LSTM_VARIANTS

    if variant not in LSTM_VARIANTS:
        raise ValueError(f"variant must be one of {LSTM_VARIANTS}, got {variant!r}")
    return _VARIANTS[variant].gates


def lstm_step(
    variant: str,
    a: dict[str, torch.Tensor],
    c: torch.Tensor,
    peep: dict[str, torch.Tensor] | None = None,
):
    r"""One step of an LSTM ``variant`` from its blocks' pre-activations.

    ``a`` maps the variant's gates (:func:`lstm_gates`; "g" is the candidate) to
    :math:`W_{x\cdot} x_t + W_{h\cdot} h_{t-1} + b_\cdot`, ``c`` is :math:`c_{t-1}`, ``peep``
    the peephole weights ``{"i": w_ci, "f": w_cf, "o": w_co}``. Any leading axes broadcast.
    Returns ``(h_t, c_t, a)``, ``a`` a new dict with the peephole terms added.
    """
    a = dict(a)
    if variant == "peephole":  # i and f look at c_{t-1}
        a["i"], a["f"] = a["i"] + peep["i"] * c, a["f"] + peep["f"] * c
    f = torch.ones_like(c) if variant == "nfg" else torch.sigmoid(a["f"])
    i = 1.0 - f if variant == "cifg" else torch.sigmoid(a["i"])
    c = f * c + i * torch.tanh(a["g"])
    if variant == "peephole":  # o looks at the new c_t
        a["o"] = a["o"] + peep["o"] * c
    h = torch.sigmoid(a["o"]) * (c if variant == "noaf" else torch.tanh(c))
    return h, c, a


def lstm(cell: Any, P: dict, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
    """Any LSTM variant of :class:`rnnbook.cells.LSTMCell`, step by :func:`lstm_step`."""
    h, c = state
    gates = lstm_gates(cell.variant)
    peep = {k: P[f"weight_c{k}"] for k in "ifo"} if cell.variant == "peephole" else None
    outs = []
    for t in range(len(x)):
        pre = _affine(x[t], P, "weight_ih", "bias_ih") + _affine(h, P, "weight_hh", "bias_hh")
        a = dict(zip(gates, pre.chunk(len(gates), dim=-1), strict=True))
        h, c, _ = lstm_step(cell.variant, a, c, peep)
        outs.append(h)
    return torch.stack(outs), (h, c)


def gru(cell: Any, P: dict, x: torch.Tensor, h: torch.Tensor):
    r"""GRU, :math:`h_t = z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t`, with the reset
    after the hidden matmul (PyTorch) or before it (Cho et al. 2014)."""
    H, outs = cell.hidden_size, []
    W = P["weight_hh"]
    b = P.get("bias_hh", torch.zeros(3 * H, dtype=W.dtype))
    for t in range(len(x)):
        ax = _affine(x[t], P, "weight_ih", "bias_ih").chunk(3, dim=1)
        r = torch.sigmoid(ax[0] + h @ W[:H].T + b[:H])
        z = torch.sigmoid(ax[1] + h @ W[H : 2 * H].T + b[H : 2 * H])
        if cell.reset == "after":
            n = torch.tanh(ax[2] + r * (h @ W[2 * H :].T + b[2 * H :]))
        else:
            n = torch.tanh(ax[2] + (r * h) @ W[2 * H :].T + b[2 * H :])
        h = z * h + (1 - z) * n
        outs.append(h)
    return torch.stack(outs), h


def run(cell: Any, P: dict, x: torch.Tensor, state: Any):
    """The twin of ``cell`` (an :class:`~rnnbook.cells.RNNCell`, :class:`~rnnbook.cells.JordanRNN`,
    :class:`~rnnbook.cells.LSTMCell` of any variant or :class:`~rnnbook.cells.GRUCell`) run on
    ``x`` from ``state``: ``(outputs, final state)``."""
    from rnnbook.cells import GRUCell, JordanRNN, LSTMCell, RNNCell

    for cls, twin in ((RNNCell, rnn), (JordanRNN, jordan), (LSTMCell, lstm), (GRUCell, gru)):
        if isinstance(cell, cls):
            return twin(cell, P, x, state)
    raise TypeError(f"no reference for {type(cell).__name__}")


def score(q: torch.Tensor, k: torch.Tensor, method: str, p: dict) -> torch.Tensor:
    r"""The four attention scores from the papers' formulas, q (B, d_q), k (B, T, d_k) ->
    (B, T): dot :math:`q^T k`, scaled_dot :math:`q^T k / \sqrt d`, general :math:`q^T W k`,
    concat :math:`v^T \tanh(W_a q + W_b k)`."""
    if method == "dot":
        return torch.einsum("bd,btd->bt", q, k)
    if method == "scaled_dot":
        return torch.einsum("bd,btd->bt", q, k) / q.shape[-1] ** 0.5
    if method == "general":
        return torch.einsum("bd,de,bte->bt", q, p["W"], k)
    u = torch.tanh((q @ p["W_a"].T)[:, None, :] + k @ p["W_b"].T)
    return u @ p["v"]
