r"""Elementwise nonlinearities, softmax and their derivatives, written to be numerically stable.

Conventions
-----------
* Every function takes a NumPy array (or anything :func:`numpy.asarray` accepts) and returns a
  new floating-point array of the same shape. Integer and boolean inputs are converted to
  float64; float32 stays float32.
* The derivatives of the nonlinearities are written *in terms of the output*, because that is
  what backpropagation through time keeps in its cache: if ``y = sigmoid(x)`` then
  ``dsigmoid(y) = y (1 - y)`` is :math:`\sigma'(x)`. The chapter derives these identities.
* Nothing here overflows: ``sigmoid`` never evaluates ``exp`` of a positive number, and
  ``softmax`` / ``log_softmax`` subtract the row maximum first. Inputs of magnitude 1e4 give
  finite results and no warnings.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "sigmoid",
    "dsigmoid",
    "tanh",
    "dtanh",
    "relu",
    "drelu",
    "softmax",
    "softmax_backward",
    "log_softmax",
]


def _float(x: ArrayLike) -> np.ndarray:
    """``x`` as a real floating array (ints and bools become float64); complex is refused."""
    if type(x) is np.ndarray and x.dtype.kind == "f":  # the common case, checked cheaply
        return x
    a = np.asarray(x)
    if np.iscomplexobj(a):
        raise TypeError(f"expected a real array, got dtype {a.dtype}")
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    return a


def sigmoid(x: ArrayLike) -> np.ndarray:
    r"""Logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`, without overflow.

    With :math:`e = e^{-|x|} \in (0, 1]` (never overflows):
    :math:`\sigma(x) = 1/(1+e)` for :math:`x \ge 0` and :math:`e/(1+e)` for :math:`x < 0`.

    Parameters
    ----------
    x : array of any shape

    Returns
    -------
    array of the same shape, values in [0, 1]
    """
    x = _float(x)
    e = np.exp(-np.abs(x))
    r = 1.0 / (1.0 + e)
    return np.where(x >= 0, r, e * r)


def dsigmoid(y: ArrayLike) -> np.ndarray:
    """Derivative of the sigmoid given its *output* ``y = sigmoid(x)``: :math:`y (1 - y)`."""
    y = _float(y)
    return y * (1.0 - y)


def tanh(x: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent (NumPy's is already stable: it saturates to +-1 without warnings)."""
    return np.tanh(_float(x))


def dtanh(y: ArrayLike) -> np.ndarray:
    """Derivative of tanh given its *output* ``y = tanh(x)``: :math:`1 - y^2`."""
    y = _float(y)
    return 1.0 - y * y


def relu(x: ArrayLike) -> np.ndarray:
    r"""Rectified linear unit :math:`\max(x, 0)`."""
    x = _float(x)
    return np.maximum(x, 0.0).astype(x.dtype, copy=False)


def drelu(y: ArrayLike) -> np.ndarray:
    """Derivative of ReLU given its *output* ``y = relu(x)``: 1 where ``y > 0``, else 0.

    At ``x = 0`` we use 0, as PyTorch does.
    """
    y = _float(y)
    return (y > 0).astype(y.dtype)


def _check_mask(x: np.ndarray, mask: ArrayLike | None, axis: int) -> np.ndarray | None:
    """Broadcast a boolean mask (True = keep) to ``x``; refuse rows with nothing kept."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"mask must be a boolean array (True = keep), got dtype {m.dtype}")
    try:
        m = np.broadcast_to(m, x.shape)
    except ValueError:
        raise ValueError(
            f"mask of shape {m.shape} does not broadcast to the input shape {x.shape}"
        ) from None
    empty = ~m.any(axis=axis)
    if empty.any():
        where = np.argwhere(empty)[0]
        raise ValueError(
            f"softmax mask hides every entry of the row at index {tuple(int(i) for i in where)} "
            f"along axis {axis}: a fully masked row has no distribution; keep at least one entry"
        )
    return m


def softmax(x: ArrayLike, axis: int = -1, mask: ArrayLike | None = None) -> np.ndarray:
    r"""Softmax along ``axis``: :math:`y_j = e^{x_j - m} / \sum_k e^{x_k - m}`, ``m = max_k x_k``.

    Parameters
    ----------
    x : array of any shape
    axis : the axis that sums to one
    mask : optional boolean array broadcastable to ``x``; True keeps an entry, False gives it
        probability exactly 0 (as if its score were :math:`-\infty`). A row with every entry
        masked raises ``ValueError`` naming the row.

    Returns
    -------
    array of the same shape; entries along ``axis`` are >= 0 and sum to 1
    """
    x = _float(x)
    m = _check_mask(x, mask, axis)
    if m is not None:
        x = np.where(m, x, -np.inf)
    shifted = x - np.max(x, axis=axis, keepdims=True)  # <= 0, the max entry is exactly 0
    e = np.exp(shifted)  # exp(-inf) = 0 for masked entries, no warning
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_backward(dy: ArrayLike, y: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Vector-Jacobian product of softmax given its output ``y`` and the upstream gradient ``dy``.

    The Jacobian is :math:`\partial y_j / \partial x_k = y_j (\delta_{jk} - y_k)`, so
    :math:`dx = y \odot (dy - \langle dy, y \rangle)`. Masked entries have ``y = 0`` and get
    ``dx = 0``.

    Parameters
    ----------
    dy, y : arrays of the same shape

    Returns
    -------
    dx : array of the same shape
    """
    dy, y = _float(dy), _float(y)
    if dy.shape != y.shape:
        raise ValueError(f"dy must have the shape of y {y.shape}, got {dy.shape}")
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Logarithm of the softmax, computed stably: :math:`x - m - \log \sum_k e^{x_k - m}`.

    Unlike ``np.log(softmax(x))`` this never returns ``-inf`` for very negative scores.
    """
    x = _float(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
