r"""minGRU and minLSTM (Feng et al. 2024): gated recurrences whose gates see only the input.

Chapter 9. Take the GRU and the LSTM, let every gate and the candidate depend on
:math:`x_t` alone (not on :math:`h_{t-1}`), drop the output squashing, and the update becomes
the linear recurrence :math:`h_t = a_t \odot h_{t-1} + b_t` of :mod:`rnnbook.scan`, which is
computed in parallel over time. In Feng et al.'s notation (their :math:`z_t = 1`
*replaces* the state, the opposite of the book's GRU convention; see the notation page):

.. math::

    \text{minGRU:}\quad z_t = \sigma(W_z x_t + b_z), \quad \tilde h_t = g(W_h x_t + b_h),
    \quad h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t

    \text{minLSTM:}\quad f_t = \sigma(W_f x_t + b_f), \quad i_t = \sigma(W_i x_t + b_i), \quad
    f'_t = \frac{f_t}{f_t + i_t}, \quad i'_t = \frac{i_t}{f_t + i_t}, \quad
    h_t = f'_t \odot h_{t-1} + i'_t \odot \tilde h_t

with :math:`g(x) = x + 1/2` for :math:`x \ge 0` and :math:`\sigma(x)` below (positive, so the
recurrence can run in log space; ``candidate="linear"`` uses :math:`g(x) = x`, the form of
their section 3). As a linear recurrence: minGRU has :math:`a_t = 1 - z_t`,
:math:`b_t = z_t \tilde h_t`; minLSTM :math:`a_t = f'_t`, :math:`b_t = i'_t \tilde h_t`.
``signed=True`` (minGRU only) stretches the transition to :math:`a_t = 1 - 2 z_t \in (-1, 1)`,
the change Grazzi et al. (2025) make to Mamba's gates: see chapter 9 on parity.

NumPy
    :func:`min_gru_step` / :func:`min_gru_step_backward` and :func:`min_lstm_step` /
    :func:`min_lstm_step_backward`: one step and its backward, side by side.
    :class:`MinGRUCell` and :class:`MinLSTMCell` run a sequence either by a loop over those
    steps (``method="loop"``) or with every gate at once and the recurrence as a scan
    (``method="scan"``), forward and backward: the backward of a linear recurrence is the
    same recurrence run backwards, :math:`\bar h_t = \bar y_t + a_{t+1} \bar h_{t+1}`, so it
    is a scan too. The same API as :mod:`rnnbook.cells`: ``forward(x, state)`` returns
    ``(outputs (T, B, H), h_T, cache)`` and ``backward(d_outputs, cache, d_state)`` a dict
    with ``"x"``, ``"state"`` and every parameter. Parameters: ``weight_ih`` (G*H, I) and
    ``bias_ih`` (G*H,), blocks ``z, h`` (minGRU, G = 2) or ``f, i, h`` (minLSTM, G = 3);
    there is no ``weight_hh``.
torch
    The layers and models with the same parameters are in :mod:`rnnbook.minmodels`;
    :meth:`MinGRUCell.torch_layer` builds one with a cell's weights.
Parity by hand
    :func:`parity_by_sign` (one signed unit, any length) and :func:`parity_by_depth` (two
    layers with positive transitions, up to a number of ones): chapter 9's constructions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rnnbook import repro, scan
from rnnbook.functional import dsigmoid, sigmoid

__all__ = [
    "g",
    "dg",
    "min_gru_step",
    "min_gru_step_backward",
    "min_lstm_step",
    "min_lstm_step_backward",
    "MinGRUCell",
    "MinLSTMCell",
    "parity_by_sign",
    "parity_by_depth",
    "CANDIDATES",
]

CANDIDATES = ("g", "linear")


# --------------------------------------------------------------------------- the candidate


def g(k: np.ndarray) -> np.ndarray:
    r"""Feng et al.'s positive candidate: :math:`g(k) = k + 1/2` for :math:`k \ge 0`, else
    :math:`\sigma(k)`. Continuous at 0 (both give 1/2), always > 0."""
    return np.where(k >= 0, k + 0.5, sigmoid(k))


def dg(k: np.ndarray) -> np.ndarray:
    r""":math:`g'(k)`: 1 for :math:`k \ge 0`, :math:`\sigma(k)(1 - \sigma(k))` below."""
    return np.where(k >= 0, 1.0, dsigmoid(sigmoid(k)))


def _candidate(k: np.ndarray, candidate: str) -> np.ndarray:
    return g(k) if candidate == "g" else k


def _dcandidate(k: np.ndarray, candidate: str) -> np.ndarray:
    return dg(k) if candidate == "g" else np.ones_like(k)


# --------------------------------------------------------------------------- minGRU: one step


def min_gru_step(x_t, h_prev, W, b, candidate="g", signed=False):
    r"""One minGRU step. x_t (B, I), h_prev (B, H), W (2H, I), b (2H,) -> (h (B, H), cache).

    .. math::

        z_t = \sigma(W_z x_t + b_z), \quad \tilde h_t = g(W_h x_t + b_h), \quad
        h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t

    (``signed``: :math:`h_t = (1 - 2 z_t) \odot h_{t-1} + z_t \odot \tilde h_t`).
    Nothing before the last line reads :math:`h_{t-1}`.
    """
    k = x_t @ W.T + b  # both blocks in one matmul, (B, 2H)
    k_z, k_h = np.split(k, 2, axis=-1)
    z = sigmoid(k_z)  # update gate, from x_t alone
    h_tilde = _candidate(k_h, candidate)  # candidate, from x_t alone
    a = 1.0 - 2.0 * z if signed else 1.0 - z  # the transition a_t
    h = a * h_prev + z * h_tilde  # h_t = a_t h_{t-1} + b_t, b_t = z_t h~_t
    return h, (x_t, h_prev, z, k_h, h_tilde, W, candidate, signed)


def min_gru_step_backward(dh, cache):
    r"""Backward of :func:`min_gru_step`: dh = dL/dh_t (B, H) -> (dx, dh_prev, dW, db).

    From :math:`h = a h_{t-1} + z \tilde h` with :math:`a = 1 - z` (or :math:`1 - 2z`):
    :math:`\bar z = \bar h (\tilde h - h_{t-1})` (or :math:`\bar h(\tilde h - 2 h_{t-1})`),
    :math:`\bar{\tilde h} = \bar h z`, :math:`\bar h_{t-1} = \bar h a`; then through the
    sigmoid and :math:`g` to the pre-activations, and through the matmul.
    """
    x_t, h_prev, z, k_h, h_tilde, W, candidate, signed = cache
    a = 1.0 - 2.0 * z if signed else 1.0 - z
    dz = dh * (h_tilde - (2.0 if signed else 1.0) * h_prev)
    dh_tilde = dh * z
    dh_prev = dh * a
    dk = np.concatenate([dz * dsigmoid(z), dh_tilde * _dcandidate(k_h, candidate)], axis=-1)
    return dk @ W, dh_prev, dk.T @ x_t, dk.sum(axis=0)


# --------------------------------------------------------------------------- minLSTM: one step


def min_lstm_step(x_t, h_prev, W, b, candidate="g"):
    r"""One minLSTM step. x_t (B, I), h_prev (B, H), W (3H, I), b (3H,) -> (h (B, H), cache).

    .. math::

        f_t = \sigma(W_f x_t + b_f), \quad i_t = \sigma(W_i x_t + b_i), \quad
        f'_t, i'_t = \frac{f_t}{f_t + i_t}, \frac{i_t}{f_t + i_t}, \quad
        h_t = f'_t \odot h_{t-1} + i'_t \odot g(W_h x_t + b_h)
    """
    k = x_t @ W.T + b  # the three blocks in one matmul, (B, 3H)
    k_f, k_i, k_h = np.split(k, 3, axis=-1)
    f, i = sigmoid(k_f), sigmoid(k_i)  # forget and input gates, from x_t alone
    s = f + i
    f_n, i_n = f / s, i / s  # normalised: f' + i' = 1
    h_tilde = _candidate(k_h, candidate)
    h = f_n * h_prev + i_n * h_tilde  # a_t = f'_t, b_t = i'_t h~_t
    return h, (x_t, h_prev, f, i, k_h, h_tilde, W, candidate)


def min_lstm_step_backward(dh, cache):
    r"""Backward of :func:`min_lstm_step`: dh = dL/dh_t (B, H) -> (dx, dh_prev, dW, db).

    :math:`\bar f' = \bar h h_{t-1}`, :math:`\bar i' = \bar h \tilde h`,
    :math:`\bar{\tilde h} = \bar h i'`, :math:`\bar h_{t-1} = \bar h f'`; through the
    normalisation (:math:`s = f + i`): :math:`\bar f = (\bar f' - \bar i')\, i / s^2`,
    :math:`\bar i = (\bar i' - \bar f')\, f / s^2`; then the sigmoids and the matmul.
    """
    x_t, h_prev, f, i, k_h, h_tilde, W, candidate = cache
    s = f + i
    df_n, di_n = dh * h_prev, dh * h_tilde
    dh_tilde = dh * (i / s)
    dh_prev = dh * (f / s)
    df = (df_n - di_n) * i / s**2
    di = (di_n - df_n) * f / s**2
    dk = np.concatenate(
        [df * dsigmoid(f), di * dsigmoid(i), dh_tilde * _dcandidate(k_h, candidate)], axis=-1
    )
    return dk @ W, dh_prev, dk.T @ x_t, dk.sum(axis=0)


# --------------------------------------------------------------------------- the NumPy cells


def _array(name: str, a: ArrayLike, ndim: int, last: int | None, dtype: np.dtype) -> np.ndarray:
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} must be a real floating-point array, got dtype {a.dtype}")
    dims = {3: "(T, B, {})", 2: "(B, {})"}[ndim].format(last)
    if a.ndim != ndim or 0 in a.shape or (last is not None and a.shape[-1] != last):
        raise ValueError(f"{name} must have shape {dims}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a.astype(dtype, copy=False)


class _MinCell:
    """What the two NumPy cells share: parameters, checks, the loop and the scan."""

    blocks: str  # the gate blocks stacked in weight_ih, e.g. "zh"
    signed = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        candidate: str = "g",
        seed: int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        for name, n in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
                raise ValueError(f"{name} must be a positive int, got {n!r}")
        if candidate not in CANDIDATES:
            raise ValueError(f"candidate must be one of {CANDIDATES}, got {candidate!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.candidate = candidate
        G, H, k = len(self.blocks), self.hidden_size, 1.0 / math.sqrt(self.hidden_size)
        rng = np.random.default_rng(seed)
        self.params = {
            "weight_ih": rng.uniform(-k, k, (G * H, self.input_size)).astype(self.dtype),
            "bias_ih": rng.uniform(-k, k, (G * H,)).astype(self.dtype),
        }
        repro.perturb_arrays(self.params.values(), seed)  # only under RNNBOOK_PERTURB

    def __repr__(self) -> str:
        signed = ", signed=True" if self.signed else ""
        return (
            f"{type(self).__name__}({self.input_size}, {self.hidden_size}, "
            f"candidate={self.candidate!r}{signed})"
        )

    def num_parameters(self) -> int:
        """Total number of scalar parameters: G*H*(I + 1)."""
        return sum(p.size for p in self.params.values())

    def _inputs(self, x: ArrayLike, state: ArrayLike | None, method: str):
        if method not in ("scan", "loop"):
            raise ValueError(f"method must be 'scan' or 'loop', got {method!r}")
        x = _array("x", x, 3, self.input_size, self.dtype)
        if state is None:
            return x, np.zeros((x.shape[1], self.hidden_size), self.dtype)
        h0 = _array("state", state, 2, self.hidden_size, self.dtype)
        if h0.shape[0] != x.shape[1]:
            raise ValueError(f"state must have shape (B={x.shape[1]}, H), got {h0.shape}")
        return x, h0

    # -- the two ways to run a sequence ----------------------------------------------------
    def forward(self, x: ArrayLike, state: ArrayLike | None = None, method: str = "scan"):
        """x (T, B, I), state h_0 (B, H) or None -> (outputs (T, B, H), h_T, cache).

        ``method="loop"`` calls the step function T times; ``"scan"`` computes every gate at
        once (one matmul for all steps) and the recurrence with :func:`rnnbook.scan.blelloch`.
        """
        x, h0 = self._inputs(x, state, method)
        W, b = self.params["weight_ih"], self.params["bias_ih"]
        if method == "loop":
            h, hs, steps = h0, [], []
            for x_t in x:
                h, step_cache = self._step(x_t, h, W, b)
                hs.append(h)
                steps.append(step_cache)
            hs = np.stack(hs)
            return hs, hs[-1], {"method": "loop", "x": x, "h0": h0, "steps": steps}
        k = x @ W.T + b  # every gate of every step: (T, B, G*H)
        a, bb, parts = self._coefficients(k)
        hs = scan.blelloch(a, bb, h0)
        return hs, hs[-1], {"method": "scan", "x": x, "h0": h0, "k": k, "a": a, **parts, "h": hs}

    def backward(self, d_outputs: ArrayLike, cache: dict, d_state: ArrayLike | None = None):
        """d_outputs (T, B, H) = dL/dh_t from above, d_state (B, H) = dL/dh_T (extra) ->
        {"x" (T, B, I), "state" (B, H), "weight_ih", "bias_ih"}."""
        if not isinstance(cache, dict) or cache.get("method") not in ("loop", "scan"):
            raise TypeError("cache must be the third value returned by forward")
        T, B, _ = cache["x"].shape
        d_out = _array("d_outputs", d_outputs, 3, self.hidden_size, self.dtype)
        if d_out.shape[:2] != (T, B):
            raise ValueError(f"d_outputs must have shape (T={T}, B={B}, H), got {d_out.shape}")
        d_out = d_out.copy()
        if d_state is not None:
            d_out[-1] += _array("d_state", d_state, 2, self.hidden_size, self.dtype)
        W = self.params["weight_ih"]
        if cache["method"] == "loop":
            dW, db = np.zeros_like(W), np.zeros_like(self.params["bias_ih"])
            dx, dh_next = np.empty_like(cache["x"]), np.zeros((B, self.hidden_size), self.dtype)
            for t in reversed(range(T)):
                dx[t], dh_next, dW_t, db_t = self._step_backward(d_out[t] + dh_next, cache, t)
                dW += dW_t
                db += db_t
            return {"x": dx, "state": dh_next, "weight_ih": dW, "bias_ih": db}
        # dL/dh_t = d_out_t + a_{t+1} dL/dh_{t+1}: the same recurrence, backwards in time
        a = cache["a"]
        dh = scan._reverse_scan(a, d_out)  # (T, B, H)
        h_prev = np.concatenate([cache["h0"][None], cache["h"][:-1]])
        dk = self._dk(dh, h_prev, cache)  # (T, B, G*H)
        return {
            "x": dk @ W,
            "state": a[0] * dh[0],
            "weight_ih": dk.reshape(-1, dk.shape[-1]).T @ cache["x"].reshape(T * B, -1),
            "bias_ih": dk.sum(axis=(0, 1)),
        }

    def step(self, x_t: ArrayLike, state: ArrayLike | None = None) -> np.ndarray:
        """One step: x_t (B, I), h_{t-1} (B, H) -> h_t (B, H)."""
        x_t = _array("x_t", x_t, 2, self.input_size, self.dtype)
        return self.forward(x_t[None], state, method="loop")[0][0]

    def torch_layer(self, mode: str = "log"):
        """The torch layer (:class:`rnnbook.minmodels.MinGRU` / ``MinLSTM``, float64) with
        these weights, computed in ``mode`` ("log", "scan" or "loop")."""
        import torch

        from rnnbook.minmodels import MinGRU, MinLSTM

        kind = MinGRU if isinstance(self, MinGRUCell) else MinLSTM
        kwargs = {"signed": True} if self.signed else {}
        layer = kind(
            self.input_size, self.hidden_size, self.candidate, mode, dtype=torch.float64, **kwargs
        )
        with torch.no_grad():
            for name, p in layer.named_parameters():
                p.copy_(torch.from_numpy(self.params[name].astype(np.float64)))
        return layer


class MinGRUCell(_MinCell):
    r"""minGRU in NumPy (Feng et al. 2024), one layer, with hand-written backward.

    .. math::

        z_t = \sigma(W_z x_t + b_z), \quad \tilde h_t = g(W_h x_t + b_h), \quad
        h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t

    Parameters
    ----------
    input_size, hidden_size : I and H
    candidate : "g" (positive, Feng et al.'s log-space form) or "linear"
    signed : transition :math:`1 - 2 z_t \in (-1, 1)` instead of :math:`1 - z_t \in (0, 1)`
    seed, dtype : as in :mod:`rnnbook.cells` (uniform in :math:`\pm 1/\sqrt H`)

    Attributes
    ----------
    params : ``weight_ih`` (2H, I), blocks z, h; ``bias_ih`` (2H,)
    """

    blocks = "zh"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        candidate: str = "g",
        signed: bool = False,
        seed: int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__(input_size, hidden_size, candidate, seed, dtype)
        self.signed = bool(signed)

    def _step(self, x_t, h, W, b):
        return min_gru_step(x_t, h, W, b, self.candidate, self.signed)

    def _step_backward(self, dh, cache, t):
        return min_gru_step_backward(dh, cache["steps"][t])

    def _coefficients(self, k):
        k_z, k_h = np.split(k, 2, axis=-1)
        z, h_tilde = sigmoid(k_z), _candidate(k_h, self.candidate)
        a = 1.0 - 2.0 * z if self.signed else 1.0 - z
        return a, z * h_tilde, {"z": z, "h_tilde": h_tilde}

    def _dk(self, dh, h_prev, cache):
        z, h_tilde, k_h = cache["z"], cache["h_tilde"], np.split(cache["k"], 2, axis=-1)[1]
        dz = dh * (h_tilde - (2.0 if self.signed else 1.0) * h_prev)
        return np.concatenate(
            [dz * dsigmoid(z), dh * z * _dcandidate(k_h, self.candidate)], axis=-1
        )


class MinLSTMCell(_MinCell):
    r"""minLSTM in NumPy (Feng et al. 2024), one layer, with hand-written backward.

    .. math::

        f_t = \sigma(W_f x_t + b_f), \quad i_t = \sigma(W_i x_t + b_i), \quad
        h_t = \frac{f_t}{f_t + i_t} \odot h_{t-1} + \frac{i_t}{f_t + i_t} \odot
        g(W_h x_t + b_h)

    Parameters and attributes as :class:`MinGRUCell`, with ``weight_ih`` (3H, I) in the
    blocks f, i, h and ``bias_ih`` (3H,).
    """

    blocks = "fih"

    def _step(self, x_t, h, W, b):
        return min_lstm_step(x_t, h, W, b, self.candidate)

    def _step_backward(self, dh, cache, t):
        return min_lstm_step_backward(dh, cache["steps"][t])

    def _coefficients(self, k):
        k_f, k_i, k_h = np.split(k, 3, axis=-1)
        f, i = sigmoid(k_f), sigmoid(k_i)
        h_tilde = _candidate(k_h, self.candidate)
        return f / (f + i), i / (f + i) * h_tilde, {"f": f, "i": i, "h_tilde": h_tilde}

    def _dk(self, dh, h_prev, cache):
        f, i, h_tilde = cache["f"], cache["i"], cache["h_tilde"]
        k_h = np.split(cache["k"], 3, axis=-1)[2]
        s = f + i
        df_n, di_n = dh * h_prev, dh * h_tilde
        df, di = (df_n - di_n) * i / s**2, (di_n - df_n) * f / s**2
        d_cand = dh * (i / s) * _dcandidate(k_h, self.candidate)
        return np.concatenate([df * dsigmoid(f), di * dsigmoid(i), d_cand], axis=-1)


# --------------------------------------------------------------------------- parity by hand

PIN = 40.0  # sigmoid(40) is 1 in float64, sigmoid(-40) about 4e-18 (as rnnbook.cells.PIN_LOGIT)


def parity_by_sign() -> MinGRUCell:
    r"""One signed minGRU unit that computes running parity exactly, at any length.

    Input one bit :math:`x_t \in \{0, 1\}`; :math:`z_t = \sigma(80 x_t - 40)` is 0 or 1 (to
    float64 precision), the candidate is 1, so with :math:`a_t = 1 - 2 z_t`:
    :math:`h_t = h_{t-1}` on a 0 and :math:`h_t = 1 - h_{t-1}` on a 1. From :math:`h_0 = 0`,
    :math:`h_t` is the parity of the bits so far. ``candidate="linear"``, so
    ``params["weight_ih"] = [[80], [0]]``, ``params["bias_ih"] = [-40, 1]``.
    """
    cell = MinGRUCell(1, 1, candidate="linear", signed=True)
    cell.params = {"weight_ih": np.array([[2 * PIN], [0.0]]), "bias_ih": np.array([-PIN, 1.0])}
    return cell


def parity_by_depth(
    max_ones: int, eps: float = 0.1, K: float = 10.0, sharpness: float = 200.0
) -> tuple[MinGRUCell, MinGRUCell, np.ndarray]:
    r"""Two minGRU layers (positive transitions) that compute running parity while the number
    of ones read is at most ``max_ones``, and fail beyond.

    Layer 1, one unit, counts: :math:`z = \varepsilon` on a 1 and :math:`\sigma(-40)` on a 0,
    candidate :math:`K`, so after :math:`c` ones :math:`h^{(1)} = \phi(c) = K(1 - (1 -
    \varepsilon)^c)`, increasing in :math:`c`. Layer 2, ``max_ones`` units, thresholds: unit
    :math:`k` has :math:`z = \sigma(\beta (h^{(1)} - \theta_k))` with :math:`\theta_k`
    halfway between :math:`\phi(k - 1)` and :math:`\phi(k)` and candidate 1, so it switches
    from 0 to 1 when the :math:`k`-th one arrives and stays there: :math:`h^{(2)}_k =
    [c \ge k]`. The readout :math:`\sum_k (-1)^{k+1} h^{(2)}_k` is the parity of :math:`c`
    for :math:`c \le` ``max_ones``. Each layer is a linear recurrence (a scan); the
    nonlinearity between them (the sigmoid of layer 2's gate) does the work.

    Returns
    -------
    layer1 : MinGRUCell(1, 1), layer2 : MinGRUCell(1, max_ones), readout (max_ones,)
        parity estimate: ``layer2.forward(layer1.forward(x)[0])[0] @ readout``, (T, B)
    """
    if isinstance(max_ones, bool) or not isinstance(max_ones, int) or max_ones < 1:
        raise ValueError(f"max_ones must be a positive int, got {max_ones!r}")
    if not 0.0 < eps < 1.0:
        raise ValueError(f"eps must be in (0, 1), got {eps!r}")
    layer1 = MinGRUCell(1, 1, candidate="linear")
    logit_eps = math.log(eps / (1.0 - eps))
    layer1.params = {
        "weight_ih": np.array([[logit_eps + PIN], [0.0]]),
        "bias_ih": np.array([-PIN, K]),
    }
    phi = K * (1.0 - (1.0 - eps) ** np.arange(max_ones + 1))  # phi(0), ..., phi(max_ones)
    theta = (phi[:-1] + phi[1:]) / 2.0  # theta_k for k = 1 .. max_ones
    layer2 = MinGRUCell(1, max_ones, candidate="linear")
    layer2.params = {
        "weight_ih": np.concatenate([np.full((max_ones, 1), sharpness), np.zeros((max_ones, 1))]),
        "bias_ih": np.concatenate([-sharpness * theta, np.ones(max_ones)]),
    }
    readout = (-1.0) ** np.arange(max_ones)  # +1, -1, +1, ...
    return layer1, layer2, readout
