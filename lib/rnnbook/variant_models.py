"""The LSTM variants of :class:`rnnbook.cells.LSTMCell` as PyTorch modules (chapter 4).

- :class:`LSTMVariant` is one LSTM layer of any variant (peephole, cifg, nfg, noaf), its
  step the library's one torch reference (:func:`rnnbook.reference.lstm_step`),
  optionally several independent copies trained at once;
- :class:`LSTMVariantTagger` reads it out at every step (the variant comparison);
- :func:`copies_loss` sums a loss over the copies.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from rnnbook import reference
from rnnbook.cells.lstm import LSTM_VARIANTS
from rnnbook.models import _as_features, _CountMixin, _seeded

__all__ = ["LSTM_VARIANTS", "LSTMVariant", "LSTMVariantTagger", "copies_loss"]


def _uniform(shape: tuple[int, ...], k: float, dtype: torch.dtype) -> nn.Parameter:
    return nn.Parameter((2 * torch.rand(shape, dtype=dtype) - 1) * k)


class LSTMVariant(nn.Module):
    """One LSTM layer of any variant of :class:`rnnbook.cells.LSTMCell`, in PyTorch.

    The NumPy cell's equations, parameter names and layout, so autograd can be checked
    against its hand-written backward (:meth:`from_cell` copies the weights). With
    :math:`a = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}` split into blocks:

    .. math::

        i_t = \\sigma(a_i), \\quad f_t = \\sigma(a_f), \\quad \\tilde c_t = \\tanh(a_g),
        \\quad o_t = \\sigma(a_o) \\\\
        c_t = f_t \\odot c_{t-1} + i_t \\odot \\tilde c_t, \\qquad h_t = o_t \\odot \\tanh(c_t)

    changed as in Greff et al. (2017): ``"peephole"`` adds ``w_ci * c_{t-1}`` to ``a_i``,
    ``w_cf * c_{t-1}`` to ``a_f`` and ``w_co * c_t`` to ``a_o``; ``"cifg"`` sets
    ``i_t = 1 - f_t`` (blocks ``f, g, o``); ``"nfg"`` sets ``f_t = 1`` (blocks ``i, g, o``);
    ``"noaf"`` outputs ``h_t = o_t * c_t``. ``"vanilla"`` is ``torch.nn.LSTM``.

    Parameters
    ----------
    input_size, hidden_size : I and H
    variant : one of :data:`LSTM_VARIANTS`
    forget_bias : added to the forget block of ``bias_ih`` at initialisation (not for "nfg")
    copies : int, optional
        Hold this many independent layers, each with its own weights, and run them side by
        side on the same input (every parameter gets a leading axis of size ``copies``). With
        the sum of the copies' losses and Adam, which treats every entry on its own, this
        trains ``copies`` separate networks in one pass: several seeds for the price of one.
    seed : seeds the initial weights (uniform in +-1/sqrt(H), as PyTorch) without touching
        the global random state
    dtype : torch.float32 (default) or torch.float64

    Attributes
    ----------
    weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,), for "peephole" also
    weight_ci, weight_cf, weight_co (H,); G = 4 blocks ``i, f, g, o``, or 3 for "cifg" and
    "nfg"; each with a leading ``copies`` axis if ``copies`` is set.

    Shapes
    ------
    ``forward(x, state=None, trace=None)``: x (T, B, I), state ``(h_0, c_0)`` each (B, H)
    (zeros if None) -> ``(outputs (T, B, H), (h_T, c_T))``; with ``copies=n`` the states and
    outputs get an axis n after T: outputs (T, n, B, H), states (n, B, H). Pass a dict as
    ``trace`` to collect the tensors of every step inside the graph: ``trace["a"][t]`` a
    dict gate -> pre-activation (B, H) (peephole terms included), ``trace["c"][t]`` and
    ``trace["h"][t]``; call ``.retain_grad()`` on them before ``backward()`` to read, for
    example, :math:`\\partial L / \\partial c_t` as ``trace["c"][t].grad``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        variant: str = "vanilla",
        forget_bias: float = 0.0,
        copies: int | None = None,
        seed: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if variant not in LSTM_VARIANTS:
            raise ValueError(f"variant must be one of {LSTM_VARIANTS}, got {variant!r}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if copies is not None and (isinstance(copies, bool) or not isinstance(copies, int)):
            raise TypeError(f"copies must be None or a positive int, got {copies!r}")
        if copies is not None and copies < 1:
            raise ValueError(f"copies must be None or a positive int, got {copies!r}")
        if forget_bias and variant == "nfg":
            raise ValueError("forget_bias needs a forget gate; variant 'nfg' has none")
        self.input_size, self.hidden_size, self.variant = input_size, hidden_size, variant
        self.copies, self.gates = copies, reference.lstm_gates(variant)
        G, H, k = len(self.gates), hidden_size, 1.0 / math.sqrt(hidden_size)
        n = () if copies is None else (copies,)
        shapes = {"weight_ih": (G * H, input_size), "weight_hh": (G * H, H)}
        shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
        if variant == "peephole":
            shapes.update(weight_ci=(H,), weight_cf=(H,), weight_co=(H,))
        with _seeded(seed):
            for name, shape in shapes.items():
                self.register_parameter(name, _uniform(n + shape, k, dtype))
        if forget_bias:
            f = self.gates.index("f")
            with torch.no_grad():
                self.bias_ih[..., f * H : (f + 1) * H] += float(forget_bias)

    @classmethod
    def from_cell(cls, cell) -> LSTMVariant:
        """A float64 layer with exactly the parameters of a NumPy ``LSTMCell`` (with biases)."""
        if "bias_ih" not in cell.params:
            raise ValueError("from_cell needs a cell with biases (bias=True)")
        layer = cls(cell.input_size, cell.hidden_size, cell.variant, dtype=torch.float64)
        with torch.no_grad():
            for name, p in layer.named_parameters():
                p.copy_(torch.from_numpy(np.asarray(cell.params[name], dtype=np.float64)))
        return layer

    def forward(
        self,
        x: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
        trace: dict | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"x must be a (T, B, {self.input_size}) tensor")
        H, v = self.hidden_size, self.variant
        lead = () if self.copies is None else (self.copies,)
        if state is None:
            h = c = x.new_zeros(*lead, x.shape[1], H)
        else:
            h, c = state
        x = x if self.copies is None else x.unsqueeze(1)  # (T, 1, B, I) meets (n, I, G*H)
        ax = x @ self.weight_ih.mT + (self.bias_ih + self.bias_hh).unsqueeze(-2)
        peep = {k: getattr(self, f"weight_c{k}").unsqueeze(-2) for k in "ifo" if v == "peephole"}
        peep = peep or None
        if trace is not None:
            trace.update(a=[], c=[], h=[])
        outputs = []
        for t in range(x.shape[0]):
            blocks = (ax[t] + h @ self.weight_hh.mT).split(H, dim=-1)
            a = dict(zip(self.gates, blocks, strict=True))
            h, c, a = reference.lstm_step(v, a, c, peep)  # the book's one torch LSTM step
            outputs.append(h)
            if trace is not None:
                trace["a"].append(a)
                trace["c"].append(c)
                trace["h"].append(h)
        return torch.stack(outputs), (h, c)


class LSTMVariantTagger(_CountMixin, nn.Module):
    """An :class:`LSTMVariant` with a readout at every step: ``logits_t = W_hy h_t + b_y``.

    The model of the chapter's variant comparison (running parity), like
    :class:`SequenceTagger` but for every variant, and for ``copies`` independent networks
    at once (see :class:`LSTMVariant`). Train copies with the sum of their losses,
    :func:`copies_loss`, and without gradient clipping, which would couple them.

    Parameters
    ----------
    variant, input_size, hidden_size, forget_bias, copies, seed : see :class:`LSTMVariant`
    n_classes : int
        Outputs per step.

    Shapes
    ------
    ``forward(x)``: x (T, B, I), or (T, B) integer tokens (one-hot encoded), -> logits
    (T, B, n_classes); with ``copies=n``, (n, T, B, n_classes).
    """

    def __init__(
        self,
        variant: str,
        input_size: int,
        hidden_size: int,
        n_classes: int,
        forget_bias: float = 0.0,
        copies: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.variant, self.input_size, self.n_classes = variant, input_size, n_classes
        self.rnn = LSTMVariant(input_size, hidden_size, variant, forget_bias, copies, seed=seed)
        n = () if copies is None else (copies,)
        k = 1.0 / math.sqrt(hidden_size)  # nn.Linear's initialisation
        with _seeded(None if seed is None else seed + 1):
            self.weight_hy = _uniform(n + (n_classes, hidden_size), k, torch.float32)
            self.bias_y = _uniform(n + (n_classes,), k, torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(_as_features(x, self.input_size))  # (T, [n,] B, H)
        logits = states @ self.weight_hy.mT + self.bias_y.unsqueeze(-2)
        return logits if self.rnn.copies is None else logits.movedim(1, 0)


def copies_loss(
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Turn ``loss_fn(prediction, target)`` into the sum of it over copies.

    The returned function takes a prediction with a leading copies axis, (n, ...), and the
    target shared by all copies; it returns ``sum_k loss_fn(prediction[k], target)``. Each
    copy's gradient is the gradient of its own loss, so training with it trains the n
    networks separately. Example: ``copies_loss(rnnbook.train.sequence_cross_entropy)``.
    """

    def loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prediction.dim() < 1 or prediction.shape[0] < 1:
            raise ValueError(f"prediction needs a leading copies axis, got {prediction.shape}")
        return sum(loss_fn(p, target) for p in prediction.unbind(0))

    return loss
