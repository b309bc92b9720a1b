"""Exploding and vanishing gradients: the quantities of chapter 2, computed small and plain.

Backpropagation through time multiplies Jacobians. For the naive RNN (column vectors)

.. math::

    a_t = W_{hh} h_{t-1} + W_{xh} x_t + b, \\qquad h_t = \\phi(a_t)

the Jacobian of one step is (eq. ``eq-02-jacobian`` of the chapter)

.. math::

    J_t = \\frac{\\partial h_t}{\\partial h_{t-1}}
        = \\operatorname{diag}(\\phi'(a_t))\\, W_{hh},

and a loss that depends on :math:`h_T` only reaches an earlier state through their product
(eq. ``eq-02-product``)

.. math::

    \\frac{\\partial h_T}{\\partial h_k} = J_T J_{T-1} \\cdots J_{k+1}, \\qquad
    \\delta_k = \\frac{\\partial \\mathcal{L}}{\\partial h_k}
    = \\Big(\\frac{\\partial h_T}{\\partial h_k}\\Big)^{\\top} \\delta_T .

In code the states are rows (a batch ``(B, H)``), as everywhere in :mod:`rnnbook`; a Jacobian
of one sequence is still the ``(H, H)`` matrix of the column-vector formula.

=====================  =====================================================================
function               what
=====================  =====================================================================
jacobians              every :math:`J_t` of an :class:`~rnnbook.cells.RNNCell` run, (T, B, H, H)
jacobian_product       :math:`\\partial h_T / \\partial h_k = J_T \\cdots J_{k+1}`
hidden_grads           :math:`\\delta_t = \\partial \\mathcal{L} / \\partial h_t` for t = 0 .. T
one_unit_chain         the w-chain: :math:`y_T = w^{T-1}` and :math:`dy_T/dw`, many w at once
scaled_orthogonal      an orthogonal matrix times :math:`\\sigma` (every singular value = sigma)
scale_to_norm          rescale a matrix to a given largest singular value
bistable_unit          Pascanu et al.'s one-unit net :math:`x_t = w \\sigma(x_{t-1}) + b`
clip_by_norm           gradient clipping by norm (eq. ``eq-02-clip``)
descend                gradient descent on a function of a few parameters, clipped or not
state_grad_norms       :math:`\\|\\partial (v^\\top h_T) / \\partial \\text{state}_0\\|` for each T
=====================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rnnbook import tasks
from rnnbook.cells import RNNCell

__all__ = [
    "jacobians",
    "jacobian_product",
    "hidden_grads",
    "one_unit_chain",
    "scaled_orthogonal",
    "scale_to_norm",
    "bistable_unit",
    "clip_by_norm",
    "descend",
    "state_grad_norms",
]


def _dphi(cell: RNNCell, h: np.ndarray) -> np.ndarray:
    """:math:`\\phi'(a_t)` from the cell's output :math:`h_t = \\phi(a_t)`, same shape as h."""
    if cell.nonlinearity == "tanh":
        return 1.0 - h * h
    if cell.nonlinearity == "relu":
        return (h > 0).astype(h.dtype)
    return np.ones_like(h)


def _rnn_cache(cell: Any, cache: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(cell, RNNCell):
        raise TypeError(f"cell must be an rnnbook.cells.RNNCell, got {type(cell).__name__}")
    if not isinstance(cache, dict) or "h" not in cache:
        raise TypeError("cache must be the third value returned by cell.forward(x)")
    return cache["h"], cell.params["weight_hh"]


def jacobians(cell: RNNCell, cache: dict) -> np.ndarray:
    """The Jacobian of every step, :math:`J_t = \\operatorname{diag}(\\phi'(a_t)) W_{hh}`.

    Parameters
    ----------
    cell : RNNCell (tanh, relu or linear)
    cache : the cache returned by ``cell.forward(x)``

    Returns
    -------
    ndarray, shape (T, B, H, H)
        ``J[t - 1, b]`` is :math:`\\partial h_t / \\partial h_{t-1}` of sequence ``b``
        (row i: unit i of :math:`h_t`; column j: unit j of :math:`h_{t-1}`).
    """
    hs, W_hh = _rnn_cache(cell, cache)
    return _dphi(cell, hs)[..., :, None] * W_hh


def jacobian_product(J: ArrayLike, k: int = 0) -> np.ndarray:
    """:math:`\\partial h_T / \\partial h_k = J_T J_{T-1} \\cdots J_{k+1}` (eq. ``eq-02-product``).

    Parameters
    ----------
    J : array (T, B, H, H)
        The step Jacobians of :func:`jacobians` (``J[t - 1]`` is :math:`J_t`).
    k : int, 0 <= k <= T
        The earlier state; ``k = T`` gives the identity.

    Returns
    -------
    ndarray, shape (B, H, H)
    """
    J = np.asarray(J, dtype=float)
    if J.ndim != 4 or J.shape[2] != J.shape[3]:
        raise ValueError(f"J must have shape (T, B, H, H), got {J.shape}")
    T, B, H, _ = J.shape
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 0 <= k <= T:
        raise ValueError(f"k must be an int from 0 to T = {T}, got {k!r}")
    P = np.broadcast_to(np.eye(H), (B, H, H)).copy()
    for t in range(k + 1, T + 1):  # P <- J_t P, so the latest Jacobian ends up on the left
        P = J[t - 1] @ P
    return P


def hidden_grads(cell: RNNCell, cache: dict, d_hT: ArrayLike) -> np.ndarray:
    """:math:`\\delta_t = \\partial \\mathcal{L} / \\partial h_t` for t = 0 .. T, for a loss of h_T.

    One Jacobian at a time, :math:`\\delta_{t-1} = J_t^{\\top} \\delta_t`; in rows,
    ``d_prev = (d * phi'(a_t)) @ W_hh``. ``result[0]`` equals ``cell.backward`` 's
    ``"state"`` for ``d_state = d_hT`` and zero ``d_outputs``.

    Parameters
    ----------
    cell : RNNCell
    cache : from ``cell.forward(x)``
    d_hT : array (B, H), :math:`\\partial \\mathcal{L} / \\partial h_T`

    Returns
    -------
    ndarray, shape (T + 1, B, H)
    """
    hs, W_hh = _rnn_cache(cell, cache)
    d = np.asarray(d_hT, dtype=float)
    if d.shape != hs.shape[1:]:
        raise ValueError(f"d_hT must have shape (B, H) = {hs.shape[1:]}, got {d.shape}")
    T = hs.shape[0]
    out = np.empty((T + 1, *d.shape))
    out[T] = d
    dphi = _dphi(cell, hs)
    for t in range(T, 0, -1):
        d = (d * dphi[t - 1]) @ W_hh  # delta_{t-1} = J_t^T delta_t
        out[t - 1] = d
    return out


def one_unit_chain(w: ArrayLike, T: int) -> tuple[np.ndarray, np.ndarray]:
    """The w-chain with the library: :math:`y_T = w^{T-1}` and :math:`dy_T / dw`.

    The network is :math:`h_t = w h_{t-1} + x_t`, :math:`y_t = h_t`, :math:`h_0 = 0`, on
    ``rnnbook.tasks.w_chain(T)`` (1, then T - 1 zeros). Every value of ``w`` is its own
    one-unit network; they run side by side as the units of one linear
    :class:`~rnnbook.cells.RNNCell` whose :math:`W_{hh}` is ``diag(w)`` (the units do not
    interact), and :math:`dy_T/dw` is the diagonal of the ``weight_hh`` gradient that
    ``cell.backward`` returns for the loss :math:`\\sum_i y_{T,i}`. The closed forms are
    :math:`y_T = w^{T-1}` and :math:`dy_T/dw = (T-1) w^{T-2}`.

    Parameters
    ----------
    w : float or 1-D array (n,)
    T : int >= 1

    Returns
    -------
    y_T, dy_dw : ndarrays of the shape of ``w``
    """
    w = np.asarray(w, dtype=float)
    if w.ndim > 1:
        raise ValueError(f"w must be a number or a 1-D array, got shape {w.shape}")
    ws = w.reshape(-1)
    x = tasks.w_chain(T)  # validates T
    cell = RNNCell(1, ws.size, nonlinearity="linear", bias=False)
    cell.params = {"weight_ih": np.ones((ws.size, 1)), "weight_hh": np.diag(ws)}
    with np.errstate(over="ignore", under="ignore"):
        h, _, cache = cell.forward(x)
        d_out = np.zeros_like(h)
        d_out[-1] = 1.0  # L = sum_i y_{T,i}, so dL/dw_i = dy_{T,i}/dw_i
        grads = cell.backward(d_out, cache)
    return h[-1, 0].reshape(w.shape), np.diag(grads["weight_hh"]).reshape(w.shape)


def scaled_orthogonal(H: int, sigma: float, seed: int | None = None) -> np.ndarray:
    """A random orthogonal (H, H) matrix times ``sigma``: every singular value equals sigma.

    Its eigenvalues all have modulus ``sigma`` too, so :math:`\\|W^n v\\| = \\sigma^n \\|v\\|`
    for every vector: the cleanest case of "below, at, above 1". (QR of a Gaussian matrix,
    signs fixed so that the distribution is uniform.)
    """
    if isinstance(H, bool) or not isinstance(H, int | np.integer) or H < 1:
        raise ValueError(f"H must be a positive int, got {H!r}")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(H, H)))
    return sigma * q * np.sign(np.diag(r))


def scale_to_norm(W: ArrayLike, sigma: float) -> np.ndarray:
    """``W`` rescaled so that its largest singular value :math:`\\|W\\|_2` equals ``sigma``."""
    W = np.asarray(W, dtype=float)
    if W.ndim != 2:
        raise ValueError(f"W must be a matrix, got shape {W.shape}")
    norm = np.linalg.norm(W, 2)
    if norm == 0:
        raise ValueError("W is zero: it cannot be rescaled")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    return W * (sigma / norm)


def bistable_unit(
    w: ArrayLike, b: ArrayLike, T: int = 50, x0: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one-unit network of Pascanu, Mikolov and Bengio (2013), with its gradient.

    .. math::  x_t = w\\, \\sigma(x_{t-1}) + b, \\qquad t = 1 .. T, \\quad x_0 = \\text{x0}

    For large ``w`` the map has two attractors; which one :math:`x_T` ends in depends on
    ``(w, b)``, and across the border the loss jumps: a cliff. The derivatives are carried
    forward (forward mode), elementwise over any broadcastable ``w`` and ``b``:
    :math:`\\partial x_t/\\partial w = \\sigma(x_{t-1}) + w \\sigma'(x_{t-1})\\,
    \\partial x_{t-1}/\\partial w` and :math:`\\partial x_t/\\partial b = 1 + w
    \\sigma'(x_{t-1})\\, \\partial x_{t-1}/\\partial b`.

    Returns
    -------
    x_T, dx_T/dw, dx_T/db : ndarrays of the broadcast shape of w and b
    """
    if isinstance(T, bool) or not isinstance(T, int | np.integer) or T < 1:
        raise ValueError(f"T must be a positive int, got {T!r}")
    w, b = np.broadcast_arrays(np.asarray(w, dtype=float), np.asarray(b, dtype=float))
    x = np.full(w.shape, float(x0))
    dw = np.zeros(w.shape)
    db = np.zeros(w.shape)
    for _ in range(T):
        s = 0.5 * (1.0 + np.tanh(0.5 * x))  # sigmoid, without overflow
        ds = s * (1.0 - s)
        dw, db = s + w * ds * dw, 1.0 + w * ds * db
        x = w * s + b
    return x, dw, db


def clip_by_norm(g: ArrayLike, threshold: float) -> tuple[np.ndarray, float]:
    """Gradient clipping by norm (Pascanu et al. 2013; eq. ``eq-02-clip``).

    .. math::  \\hat g = \\begin{cases} \\tau\\, g / \\|g\\| & \\|g\\| > \\tau \\\\
               g & \\text{otherwise} \\end{cases}

    The direction is kept; only the length is capped at :math:`\\tau` = ``threshold``.

    Returns
    -------
    clipped : ndarray, the shape of g
    norm : float, :math:`\\|g\\|` before clipping
    """
    g = np.asarray(g, dtype=float)
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}")
    norm = float(np.linalg.norm(g))
    if norm > threshold:
        return g * (threshold / norm), norm
    return g.copy(), norm


def descend(
    grad: Callable[[np.ndarray], np.ndarray],
    start: Sequence[float],
    lr: float,
    steps: int,
    clip: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Plain gradient descent :math:`p \\leftarrow p - \\eta\\, g(p)`, optionally clipped by norm.

    Parameters
    ----------
    grad : callable p (P,) -> gradient (P,)
    start : the initial parameters, length P
    lr : learning rate :math:`\\eta > 0`
    steps : number of steps
    clip : threshold of :func:`clip_by_norm`, or None

    Returns
    -------
    path : ndarray (steps + 1, P), the parameters before the first step and after each
    norms : ndarray (steps,), the gradient norm at each step (before clipping)
    """
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    p = np.array(start, dtype=float).reshape(-1)
    path, norms = [p.copy()], []
    for _ in range(steps):
        g = np.asarray(grad(p), dtype=float).reshape(p.shape)
        if clip is None:
            norm = float(np.linalg.norm(g))
        else:
            g, norm = clip_by_norm(g, clip)
        norms.append(norm)
        p = p - lr * g
        path.append(p.copy())
    return np.array(path), np.array(norms)


def state_grad_norms(cell: Any, x: ArrayLike, lengths: Sequence[int], seed: int = 0) -> np.ndarray:
    """How much a loss at step T still feels the initial state, for each T in ``lengths``.

    For each T the cell runs over ``x[:T]`` from the zero state; the loss is
    :math:`\\mathcal{L} = v^{\\top} h_T` with a fixed random unit vector :math:`v` (drawn from
    ``seed``), and the result is the norm of :math:`\\partial \\mathcal{L} /
    \\partial\\, \\text{state}_0` from ``cell.backward`` (for an LSTM the state is
    :math:`(h_0, c_0)` and both parts count). Works for every cell of :mod:`rnnbook.cells`.

    Parameters
    ----------
    cell : an rnnbook cell
    x : array (T_max, B, I)
    lengths : increasing ints in 1 .. T_max

    Returns
    -------
    ndarray (len(lengths),)
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (T, B, I), got {x.shape}")
    lengths = [int(n) for n in lengths]
    if not lengths or min(lengths) < 1 or max(lengths) > x.shape[0]:
        raise ValueError(f"lengths must lie in 1 .. {x.shape[0]}, got {lengths}")
    v = np.random.default_rng(seed).normal(size=cell.hidden_size)
    v /= np.linalg.norm(v)
    norms = []
    for T in lengths:
        out, _, cache = cell.forward(x[:T])
        d_out = np.zeros_like(out)
        d_out[-1] = v
        state = cell.backward(d_out, cache)["state"]
        parts = state if isinstance(state, tuple | list) else (state,)
        norms.append(float(np.sqrt(sum(np.sum(np.square(p)) for p in parts))))
    return np.array(norms)
