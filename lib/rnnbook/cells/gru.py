r"""The GRU of chapter 5: a forward step that is {eq}`eq-05-r`, {eq}`eq-05-z`,
{eq}`eq-05-n` and {eq}`eq-05-h` (PyTorch's form, the reset gate after the hidden matmul), its
backward step, and Cho et al.'s form {eq}`eq-05-n-before` (the reset before the matmul) as a
subclass that overrides only its step.

The weights stack the blocks in PyTorch's order r, z, n (n is the candidate
:math:`\tilde h`): ``weight_ih`` (3H, I) holds :math:`W_{xr}, W_{xz}, W_{xn}`, ``weight_hh``
(3H, H) :math:`W_{hr}, W_{hz}, W_{hn}`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from rnnbook.cells.base import (
    NEW,
    Grads,
    _Cell,
    _choice,
    _linear,
    _new_torch,
    _read_torch,
    _sigmoid,
    _split,
    _sum_outer,
    _write_torch,
)


class GRUCell(_Cell):
    r"""Gated recurrent unit, with the reset gate after (PyTorch) or before (Cho et al. 2014)
    the hidden matmul.

    .. math::

        r_t &= \sigma(W_{xr} x_t + W_{hr} h_{t-1} + b_r) \\
        z_t &= \sigma(W_{xz} x_t + W_{hz} h_{t-1} + b_z) \\
        \tilde h_t &= \tanh(W_{xn} x_t + b_{xn} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))
            \quad \text{reset="after" (torch.nn.GRU)} \\
        \tilde h_t &= \tanh(W_{xn} x_t + W_{hn} (r_t \odot h_{t-1}) + b_n)
            \quad \text{reset="before" (Cho et al. 2014)} \\
        h_t &= z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t

    Sources that write :math:`h_t = (1 - u_t) h_{t-1} + u_t \tilde h_t` use :math:`u = 1 - z`.
    ``GRUCell(I, H, reset="before")`` is a :class:`ResetBeforeGRUCell`; it needs two hidden
    matmuls per step (:math:`r_t` must be known before :math:`W_{hn}` acts); there
    :math:`b_{xn}` and :math:`b_{hn}` are simply added, so only their sum matters (kept for
    the layout).

    Parameters
    ----------
    input_size, hidden_size : I and H
    reset : "after" or "before"
    bias, seed, dtype : as for :class:`~rnnbook.cells.RNNCell`

    Attributes
    ----------
    params : ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_ih``, ``bias_hh`` (3H,),
        blocks ``r, z, n`` in PyTorch's order.

    Shapes
    ------
    x (T, B, I), state h (B, H), outputs (T, B, H) = h_1 ... h_T, final state h_T (B, H).
    The cache holds every step's ``r``, ``z``, ``h_tilde`` (also under PyTorch's name ``n``),
    ``h`` and, for "after", ``hn`` = :math:`W_{hn} h_{t-1} + b_{hn}`, for "before" ``rh`` =
    :math:`r_t \odot h_{t-1}`.
    """

    reset = "after"
    _family = "GRUCell"
    _view_names = ("n",)

    def __new__(cls, *args: Any, **kwargs: Any):
        if cls is GRUCell:  # GRUCell(..., reset="before") is a ResetBeforeGRUCell
            reset = kwargs.get("reset", args[2] if len(args) > 2 else "after")
            if _choice("GRU reset", reset, ("after", "before")) == "before":
                cls = ResetBeforeGRUCell
        return super().__new__(cls)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        reset: str = "after",
        bias: bool = True,
        seed: int | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        self._init(input_size, hidden_size, dtype)
        if reset != self.reset:
            raise ValueError(f"{type(self).__name__} has reset={self.reset!r}, not {reset!r}")
        self.bias = bool(bias)
        I, H = self.input_size, self.hidden_size
        shapes = {"weight_ih": (3 * H, I), "weight_hh": (3 * H, H)}
        if self.bias:
            shapes.update(bias_ih=(3 * H,), bias_hh=(3 * H,))
        self._init_params(shapes, seed)

    def _options(self) -> dict[str, Any]:
        return {"reset": self.reset} if self.bias else {"reset": self.reset, "bias": False}

    def _views(self, cache: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"n": cache["h_tilde"]}  # PyTorch's name of the candidate

    def _input_projection(self, x: np.ndarray) -> np.ndarray:
        # only bias_ih: the n block's b_hn sits inside the reset, r * (W_hn h + b_hn)
        return _linear(x, self.params["weight_ih"], self.params.get("bias_ih"))

    def step_forward(self, a_x: np.ndarray, h_prev: np.ndarray, w: dict, out=NEW):
        r"""One step of {eq}`eq-05-r`, {eq}`eq-05-z`, {eq}`eq-05-n`, {eq}`eq-05-h`.
        ``a_x`` (B, 3H) is :math:`W_{x\cdot} x_t + b_{x\cdot}` for the blocks r, z, n;
        ``h_prev`` is :math:`h_{t-1}` (B, H). Returns ``(h, kept)``."""
        H = self.hidden_size
        a_h = h_prev @ w["weight_hh_T"] + w.get("bias_hh", 0.0)  # W_h. h_t-1 + b_h.
        # eq-05-r, eq-05-z: the reset and update gates
        r, z = _split(_sigmoid(a_x[:, : 2 * H] + a_h[:, : 2 * H]), 2)
        hn = a_h[:, 2 * H :]  # W_hn h_t-1 + b_hn, which the reset gate scales
        h_tilde = np.tanh(a_x[:, 2 * H :] + r * hn, out=out["h_tilde"])  # eq-05-n
        h = np.add(z * h_prev, (1 - z) * h_tilde, out=out["h"])  # eq-05-h
        kept = {"r": r, "z": z, "h_tilde": h_tilde, "hn": hn, "h_prev": h_prev, "h": h}
        return h, kept

    def step_backward(self, dh: np.ndarray, kept: dict, w: dict, out: dict = NEW):
        r"""Back through one step: ``dh`` = :math:`\partial L/\partial h_t` (B, H) ->
        ``({"a_x": dax, "a_h": dah}, dh_prev)``: the gradients of the input side's and the
        hidden side's pre-activations (they differ in the n block by the factor
        :math:`r_t`) and of :math:`h_{t-1}`."""
        r, z, h_tilde, hn, h_prev = (kept[k] for k in ("r", "z", "h_tilde", "hn", "h_prev"))
        da_n = dh * (1 - z) * (1 - h_tilde**2)  # through (1 - z) h~, then tanh
        da_r = da_n * hn * r * (1 - r)  # r multiplies W_hn h_t-1 + b_hn
        da_z = dh * (h_prev - h_tilde) * z * (1 - z)
        dax = np.concatenate([da_r, da_z, da_n], axis=1, out=out["a_x"])
        dah = np.concatenate([da_r, da_z, da_n * r], axis=1, out=out["a_h"])
        return {"a_x": dax, "a_h": dah}, dh * z + dah @ w["weight_hh"]

    def _weight_grads(self, d: dict[str, np.ndarray], cache: dict) -> Grads:
        grads = {"weight_hh": _sum_outer(d["a_h"], cache["h_prev"])}
        if self.bias:
            grads["bias_ih"] = d["a_x"].sum(axis=(0, 1))
            grads["bias_hh"] = d["a_h"].sum(axis=(0, 1))
        return grads

    @classmethod
    def from_torch(cls, module) -> GRUCell:
        """A cell (reset="after") with the weights of ``nn.GRU`` (one layer) or ``nn.GRUCell``."""
        params = _read_torch(module, "GRU", "GRUCell")
        I, H = module.input_size, module.hidden_size
        cell = GRUCell(I, H, reset="after", bias=module.bias, dtype=params["weight_ih"].dtype)
        cell.params = params
        return cell

    def to_torch(self, cell: bool = False):
        """An ``nn.GRU`` (or ``nn.GRUCell`` if ``cell``) with exactly these weights."""
        from torch import nn

        if self.reset != "after":
            raise ValueError("PyTorch's GRU applies the reset after the matmul: need reset='after'")
        m = _new_torch(nn.GRUCell if cell else nn.GRU, self, bias=self.bias)
        return _write_torch(m, self._check_params(), cell)


class ResetBeforeGRUCell(GRUCell):
    r"""The GRU of Cho et al. (2014), {eq}`eq-05-n-before`: the reset gate multiplies
    :math:`h_{t-1}` before :math:`W_{hn}`, so each step does two hidden matmuls."""

    reset = "before"

    def step_forward(self, a_x, h_prev, w, out=NEW):
        H = self.hidden_size
        W_hh_T, b_hh = w["weight_hh_T"], w.get("bias_hh", np.zeros(3 * H, self.dtype))
        a_rz = a_x[:, : 2 * H] + h_prev @ W_hh_T[:, : 2 * H] + b_hh[: 2 * H]
        r, z = _split(_sigmoid(a_rz), 2)
        rh = r * h_prev  # <- the reset before the matmul
        h_tilde = np.tanh(a_x[:, 2 * H :] + rh @ W_hh_T[:, 2 * H :] + b_hh[2 * H :])
        h = z * h_prev + (1 - z) * h_tilde
        return h, {"r": r, "z": z, "h_tilde": h_tilde, "rh": rh, "h_prev": h_prev, "h": h}

    def step_backward(self, dh, kept, w, out=NEW):
        H, W_hh = self.hidden_size, w["weight_hh"]
        r, z, h_tilde, h_prev = (kept[k] for k in ("r", "z", "h_tilde", "h_prev"))
        da_n = dh * (1 - z) * (1 - h_tilde**2)
        d_rh = da_n @ W_hh[2 * H :]  # <- back through W_hn (r * h_t-1)
        da_r = d_rh * h_prev * r * (1 - r)
        da_z = dh * (h_prev - h_tilde) * z * (1 - z)
        da = np.concatenate([da_r, da_z, da_n], axis=1)
        return {"a_x": da}, dh * z + d_rh * r + da[:, : 2 * H] @ W_hh[: 2 * H]

    def _weight_grads(self, d: dict[str, np.ndarray], cache: dict) -> Grads:
        H, da = self.hidden_size, d["a_x"]
        W_hrz = _sum_outer(da[..., : 2 * H], cache["h_prev"])
        grads = {"weight_hh": np.concatenate([W_hrz, _sum_outer(da[..., 2 * H :], cache["rh"])])}
        if self.bias:
            grads["bias_ih"] = grads["bias_hh"] = da.sum(axis=(0, 1))
        return grads
