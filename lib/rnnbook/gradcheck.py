"""Finite-difference gradient checks with a readable report.

A hand-written backward is only as good as its check. :func:`check` perturbs every entry of
every input by :math:`\\pm\\varepsilon` and compares the *central difference*

.. math::  \\frac{\\partial f}{\\partial x_i} \\approx
           \\frac{f(x + \\varepsilon e_i) - f(x - \\varepsilon e_i)}{2 \\varepsilon}

(error :math:`O(\\varepsilon^2)`) with the analytic gradient, in float64. An entry passes when
``|analytic - numeric| <= atol + rtol * |numeric|``, the rule of :func:`numpy.allclose`.

Example
-------
A scalar loss of named inputs, and its gradient written by hand:

>>> import numpy as np
>>> from rnnbook.gradcheck import check
>>> w = np.array([0.5, -1.0, 2.0])
>>> x = np.array([1.0, 2.0, 3.0])
>>> loss = lambda w, x: np.tanh(w @ x)           # f takes the inputs as keyword arguments
>>> g = {"w": (1 - np.tanh(w @ x) ** 2) * x}     # dL/dw, the gradient we want to check
>>> report = check(loss, {"w": w, "x": x}, analytic=g, wrt=["w"])
>>> report.ok
True
>>> print(report)  # doctest: +SKIP
gradient check passed (eps=1e-06, rtol=1e-05, atol=1e-07)
input  shape  max abs err  max rel err  worst index  analytic     numeric      ok
w      (3,)   4.46e-11     4.52e-08     (1,)         0.000987035  0.000987035  yes

The analytic gradient can also be a function of the same inputs, returning a dict
(``analytic=lambda w, x: {"w": ...}``), or left out, when ``f`` itself returns
``(value, grads)``. To check a function of a dict of parameters, unpack it:
``check(lambda **p: loss(p), params, analytic=grads)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["check", "numerical_gradient", "GradCheckReport", "InputReport"]

Grads = Mapping[str, ArrayLike]


@dataclass
class InputReport:
    """How the analytic gradient of one input compares with the numerical one.

    ``worst_index`` is the entry that is furthest outside the tolerance (or, when all pass, the
    closest to it); ``analytic`` and ``numeric`` are the two gradients at that entry.
    ``max_rel_error`` is the largest :math:`|a - n| / \\max(|a|, |n|)` over the entries where
    either is above ``atol`` (0 where both are tiny).
    """

    name: str
    shape: tuple[int, ...]
    ok: bool
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float
    checked: int


@dataclass
class GradCheckReport:
    """The result of :func:`check`: ``ok`` and one :class:`InputReport` per input checked."""

    ok: bool
    inputs: dict[str, InputReport]
    eps: float
    rtol: float
    atol: float
    numeric: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def _rows(self) -> list[list[str]]:
        head = ["input", "shape", "max abs err", "max rel err", "worst index"]
        head += ["analytic", "numeric", "ok"]
        rows = [head]
        for r in self.inputs.values():
            rows.append(
                [
                    r.name,
                    str(r.shape),
                    f"{r.max_abs_error:.2e}",
                    f"{r.max_rel_error:.2e}",
                    str(r.worst_index),
                    f"{r.analytic:.6g}",
                    f"{r.numeric:.6g}",
                    "yes" if r.ok else "NO",
                ]
            )
        return rows

    def _headline(self) -> str:
        verdict = "passed" if self.ok else "FAILED"
        return (
            f"gradient check {verdict} (eps={self.eps:g}, rtol={self.rtol:g}, atol={self.atol:g})"
        )

    def __str__(self) -> str:
        rows = self._rows()
        widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
        return "\n".join([self._headline(), *lines])

    def _repr_markdown_(self) -> str:
        rows = self._rows()
        table = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        table += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        return f"**{self._headline()}**\n\n" + "\n".join(table)

    def assert_ok(self) -> None:
        """Raise ``AssertionError`` with the table if the check failed (for tests and notebooks)."""
        if not self.ok:
            raise AssertionError(str(self))


def _as_float64(name: str, a: ArrayLike) -> np.ndarray:
    a = np.asarray(a)
    if np.iscomplexobj(a) or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise TypeError(f"input {name!r} must be a real numeric array, got dtype {a.dtype}")
    return np.array(a, dtype=np.float64)  # a copy: we perturb it in place


def _scalar(value: object) -> float:
    """``f``'s value as a float; anything but one real number is refused."""
    try:
        v = np.asarray(value.detach() if hasattr(value, "detach") else value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"f must return a scalar loss, got {type(value).__name__}") from None
    if v.size != 1:
        raise TypeError(
            f"f must return a scalar loss, got an array of shape {v.shape}; reduce it, e.g. "
            "(output * upstream_gradient).sum()"
        )
    return float(v.reshape(()))


def _names(x: Mapping[str, np.ndarray], wrt: Iterable[str] | None) -> list[str]:
    names = list(x) if wrt is None else list(wrt)
    unknown = [n for n in names if n not in x]
    if unknown:
        raise ValueError(f"wrt names {unknown} are not among the inputs {list(x)}")
    return names


def numerical_gradient(
    f: Callable[..., float],
    inputs: Mapping[str, ArrayLike],
    eps: float = 1e-6,
    wrt: Iterable[str] | None = None,
    max_entries: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Central-difference gradient of the scalar ``f(**inputs)`` with respect to each input.

    Parameters
    ----------
    f : function of the inputs as keyword arguments, returning one number
    inputs : name -> array; converted to float64 copies (the originals are not touched)
    eps : the step :math:`\\varepsilon`
    wrt : the names to differentiate (default: all)
    max_entries : if given, differentiate only this many entries of each input, chosen at random
        (seeded); the others are NaN. Keeps checks of big parameter matrices fast.
    seed : seed for the choice of entries

    Returns
    -------
    dict name -> array of the input's shape (float64)
    """
    x = {name: _as_float64(name, a) for name, a in inputs.items()}
    names = _names(x, wrt)
    rng = np.random.default_rng(seed)
    grads = {}
    for name in names:
        a = x[name]
        flat = a.reshape(-1)  # a view: perturbing it perturbs a
        idx = np.arange(flat.size)
        if max_entries is not None and flat.size > max_entries:
            idx = np.sort(rng.choice(flat.size, size=max_entries, replace=False))
        g = np.full(flat.size, np.nan)
        for i in idx:
            old = flat[i]
            flat[i] = old + eps
            plus = _scalar(f(**x))
            flat[i] = old - eps
            minus = _scalar(f(**x))
            flat[i] = old
            g[i] = (plus - minus) / (2 * eps)
        if not np.isfinite(g[idx]).all():
            raise ValueError(f"f returned NaN or inf near input {name!r}; try a smaller eps")
        grads[name] = g.reshape(a.shape)
    return grads


def _compare(name: str, analytic: np.ndarray, numeric: np.ndarray, rtol: float, atol: float):
    checked = np.isfinite(numeric)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _compare_entries(name, analytic, numeric, checked, rtol, atol)


def _compare_entries(name, analytic, numeric, checked, rtol, atol) -> InputReport:
    diff = np.where(checked, np.abs(analytic - numeric), 0.0)
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    rel = np.where(checked & (scale > atol), diff / np.where(scale > 0, scale, 1.0), 0.0)
    excess = np.where(checked, diff / (atol + rtol * np.abs(numeric)), -1.0)
    worst = np.unravel_index(int(np.argmax(excess)), analytic.shape)
    return InputReport(
        name=name,
        shape=analytic.shape,
        ok=bool(np.isfinite(analytic[checked]).all() and (excess <= 1.0).all()),
        max_abs_error=float(diff.max(initial=0.0)),
        max_rel_error=float(rel.max(initial=0.0)),
        worst_index=tuple(int(i) for i in worst),
        analytic=float(analytic[worst]),
        numeric=float(numeric[worst]),
        checked=int(checked.sum()),
    )


def check(
    f: Callable[..., object],
    inputs: Mapping[str, ArrayLike],
    analytic: Grads | Callable[..., Grads] | None = None,
    *,
    wrt: Iterable[str] | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    max_entries: int | None = None,
    seed: int = 0,
) -> GradCheckReport:
    """Compare an analytic gradient with central differences of ``f``, in float64.

    Parameters
    ----------
    f : function called as ``f(**inputs)``, returning a scalar (a float, a size-1 array or a
        0-d tensor), or ``(scalar, grads)`` when ``analytic`` is None
    inputs : name -> array, the point at which to check
    analytic : the gradient to check, one of

        * a dict name -> array of the input's shape (extra names are ignored, so a cell's whole
          ``backward`` dict can be passed),
        * a function called as ``analytic(**inputs)`` returning such a dict,
        * None: ``f`` returns ``(value, grads)`` itself.
    wrt : names of the inputs to check (default: every input)
    eps : finite-difference step
    rtol, atol : an entry passes if ``|analytic - numeric| <= atol + rtol * |numeric|``
    max_entries : check at most this many randomly chosen entries per input (default: all)
    seed : seed for that choice

    Returns
    -------
    GradCheckReport : ``.ok``, per-input :class:`InputReport`, ``str()`` is a small table and
    ``.assert_ok()`` raises ``AssertionError`` with it when the check fails.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> check(lambda w: (w**2).sum(), {"w": w}, analytic={"w": 2 * w}).ok
    True
    >>> check(lambda w: (w**2).sum(), {"w": w}, analytic={"w": w}).ok  # a wrong gradient
    False
    >>> check(lambda w: ((w**3).sum(), {"w": 3 * w**2}), {"w": w}).ok  # f returns both
    True
    """
    x = {name: _as_float64(name, a) for name, a in inputs.items()}
    names = _names(x, wrt)
    if analytic is None:
        out = f(**x)
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], Mapping)):
            raise TypeError(
                "without `analytic`, f must return (value, grads) with grads a dict name -> array"
            )
        grads, value_only = out[1], lambda **kw: f(**kw)[0]
    else:
        grads = analytic(**x) if callable(analytic) else analytic
        value_only = f
    if not isinstance(grads, Mapping):
        raise TypeError(f"the analytic gradient must be a dict name -> array, got {type(grads)}")
    missing = [n for n in names if n not in grads]
    if missing:
        raise ValueError(f"the analytic gradient has no entry for {missing}; it has {list(grads)}")
    a = {}
    for n in names:
        a[n] = np.asarray(grads[n], dtype=np.float64)
        if a[n].shape != x[n].shape:
            raise ValueError(
                f"the analytic gradient of {n!r} must have the input's shape {x[n].shape}, "
                f"got {a[n].shape}"
            )
    numeric = numerical_gradient(value_only, x, eps, names, max_entries, seed)
    reports = {n: _compare(n, a[n], numeric[n], rtol, atol) for n in names}
    ok = all(r.ok for r in reports.values())
    return GradCheckReport(ok, reports, eps, rtol, atol, numeric)
