"""Small PyTorch models for the book's experiments.

Plain :class:`torch.nn.Module` subclasses around one-layer ``nn.RNN``, ``nn.LSTM`` or
``nn.GRU``, time-major like the rest of the library: a batch of sequences is
``(T, B, input_size)``; integer token sequences ``(T, B)`` are one-hot encoded (or
embedded, in :class:`Seq2Seq`).

- :class:`SequenceRegressor` reads the last hidden state (the adding problem).
- :class:`SequenceTagger` gives logits at every step (the copy task, running parity, sine).
- :class:`Seq2Seq` is an encoder-decoder with optional attention (reversing digits; with a
  bidirectional encoder and its own source vocabulary, grapheme to phoneme in chapter 8).
- :class:`LSTMVariant` is one LSTM layer of any variant of :class:`rnnbook.cells.LSTMCell`
  (peephole, cifg, nfg, noaf), optionally several independent copies trained at once;
  :class:`LSTMVariantTagger` reads it out at every step (chapter 4's variant comparison).

Every model has ``count_parameters()``; :func:`count_parameters` works on any module (for
example ``nn.RNN``, to compare with the book's count). Pass ``seed=`` to a constructor to
initialise its weights reproducibly without touching the global random state.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CELLS",
    "ATTENTION_METHODS",
    "count_parameters",
    "make_rnn",
    "SequenceRegressor",
    "SequenceTagger",
    "Seq2Seq",
    "LSTM_VARIANTS",
    "LSTMVariant",
    "LSTMVariantTagger",
    "copies_loss",
]

CELLS = ("rnn", "lstm", "gru")
ATTENTION_METHODS = ("dot", "general", "concat", "scaled_dot")


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters of ``module`` (only those with ``requires_grad`` by default).

    For a one-layer ``nn.RNN`` with input size I and hidden size H this is
    ``H*I + H*H + 2*H``; ``nn.LSTM`` has four times that and ``nn.GRU`` three times.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"count_parameters expects a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Run the block with ``torch.manual_seed(seed)`` and restore the global CPU RNG after."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def make_rnn(
    cell: str,
    input_size: int,
    hidden_size: int,
    nonlinearity: str = "tanh",
    forget_bias: float | None = None,
    identity_init: bool = False,
) -> nn.Module:
    """One-layer, unidirectional, time-major ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``.

    Parameters
    ----------
    cell : "rnn", "lstm" or "gru"
    input_size, hidden_size : int
    nonlinearity : "tanh" or "relu"
        Only for ``cell="rnn"``.
    forget_bias : float, optional
        Only for ``cell="lstm"``: set the forget-gate bias (rows ``H:2H``, gate order
        i, f, g, o) so that ``b_if + b_hf = forget_bias`` (Gers et al. 2000; Jozefowicz
        et al. 2015 recommend 1).
    identity_init : bool
        Only for ``cell="rnn"``: recurrent weights = identity, biases = 0 (the IRNN of
        Le, Jaitly and Hinton 2015, used with ``nonlinearity="relu"``).
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if cell != "rnn" and nonlinearity != "tanh":
        raise ValueError(f"nonlinearity applies only to cell='rnn', got cell={cell!r}")
    if forget_bias is not None and cell != "lstm":
        raise ValueError(f"forget_bias applies only to cell='lstm', got cell={cell!r}")
    if identity_init and cell != "rnn":
        raise ValueError(f"identity_init applies only to cell='rnn', got cell={cell!r}")
    if cell == "rnn":
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        rnn: nn.Module = nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity)
    elif cell == "lstm":
        rnn = nn.LSTM(input_size, hidden_size)
    else:
        rnn = nn.GRU(input_size, hidden_size)
    with torch.no_grad():
        if forget_bias is not None:
            H = hidden_size
            rnn.bias_ih_l0[H : 2 * H] = float(forget_bias)
            rnn.bias_hh_l0[H : 2 * H] = 0.0
        if identity_init:
            rnn.weight_hh_l0.copy_(torch.eye(hidden_size))
            rnn.bias_ih_l0.zero_()
            rnn.bias_hh_l0.zero_()
    return rnn


def _as_features(x: torch.Tensor, input_size: int) -> torch.Tensor:
    """(T, B, I) floats pass through; (T, B) integer tokens become one-hot (T, B, I)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        if x.dim() != 2:
            raise ValueError(f"integer inputs must be (T, B) tokens, got shape {tuple(x.shape)}")
        return F.one_hot(x.long(), input_size).float()
    if x.dim() != 3 or x.shape[-1] != input_size:
        raise ValueError(f"inputs must be (T, B, {input_size}), got shape {tuple(x.shape)}")
    return x


class _CountMixin:
    def count_parameters(self) -> int:
        """Number of trainable scalar parameters."""
        return count_parameters(self)  # type: ignore[arg-type]


class SequenceRegressor(_CountMixin, nn.Module):
    """An RNN that reads a whole sequence and regresses from its last hidden state.

    ``h_t = cell(x_t, h_{t-1})`` for ``t = 1 .. T``, then ``y = W_hy h_T + b_y``.

    Parameters
    ----------
    cell : "rnn", "lstm" or "gru"
    input_size, hidden_size : int
    output_size : int, default 1
    forget_bias, nonlinearity, identity_init, seed : see :func:`make_rnn`.

    Shapes
    ------
    ``forward(x)`` with ``x`` (T, B, input_size) returns (B,) if ``output_size == 1``
    (matching the adding problem's targets) and (B, output_size) otherwise. With
    ``return_states=True`` it also returns the hidden states (T, B, hidden_size).
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int = 1,
        forget_bias: float | None = None,
        nonlinearity: str = "tanh",
        identity_init: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.cell, self.input_size, self.output_size = cell, input_size, output_size
        with _seeded(seed):
            self.rnn = make_rnn(
                cell, input_size, hidden_size, nonlinearity, forget_bias, identity_init
            )
            self.readout = nn.Linear(hidden_size, output_size)

    def forward(
        self, x: torch.Tensor, return_states: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        states, _ = self.rnn(_as_features(x, self.input_size))
        y = self.readout(states[-1])
        if self.output_size == 1:
            y = y.squeeze(-1)
        return (y, states) if return_states else y


class SequenceTagger(_CountMixin, nn.Module):
    """An RNN that predicts a class at every step: ``logits_t = W_hy h_t + b_y``.

    Parameters
    ----------
    cell : "rnn", "lstm" or "gru"
    input_size : int
        Features per step, or the vocabulary size when the inputs are integer tokens
        (T, B), which are one-hot encoded.
    hidden_size : int
    n_classes : int
        Number of outputs per step (use 1 with MSE for per-step regression, e.g. the sine).
    forget_bias, nonlinearity, identity_init, seed : see :func:`make_rnn`.

    Shapes
    ------
    ``forward(x)`` with ``x`` (T, B, input_size) or (T, B) ints returns logits
    (T, B, n_classes); with ``return_states=True`` also the hidden states (T, B, hidden_size).
    Train with :func:`rnnbook.train.sequence_cross_entropy`.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        n_classes: int,
        forget_bias: float | None = None,
        nonlinearity: str = "tanh",
        identity_init: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.cell, self.input_size, self.n_classes = cell, input_size, n_classes
        with _seeded(seed):
            self.rnn = make_rnn(
                cell, input_size, hidden_size, nonlinearity, forget_bias, identity_init
            )
            self.readout = nn.Linear(hidden_size, n_classes)

    def forward(
        self, x: torch.Tensor, return_states: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        states, _ = self.rnn(_as_features(x, self.input_size))
        logits = self.readout(states)
        return (logits, states) if return_states else logits


class Seq2Seq(_CountMixin, nn.Module):
    """Encoder-decoder RNN with optional attention (Luong, Pham and Manning 2015 style).

    The encoder reads the embedded source; its final state starts the decoder, which reads
    the embedded previous target token (a start token ``BOS = vocab_size`` at step 0).
    With ``attention=None`` the logits come from the decoder state ``s_t``. With attention,
    each ``s_t`` scores every encoder output ``h_j``:

    - dot:        ``score(s, h) = s . h``
    - scaled_dot: ``score(s, h) = s . h / sqrt(d)``
    - general:    ``score(s, h) = s^T W h``
    - concat:     ``score(s, h) = v^T tanh(W_a s + W_b h)`` (additive; Bahdanau et al. 2015)
    - location:   ``scores = W_a s``, one per source position, whatever the ``h_j`` (Luong's
      location-based function, eq. 8; ``W_a`` is (max_src_len, H), its first S rows serve
      a source of length S)

    the first four with the same formulas, parameter names and shapes as
    :func:`rnnbook.attention.score` (``model.attn["W"]`` etc.; :meth:`attention_params`
    exports them); then ``alpha_t = softmax_j(score(s_t, h_j))``, ``c_t = sum_j alpha_tj h_j``,
    ``s~_t = tanh(W_c [c_t; s_t])`` and ``logits_t = W_out s~_t``.

    Parameters
    ----------
    vocab_size : int
        Target tokens ``0 .. vocab_size - 1`` (and source tokens, unless ``src_vocab_size``).
    hidden_size : int
    cell : "rnn", "lstm" or "gru" (default "gru")
    attention : None, "dot", "general", "concat", "scaled_dot" or "location"
    embed_size : int, optional (default hidden_size)
    attn_size : int, optional
        Width of the concat (additive) scorer (default hidden_size).
    seed : int, optional
    src_vocab_size : int, optional
        Source tokens ``0 .. src_vocab_size - 1``, when the source has its own vocabulary.
    bidirectional : bool, default False
        A bidirectional encoder (Bahdanau et al. 2015) of ``hidden_size // 2`` units each
        way: its outputs ``h_j = [forward_j; backward_j]`` and the decoder's first state
        (the two final states joined) have ``hidden_size`` units. Needs an even hidden_size.
    max_src_len : int, optional
        Longest source the "location" score serves (required by it, unused otherwise).

    Shapes
    ------
    ``forward(src, tgt=None, max_len=None)``: ``src`` (S, B) ints. With ``tgt`` (T, B)
    ints the decoder is teacher-forced (reads ``BOS, tgt[0], .., tgt[T-2]``); without it,
    it decodes greedily for ``max_len`` steps (default S). Returns ``(logits, weights)``:
    logits (T, B, vocab_size) and attention weights (T, B, S) (``weights[t, b, j]`` is the
    weight output step t puts on source step j), or ``None`` without attention.
    The two halves are :meth:`encode` and :meth:`decode`, which step-by-step decoders
    (greedy, beam search: :mod:`rnnbook.decoding`) call one step at a time.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        cell: str = "gru",
        attention: str | None = None,
        embed_size: int | None = None,
        attn_size: int | None = None,
        seed: int | None = None,
        src_vocab_size: int | None = None,
        bidirectional: bool = False,
        max_src_len: int | None = None,
    ) -> None:
        super().__init__()
        if attention is not None and attention not in (*ATTENTION_METHODS, "location"):
            raise ValueError(
                f"attention must be None or one of {(*ATTENTION_METHODS, 'location')}, "
                f"got {attention!r}"
            )
        for name, value in (("vocab_size", vocab_size), ("src_vocab_size", src_vocab_size)):
            if value is None and name == "src_vocab_size":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(f"{name} must be an int >= 2, got {value!r}")
        if bidirectional and hidden_size % 2:
            raise ValueError(f"bidirectional needs an even hidden_size, got {hidden_size}")
        if attention == "location" and (
            isinstance(max_src_len, bool) or not isinstance(max_src_len, int) or max_src_len < 1
        ):
            raise ValueError(f"attention='location' needs max_src_len >= 1, got {max_src_len!r}")
        E = embed_size or hidden_size
        H = hidden_size
        A = attn_size or hidden_size
        self.vocab_size, self.hidden_size, self.cell, self.attention = (
            vocab_size,
            H,
            cell,
            attention,
        )
        self.bos, self.bidirectional, self.max_src_len = vocab_size, bidirectional, max_src_len
        with _seeded(seed):
            self.src_embed = nn.Embedding(src_vocab_size or vocab_size, E)
            self.tgt_embed = nn.Embedding(vocab_size + 1, E)  # + BOS
            if bidirectional:
                rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
                self.encoder = rnn(E, H // 2, bidirectional=True)
            else:
                self.encoder = make_rnn(cell, E, H)
            self.decoder = make_rnn(cell, E, H)
            # the scorer's parameters, named and shaped as in rnnbook.attention.init_params,
            # uniform in +-1/sqrt(fan in)
            shapes = {"general": {"W": (H, H)}, "concat": {"W_a": (A, H), "W_b": (A, H), "v": (A,)}}
            if attention == "location":
                shapes["location"] = {"W_a": (max_src_len, H)}
            self.attn = nn.ParameterDict(
                {
                    name: nn.Parameter((2 * torch.rand(shape) - 1) / math.sqrt(shape[-1]))
                    for name, shape in shapes.get(attention or "", {}).items()
                }
            )
            if attention is not None:
                self.W_c = nn.Linear(2 * H, H)
            self.out = nn.Linear(H, vocab_size)

    def score(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Attention scores: queries (T, B, H), keys (S, B, H) -> (T, B, S)."""
        method = self.attention
        if method in ("dot", "scaled_dot"):
            s = torch.einsum("tbh,sbh->tbs", queries, keys)
            return s / math.sqrt(keys.shape[-1]) if method == "scaled_dot" else s
        if method == "general":  # s^T W h
            return torch.einsum("tbh,hk,sbk->tbs", queries, self.attn["W"], keys)
        if method == "concat":  # v^T tanh(W_a s + W_b h)
            q = (queries @ self.attn["W_a"].T).permute(1, 0, 2)[:, :, None, :]  # (B, T, 1, A)
            k = (keys @ self.attn["W_b"].T).permute(1, 0, 2)[:, None, :, :]  # (B, 1, S, A)
            return torch.tanh(q + k).matmul(self.attn["v"]).permute(1, 0, 2)  # (T, B, S)
        if method == "location":  # W_a s: the keys' content is not used, only their number
            if keys.shape[0] > self.max_src_len:
                raise ValueError(f"source of length {keys.shape[0]} > max_src_len")
            return queries @ self.attn["W_a"][: keys.shape[0]].T
        raise ValueError("this model has no attention")

    def attention_params(self) -> dict[str, np.ndarray]:
        """The scorer's parameters as NumPy arrays, ready for :func:`rnnbook.attention.score`
        (``{}`` for dot and scaled_dot, ``W`` for general, ``W_a``, ``W_b``, ``v`` for concat)."""
        return {name: p.detach().double().numpy().copy() for name, p in self.attn.items()}

    def _readout(
        self, dec: torch.Tensor, enc: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.attention is None:
            return self.out(dec), None
        weights = torch.softmax(self.score(dec, enc), dim=-1)  # (T, B, S)
        context = torch.einsum("tbs,sbh->tbh", weights, enc)
        combined = torch.tanh(self.W_c(torch.cat([context, dec], dim=-1)))
        return self.out(combined), weights

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, object]:
        """Encoder outputs (S, B, H) and the decoder's first state, for ``src`` (S, B) ints."""
        if not isinstance(src, torch.Tensor) or torch.is_floating_point(src) or src.dim() != 2:
            raise ValueError("src must be a (S, B) tensor of integer tokens")
        enc, state = self.encoder(self.src_embed(src))
        if self.bidirectional:  # (2, B, H/2) forward and backward -> (1, B, H)
            states = state if isinstance(state, tuple) else (state,)
            joined = tuple(torch.cat([s[0], s[1]], dim=-1)[None] for s in states)
            state = joined if isinstance(state, tuple) else joined[0]
        return enc, state

    def decode(
        self, tokens: torch.Tensor, state: object, enc: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, object]:
        """Read ``tokens`` (T, B) from ``state``: logits (T, B, V), weights, the new state."""
        dec, state = self.decoder(self.tgt_embed(tokens), state)
        logits, weights = self._readout(dec, enc)
        return logits, weights, state

    def forward(
        self, src: torch.Tensor, tgt: torch.Tensor | None = None, max_len: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        enc, state = self.encode(src)
        B = src.shape[1]
        bos = torch.full((1, B), self.bos, dtype=torch.long, device=src.device)
        if tgt is not None:
            if torch.is_floating_point(tgt) or tgt.dim() != 2 or tgt.shape[1] != B:
                raise ValueError(f"tgt must be (T, {B}) integer tokens, got {tuple(tgt.shape)}")
            dec_in = torch.cat([bos, tgt[:-1].long()], dim=0)
            logits, weights, _ = self.decode(dec_in, state, enc)
            return logits, weights
        steps = src.shape[0] if max_len is None else max_len
        token, logits, weights = bos, [], []
        for _ in range(steps):
            step_logits, step_weights, state = self.decode(token, state, enc)
            logits.append(step_logits)
            weights.append(step_weights)
            token = step_logits.argmax(-1)
        all_weights = None if self.attention is None else torch.cat(weights, dim=0)
        return torch.cat(logits, dim=0), all_weights


# --------------------------------------------------------------------------- LSTM variants (ch. 4)

LSTM_VARIANTS = ("vanilla", "peephole", "cifg", "nfg", "noaf")
"""The LSTM variants of :class:`rnnbook.cells.LSTMCell` and :class:`LSTMVariant`."""

_VARIANT_GATES = dict(vanilla="ifgo", peephole="ifgo", noaf="ifgo", cifg="fgo", nfg="igo")


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
        self.copies, self.gates = copies, _VARIANT_GATES[variant]
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
        if trace is not None:
            trace.update(a=[], c=[], h=[])
        outputs = []
        for t in range(x.shape[0]):
            blocks = (ax[t] + h @ self.weight_hh.mT).split(H, dim=-1)
            a = dict(zip(self.gates, blocks, strict=True))
            if peep:  # i and f look at c_{t-1}
                a["i"], a["f"] = a["i"] + peep["i"] * c, a["f"] + peep["f"] * c
            f = None if v == "nfg" else torch.sigmoid(a["f"])
            i = 1.0 - f if v == "cifg" else torch.sigmoid(a["i"])
            g = torch.tanh(a["g"])
            c = c + i * g if v == "nfg" else f * c + i * g
            if peep:  # o looks at the new c_t
                a["o"] = a["o"] + peep["o"] * c
            h = torch.sigmoid(a["o"]) * (c if v == "noaf" else torch.tanh(c))
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
