r"""Character language models in PyTorch (chapter 6): the model, batches, loss, training, sampling.

A language model gives the probability of a text one symbol at a time,
:math:`p(s_1 \dots s_n) = \prod_i p(s_i \mid s_1 \dots s_{i-1})`. Here the symbols are
characters, and :class:`CharLM` computes each conditional with a recurrent network
(``nn.RNN``, ``nn.LSTM`` or ``nn.GRU``) and a softmax over the next character.

=======================  =================================================================
name                     what
=======================  =================================================================
CharLM                   embedding (or one-hot) -> RNN/LSTM/GRU layers -> logits; dropout
                         on the non-recurrent connections (Zaremba et al. 2014)
count_parameters         the parameters of a CharLM, by formula; hidden_size_for a budget
word_batch               padded inputs, targets and lengths of a batch of words
length_mask              which entries of a padded (T, B) batch are real symbols
masked_cross_entropy     mean (or sum) cross-entropy over the real symbols only
word_batches             a ``make_batch(step, rng)`` serving training words in epochs,
                         bucketed by length
stream_batches           consecutive segments of a running text, for truncated BPTT
fit                      Adam training with clipping, validation curves and the
                         perturbation switch of :mod:`rnnbook.repro`
=======================  =================================================================

Evaluating, sampling and measuring a trained model is in :mod:`rnnbook.lm_eval`. Shapes
are time-major, as everywhere in the book: tokens ``(T, B)``, logits ``(T, B, V)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnbook import train
from rnnbook.text import BOUNDARY, PAD

__all__ = [
    "CharLM",
    "Batch",
    "word_batch",
    "length_mask",
    "masked_cross_entropy",
    "word_batches",
    "stream_batches",
    "LMHistory",
    "fit",
    "count_parameters",
    "hidden_size_for",
]

_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


# ----------------------------------------------------------------------------- the model


class CharLM(nn.Module):
    r"""A character language model: :math:`p(s_t \mid s_{<t}) = \mathrm{softmax}(W h_t + b)`.

    Each input symbol is embedded (``embed_size``) or one-hot encoded (``embed_size=None``),
    read by ``num_layers`` recurrent layers, and the top layer's state gives the logits of
    the next symbol. Dropout with probability ``dropout`` is applied, as Zaremba et al.
    (2014) do, to the non-recurrent connections only: to the input of every layer and to the
    output of the last, never to the state passed from step to step.

    Parameters
    ----------
    cell : "rnn", "lstm" or "gru"
    vocab_size : V, the number of symbols
    hidden_size : H
    num_layers : int, default 1
    embed_size : int or None (one-hot inputs), default 32
    dropout : float in [0, 1), default 0
    forget_bias : float, optional, LSTM only: the forget gates' bias (``b_if + b_hf``)
    seed : int, optional, seeds the initial weights without touching the global RNG

    Shapes
    ------
    ``forward(tokens (T, B), lengths=None, state=None)`` returns logits (T, B, V) and the
    final state (``(h, c)`` for the LSTM, each (num_layers, B, H)). With ``lengths`` the
    sequences are packed (``pack_padded_sequence``) so that each one's final state is taken
    at its own last symbol; the logits at padded positions are then those of a zero state.
    """

    def __init__(
        self,
        cell: str,
        vocab_size: int,
        hidden_size: int,
        num_layers: int = 1,
        embed_size: int | None = 32,
        dropout: float = 0.0,
        forget_bias: float | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if cell not in _LAYERS:
            raise ValueError(f"cell must be one of {tuple(_LAYERS)}, got {cell!r}")
        for name, v in (("vocab_size", vocab_size), ("hidden_size", hidden_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
        if embed_size is not None and (not isinstance(embed_size, int) or embed_size < 1):
            raise ValueError(f"embed_size must be a positive int or None, got {embed_size!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        if forget_bias is not None and cell != "lstm":
            raise ValueError(f"forget_bias applies only to cell='lstm', got cell={cell!r}")
        self.cell, self.vocab_size, self.hidden_size = cell, vocab_size, hidden_size
        self.num_layers, self.embed_size, self.dropout_p = num_layers, embed_size, dropout
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.embed = nn.Embedding(vocab_size, embed_size) if embed_size else None
            self.rnn = _LAYERS[cell](
                embed_size or vocab_size,
                hidden_size,
                num_layers,
                dropout=dropout if num_layers > 1 else 0.0,
            )
            self.readout = nn.Linear(hidden_size, vocab_size)
        self.drop = nn.Dropout(dropout)
        if forget_bias is not None:
            H = hidden_size
            with torch.no_grad():
                for k in range(num_layers):
                    getattr(self.rnn, f"bias_ih_l{k}")[H : 2 * H] = float(forget_bias)
                    getattr(self.rnn, f"bias_hh_l{k}")[H : 2 * H] = 0.0

    def count_parameters(self) -> int:
        """Number of trainable scalar parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """The inputs of the first layer: embeddings or one-hot vectors, (T, B, E or V)."""
        if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long or tokens.dim() != 2:
            raise ValueError("tokens must be a (T, B) tensor of int64 symbol ids")
        if self.embed is not None:
            return self.embed(tokens)
        return F.one_hot(tokens, self.vocab_size).float()

    def forward(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor | None = None,
        state: object = None,
    ) -> tuple[torch.Tensor, object]:
        x = self.drop(self.features(tokens))
        if lengths is None:
            out, state = self.rnn(x, state)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
            out, state = self.rnn(packed, state)
            out, _ = pad_packed_sequence(out, total_length=tokens.shape[0])
        return self.readout(self.drop(out)), state


def count_parameters(
    cell: str, vocab_size: int, hidden_size: int, num_layers: int = 1, embed_size: int | None = 32
) -> int:
    """Trainable parameters of ``CharLM(cell, vocab_size, hidden_size, num_layers, embed_size)``.

    Each layer has G blocks (G = 1, 4, 3 for rnn, lstm, gru) of ``H * I + H * H + 2 * H``
    (I = the embedding size, or V for one-hot inputs, in the first layer, H above); the
    embedding adds ``V * E`` and the readout ``V * H + V``.
    """
    if cell not in _LAYERS:
        raise ValueError(f"cell must be one of {tuple(_LAYERS)}, got {cell!r}")
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    V, H, E = vocab_size, hidden_size, embed_size
    first = E or V
    layers = sum(G * ((first if k == 0 else H) * H + H * H + 2 * H) for k in range(num_layers))
    return layers + (V * E if E else 0) + V * H + V


def hidden_size_for(
    cell: str, budget: int, vocab_size: int, num_layers: int = 1, embed_size: int | None = 32
) -> int:
    """The hidden size H whose :func:`count_parameters` comes closest to ``budget``."""
    if budget < 1:
        raise ValueError(f"budget must be a positive number of parameters, got {budget!r}")
    sizes = np.arange(1, 4096)
    counts = np.array(
        [count_parameters(cell, vocab_size, int(h), num_layers, embed_size) for h in sizes]
    )
    return int(sizes[np.argmin(np.abs(counts - budget))])


# ----------------------------------------------------------------------------- batches and loss


@dataclass
class Batch:
    """One training batch: ``inputs`` and ``targets`` (T, B) int64, optional ``lengths`` (B,).

    ``reset`` (running text) says that the carried state must start again from zero.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    lengths: torch.Tensor | None = None
    reset: bool = False


def word_batch(targets: Sequence[np.ndarray]) -> Batch:
    """Pad a batch of words for a word model.

    Each element of ``targets`` holds what the model predicts for one word (its characters,
    then the boundary: :meth:`rnnbook.text.Vocab.word_targets`). The input of a word is the
    boundary followed by its characters, so at step t the model has read the first t - 1
    characters and predicts character t (then, at the last step, the end of the word).

    Returns
    -------
    Batch with inputs and targets (T, B), T the longest word + 1, padded with PAD = 0, and
    lengths (B,)
    """
    if len(targets) == 0:
        raise ValueError("targets must hold at least one word")
    lengths = np.array([len(t) for t in targets])
    if lengths.min() < 1:
        raise ValueError("every word needs at least one target (its end)")
    T, B = int(lengths.max()), len(targets)
    tgt = np.full((T, B), PAD, dtype=np.int64)
    inp = np.full((T, B), PAD, dtype=np.int64)
    for b, t in enumerate(targets):
        n = len(t)
        tgt[:n, b] = t
        inp[0, b] = BOUNDARY
        inp[1:n, b] = t[:-1]
    return Batch(torch.from_numpy(inp), torch.from_numpy(tgt), torch.from_numpy(lengths))


def length_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """``mask[t, b] = t < lengths[b]``: the real (not padded) entries of a (T, B) batch."""
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-D (B,), got shape {tuple(lengths.shape)}")
    return torch.arange(T)[:, None] < lengths[None, :]


def masked_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    lengths: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Cross-entropy (nats) over the real symbols of a padded batch.

    .. math::

        \mathcal{L} = \frac{1}{\sum_b n_b} \sum_b \sum_{t < n_b} -\ln p(s_{t,b})

    with :math:`n_b` = ``lengths[b]``: every real symbol counts once, whatever its word's
    length, and padded positions count not at all. ``lengths=None`` counts every position.

    Parameters
    ----------
    logits : (T, B, V)
    targets : (T, B) int64
    lengths : (B,), optional
    reduction : "mean" (per symbol) or "sum"
    """
    if logits.dim() != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(
            f"expected logits (T, B, V) and targets (T, B), got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    nll = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
    )
    nll = nll.reshape(targets.shape)
    if lengths is not None:
        mask = length_mask(lengths, targets.shape[0]).to(nll.dtype)
        total, count = (nll * mask).sum(), mask.sum()
    else:
        total, count = nll.sum(), torch.tensor(float(nll.numel()))
    return total / count if reduction == "mean" else total


def word_batches(
    targets: Sequence[np.ndarray], batch_size: int, bucket: bool = True
) -> Callable[..., Batch]:
    """A ``make_batch(step, rng)`` that serves random training words, ``batch_size`` at a time.

    The words are served in epochs: each epoch shuffles all of them with the generator
    :func:`fit` passes in (seeded through :func:`rnnbook.repro.data_seed`) and serves every
    word once. With ``bucket=True`` each run of 32 batches' worth of shuffled words is sorted
    by length before it is cut into batches, and the batches are shuffled again: every
    batch then holds words of about the same length, so little of it is padding, while each
    word is still seen once per epoch.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if len(targets) < batch_size:
        raise ValueError(f"need at least batch_size = {batch_size} words, got {len(targets)}")
    lengths = np.array([len(t) for t in targets])
    queue: list[np.ndarray] = []

    def epoch(rng: np.random.Generator) -> list[np.ndarray]:
        order = rng.permutation(len(targets))
        order = order[: len(order) - len(order) % batch_size]
        if bucket:
            chunk = 32 * batch_size
            parts = [order[i : i + chunk] for i in range(0, len(order), chunk)]
            order = np.concatenate([p[np.argsort(lengths[p], kind="stable")] for p in parts])
        batches = order.reshape(-1, batch_size)
        return list(batches[rng.permutation(len(batches))])

    def make_batch(step: int, rng: np.random.Generator) -> Batch:
        if not queue:
            queue.extend(epoch(rng))
        return word_batch([targets[i] for i in queue.pop()])

    return make_batch


def stream_batches(ids: np.ndarray, batch_size: int, k: int) -> Callable[..., Batch]:
    """Consecutive segments of a running text, for truncated BPTT with a carried state.

    The text is cut into ``batch_size`` rows of equal length (one contiguous stretch each);
    segment i holds characters ``i k .. (i + 1) k - 1`` of every row as inputs and the
    characters one further as targets, so column b of segment i + 1 continues column b of
    segment i and the state can be carried from one to the next. After the last segment the
    text starts again, and the batch says ``reset=True``.

    Returns
    -------
    make_batch(step, rng) -> Batch with inputs and targets (k, batch_size); it also has the
    attribute ``segments``, the number of segments in one pass over the text.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError("ids must be a 1-D array of integer symbol ids")
    for name, v in (("batch_size", batch_size), ("k", k)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    row = (len(ids) - 1) // batch_size
    segments = row // k
    if segments < 1:
        raise ValueError(f"the text is too short for {batch_size} rows of {k} + 1 characters")
    x = torch.from_numpy(ids[: row * batch_size].astype(np.int64).reshape(batch_size, row).T)
    y = torch.from_numpy(ids[1 : row * batch_size + 1].astype(np.int64))
    y = y.reshape(batch_size, row).T

    def make_batch(step: int, rng: np.random.Generator | None = None) -> Batch:
        i = step % segments
        part = slice(i * k, (i + 1) * k)
        return Batch(x[part].contiguous(), y[part].contiguous(), None, reset=i == 0)

    make_batch.segments = segments  # type: ignore[attr-defined]
    return make_batch


# ----------------------------------------------------------------------------- training


@dataclass
class LMHistory:
    """What :func:`fit` recorded.

    Attributes
    ----------
    loss : ndarray (steps,), the training batch's nats per symbol at each step
    eval_steps : ndarray (E,), the steps after which ``evaluate`` ran (0 = before training)
    evals : dict name -> ndarray (E,), what ``evaluate`` returned (nats per symbol)
    step_time : ndarray (steps,), seconds per step
    meta : dict, the settings (lr, clip, seed, parameters)
    """

    loss: np.ndarray
    eval_steps: np.ndarray
    evals: dict[str, np.ndarray]
    step_time: np.ndarray
    meta: dict = field(default_factory=dict)

    def final(self, name: str = "val") -> float:
        """The last value of an evaluation curve."""
        if name not in self.evals:
            raise KeyError(f"no evaluation {name!r}; have {list(self.evals)}")
        return float(self.evals[name][-1])

    def best(self, name: str = "val") -> float:
        """The lowest value of an evaluation curve."""
        return float(np.min(self.evals[name]))


def _detach(state: object) -> object:
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def fit(
    model: CharLM,
    make_batch: Callable[[int, np.random.Generator], Batch],
    steps: int,
    lr: float,
    clip: float | None = 1.0,
    seed: int = 0,
    evaluate: Callable[[CharLM], dict[str, float]] | None = None,
    eval_every: int | None = None,
    stateful: bool = False,
    pack: bool = False,
) -> LMHistory:
    """Train a language model with Adam on masked cross-entropy; return its history.

    Each step draws ``make_batch(step, rng)``, computes :func:`masked_cross_entropy` of the
    logits against the targets (over the real symbols), back-propagates, clips the gradient
    norm to ``clip`` and takes an Adam step. With ``stateful=True`` (truncated BPTT on a
    running text) the final state of each batch, detached from the graph, is the initial
    state of the next, until a batch says ``reset``.

    The budget is checked and the run seeded by :func:`rnnbook.train.start_run`, as in
    :func:`rnnbook.train.train`: the seed passes through :func:`rnnbook.repro.data_seed` and
    the model's initial weights through :func:`rnnbook.repro.perturb_` (under
    ``RNNBOOK_PERTURB=1`` the run starts elsewhere). Several runs at once:
    :func:`rnnbook.experiments.run_jobs`.

    Parameters
    ----------
    model : CharLM
    make_batch : callable (step, rng) -> Batch
    steps : int
    lr : float, Adam's learning rate
    clip : float or None, the largest gradient norm
    seed : int, seeds the batches and dropout
    evaluate : callable model -> dict name -> nats, optional
        Called (in eval mode, without gradients) before training and every ``eval_every``
        steps (default steps // 10) and after the last.
    eval_every : int, optional
    stateful : bool
    pack : bool
        Pack the padded batch (``pack_padded_sequence``). A model that reads left to right
        gives the same logits at the real positions either way, so the masked loss is the
        same; packing only skips the padded steps (and on a CPU costs more than it saves).
    """
    if not isinstance(model, CharLM):
        raise TypeError(f"model must be a CharLM, got {type(model).__name__}")
    rng = train.start_run(model, steps, lr, clip, seed)  # checks, seeds, perturbs as train
    eval_every = eval_every or max(1, steps // 10)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses, times, eval_steps = [], [], []
    evals: dict[str, list[float]] = {}

    def run_eval(step: int) -> None:
        if evaluate is None:
            return
        model.eval()
        with torch.no_grad():
            for name, value in evaluate(model).items():
                evals.setdefault(name, []).append(float(value))
        model.train()
        eval_steps.append(step)

    run_eval(0)
    model.train()
    state = None
    for step in range(steps):
        start = time.perf_counter()
        batch = make_batch(step, rng)
        if not stateful or batch.reset:
            state = None
        logits, state = model(batch.inputs, batch.lengths if pack else None, state)
        loss = masked_cross_entropy(logits, batch.targets, batch.lengths)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        state = _detach(state) if stateful else None
        times.append(time.perf_counter() - start)
        losses.append(float(loss.detach()))
        if not math.isfinite(losses[-1]):
            break
        if (step + 1) % eval_every == 0 or step == steps - 1:
            run_eval(step + 1)
    if eval_steps and eval_steps[-1] != len(losses):
        run_eval(len(losses))
    model.eval()
    return LMHistory(
        loss=np.array(losses),
        eval_steps=np.array(eval_steps),
        evals={k: np.array(v) for k, v in evals.items()},
        step_time=np.array(times),
        meta={"lr": lr, "clip": clip, "seed": seed, "parameters": model.count_parameters()},
    )
