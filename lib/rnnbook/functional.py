r"""Elementwise nonlinearities, softmax and their derivatives, written to be numerically stable.

Conventions
-----------
* Every function takes a NumPy array (or anything :func:`numpy.asarray` accepts) and returns a
  new floating-point array of the same shape. Integer and boolean inputs are converted to
  float64; float16, float32 and float64 stay as they are. Complex, text and object arrays raise
  ``TypeError``; a ragged nested list raises ``ValueError``.
* The elementwise functions let NaN through, as NumPy and PyTorch do (the cells call them at
  every time step, so they do not scan their input). ``softmax`` and ``log_softmax`` refuse a
  row they cannot normalise: one that holds NaN or +inf, or only -inf (``ValueError``); an
  empty axis, or an axis the array does not have, raises ``ValueError`` too.
* The derivatives of the nonlinearities are written *in terms of the output*, because that is
  what backpropagation through time keeps in its cache: if ``y = sigmoid(x)`` then
  ``dsigmoid(y) = y (1 - y)`` is :math:`\sigma'(x)`. The chapter derives these identities.
* Nothing here overflows: ``sigmoid`` never evaluates ``exp`` of a positive number, and
  ``softmax`` / ``log_softmax`` subtract the row maximum first. Inputs of magnitude 1e4 give
  finite results and no warnings.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

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


def _float(x: ArrayLike, name: str = "x") -> np.ndarray:
    """``x`` as a real floating array (ints and bools become float64); anything else is refused."""
    if type(x) is np.ndarray and x.dtype.kind == "f":  # the common case, checked cheaply
        return x
    a = _asarray(name, x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real array (float, int or bool), got dtype {a.dtype}")
    if a.dtype.kind != "f":
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
    y = _float(y, "y")
    return y * (1.0 - y)


def tanh(x: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent (NumPy's is already stable: it saturates to +-1 without warnings)."""
    return np.tanh(_float(x))


def dtanh(y: ArrayLike) -> np.ndarray:
    """Derivative of tanh given its *output* ``y = tanh(x)``: :math:`1 - y^2`."""
    y = _float(y, "y")
    return 1.0 - y * y


def relu(x: ArrayLike) -> np.ndarray:
    r"""Rectified linear unit :math:`\max(x, 0)`."""
    x = _float(x)
    return np.maximum(x, 0.0).astype(x.dtype, copy=False)


def drelu(y: ArrayLike) -> np.ndarray:
    """Derivative of ReLU given its *output* ``y = relu(x)``: 1 where ``y > 0``, else 0.

    At ``x = 0`` we use 0, as PyTorch does.
    """
    y = _float(y, "y")
    return (y > 0).astype(y.dtype)


def _axis(x: np.ndarray, axis: int, name: str = "x") -> int:
    """``axis`` checked against ``x``: an int naming an axis of ``x`` that holds entries."""
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise TypeError(f"axis must be an int, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} does not exist: {name} has shape {x.shape}")
    if x.shape[axis] == 0:
        raise ValueError(
            f"{name} of shape {x.shape} has no entries along axis {axis}: a distribution "
            "over nothing is undefined"
        )
    return int(axis)


def _row_max(x: np.ndarray, axis: int) -> np.ndarray:
    """The maximum of each row along ``axis`` (keepdims); refuse rows that cannot be
    normalised (a NaN or +inf, or nothing but -inf), which would give NaN."""
    top = np.max(x, axis=axis, keepdims=True)
    bad = ~np.isfinite(top)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(np.squeeze(bad, axis))[0])
        row = f"the row at index {where}" if where else "its only row"
        raise ValueError(
            f"x has NaN or +inf, or only -inf, in {row} along axis {axis}: such a row has "
            "no softmax (use mask= to leave entries out)"
        )
    return top


def _check_mask(x: np.ndarray, mask: ArrayLike | None, axis: int) -> np.ndarray | None:
    """Broadcast a boolean mask (True = keep) to ``x``; refuse rows with nothing kept."""
    if mask is None:
        return None
    m = _asarray("mask", mask)
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
    x : array of any shape with at least one entry along ``axis``; -inf entries get weight 0,
        a row with NaN or +inf (or only -inf) raises ``ValueError``
    axis : the axis that sums to one
    mask : optional boolean array broadcastable to ``x``; True keeps an entry, False gives it
        probability exactly 0 (as if its score were :math:`-\infty`). A row with every entry
        masked raises ``ValueError`` naming the row.

    Returns
    -------
    array of the same shape; entries along ``axis`` are >= 0 and sum to 1
    """
    x = _float(x)
    axis = _axis(x, axis)
    m = _check_mask(x, mask, axis)
    if m is not None:
        x = np.where(m, x, -np.inf)
    with np.errstate(over="ignore"):  # x_j - m below the dtype's range is -inf: weight 0
        shifted = x - _row_max(x, axis)  # <= 0, the max entry is exactly 0
    e = np.exp(shifted)  # exp(-inf) = 0 for masked entries, no warning
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_backward(dy: ArrayLike, y: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Vector-Jacobian product of softmax given its output ``y`` and the upstream gradient ``dy``.

    The Jacobian is :math:`\partial y_j / \partial x_k = y_j (\delta_{jk} - y_k)`, so
    :math:`dx = y \odot (dy - \langle dy, y \rangle)`. Masked entries have ``y = 0`` and get
    ``dx = 0``.

    Parameters
    ----------
    dy, y : arrays of the same shape, finite
    axis : the axis of the softmax

    Returns
    -------
    dx : array of the same shape
    """
    dy, y = _float(dy, "dy"), _float(y, "y")
    if dy.shape != y.shape:
        raise ValueError(f"dy must have the shape of y {y.shape}, got {dy.shape}")
    axis = _axis(y, axis, "y")
    for name, a in (("dy", dy), ("y", y)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or inf")
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Logarithm of the softmax, computed stably: :math:`x - m - \log \sum_k e^{x_k - m}`.

    Unlike ``np.log(softmax(x))`` this never returns ``-inf`` for very negative scores (only
    for entries that are -inf themselves, or whose value is beyond the dtype's range, such as
    -1e5 in float16). Rows are refused as by :func:`softmax`.
    """
    x = _float(x)
    axis = _axis(x, axis)
    with np.errstate(over="ignore"):  # beyond the dtype's range: -inf, as PyTorch rounds it
        shifted = x - _row_max(x, axis)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


# ----------------------------------------------------------------------------------------------
# Argument checks shared by rnnbook.cells and rnnbook.attention
# ----------------------------------------------------------------------------------------------


def _asarray(name: str, a: ArrayLike) -> np.ndarray:
    """``np.asarray(a)``, with a message naming the argument when that fails (a ragged list)."""
    try:
        return np.asarray(a)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} is not an array of one shape: {error}") from None


def _positive_int(name: str, n: object) -> int:
    """``n`` as an int >= 1: ``TypeError`` for anything but an int (a bool too), else
    ``ValueError`` below 1. The one size check of the cells and the scores."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"{name} must be a positive int, got {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be a positive int, got {n}")
    return int(n)


def _checked(
    name: str,
    a: ArrayLike,
    shape: tuple[int | None, ...] | None = None,
    dims: tuple[str, ...] | None = None,
    dtype: DTypeLike | None = None,
    why: str = "",
) -> np.ndarray:
    """The one array check of the cells and the attention scores: ``a`` as a NumPy array.

    In this order: ``a`` must be a real floating-point array (boolean if ``dtype`` is
    ``np.bool_``), else ``TypeError``; of ``shape`` if given (``None`` = any size; an empty axis
    is refused either way), else ``ValueError`` naming the axes ``dims``, e.g. ``x must have
    shape (T, B, input_size=3), got (5, 4)``, followed by ``why``; cast to ``dtype`` (None keeps
    the dtype); and finite, also after the cast (1e300 does not fit in float32), else
    ``ValueError``. Called once per argument per call, never inside a time loop.
    """
    arr = _asarray(name, a)
    if dtype is not None and np.dtype(dtype) == np.bool_:
        if arr.dtype != np.bool_:
            raise TypeError(f"{name} must be a boolean array, got dtype {arr.dtype}")
    elif arr.dtype.kind != "f":
        fix = "" if arr.dtype == object else "; convert it with .astype(np.float64)"
        got = f"dtype {arr.dtype}"
        if arr.dtype == object:  # None, or a list of things that are not numbers
            got = type(arr.item() if arr.ndim == 0 else a).__name__
        raise TypeError(
            f"{name} must be a real floating-point array (float32 or float64), got {got}{fix}"
        )
    if shape is not None:
        dims = dims or ("",) * len(shape)
        fits = arr.ndim == len(shape) and all(
            s in (None, n) for s, n in zip(shape, arr.shape, strict=True)
        )
        if not fits or 0 in arr.shape:
            pairs = zip(dims, shape, strict=True)
            named = [d if s is None else f"{d}={s}" if d else str(s) for d, s in pairs]
            expected = f"({', '.join(named)}{',' * (len(shape) == 1)})"
            raise ValueError(f"{name} must have shape {expected}, got {arr.shape}{why}")
    elif 0 in arr.shape:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr
    with np.errstate(over="ignore"):
        out = arr if dtype is None else arr.astype(dtype, copy=False)
    if not np.isfinite(out).all():
        if np.isfinite(arr).all():
            raise ValueError(
                f"{name} has values too large for {out.dtype} (largest magnitude "
                f"{np.abs(arr).max():.3g})"
            )
        raise ValueError(f"{name} contains NaN or inf")
    return out
