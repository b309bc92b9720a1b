"""Decoding an encoder-decoder one token at a time, and scoring what it wrote (chapter 8).

A trained :class:`rnnbook.models.Seq2Seq` gives :math:`p(y_t \\mid y_{<t}, x)`; a decoder
turns that into an output sequence.

- :func:`greedy` takes the most probable token at every step and feeds it back.
- :func:`beam_search` keeps the ``beam_size`` most probable prefixes at every step
  (:func:`beam_step` is one step of it), and returns the best finished one, optionally
  with the length normalisation of Wu et al. (2016), :func:`length_penalty`.
- :func:`sequence_log_prob` scores a given output under the model (teacher-forced), the
  quantity both searches try to maximise: :math:`\\log p(y \\mid x) = \\sum_t \\log
  p(y_t \\mid y_{<t}, x)`, the end token included.
- :func:`edit_distance` (Levenshtein) and :func:`error_rates` score outputs against
  references: the phoneme error rate (edits over reference phonemes) and the word error
  rate (words not exactly right).
- :func:`monotonicity` measures how often attention moves forward through the source.

The model is used through two methods: ``model.encode(src)`` and ``model.decode(tokens,
state, enc)`` (see :class:`rnnbook.models.Seq2Seq`); ``model.bos`` is the start token and
the end token is passed as ``eos``. Every search works on a batch of sources of one length,
``src`` (S, B), and returns one :class:`Hypothesis` per source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "Hypothesis",
    "greedy",
    "beam_step",
    "beam_search",
    "length_penalty",
    "sequence_log_prob",
    "edit_distance",
    "ErrorRates",
    "error_rates",
    "after_first_mistake",
    "monotonicity",
    "PrefixModel",
]


@dataclass
class Hypothesis:
    """One decoded output.

    Attributes
    ----------
    tokens : the output tokens, without the end token
    log_prob : :math:`\\log p(\\text{tokens}, \\text{EOS} \\mid x)` under the model (the end
        token's term included when ``finished``)
    finished : whether the end token was written within ``max_len`` steps
    weights : attention weights (steps, S), one row per output step (the end token's
        included), or None for a model without attention
    """

    tokens: tuple[int, ...]
    log_prob: float
    finished: bool
    weights: np.ndarray | None = None

    def __len__(self) -> int:
        """Output length counted as the search counts it: tokens plus the end token."""
        return len(self.tokens) + int(self.finished)


def _check_search(model, src: torch.Tensor, eos: int, max_len: int) -> None:
    if not all(hasattr(model, name) for name in ("encode", "decode", "bos")):
        raise TypeError("model must have encode(src), decode(tokens, state, enc) and bos")
    if not isinstance(src, torch.Tensor) or torch.is_floating_point(src) or src.dim() != 2:
        raise ValueError("src must be a (S, B) tensor of integer tokens")
    if isinstance(eos, bool) or not isinstance(eos, int) or eos < 0:
        raise ValueError(f"eos must be a token, an int >= 0, got {eos!r}")
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be a positive int, got {max_len!r}")


def _select(state: object, index: torch.Tensor) -> object:
    """Rows ``index`` of a recurrent state (1, N, H), or of each tensor of an LSTM's (h, c)."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


def _log_probs(logits: torch.Tensor) -> np.ndarray:
    """Log-softmax of one step's logits (1, N, V), as float64 (N, V)."""
    return torch.log_softmax(logits[0], dim=-1).double().numpy()


@torch.no_grad()
def greedy(model, src: torch.Tensor, eos: int, max_len: int) -> list[Hypothesis]:
    """Greedy decoding: at every step write the most probable token and read it back.

    Parameters
    ----------
    model : a :class:`rnnbook.models.Seq2Seq` (anything with ``encode``, ``decode``, ``bos``)
    src : (S, B) source tokens
    eos : the end token; a source's output stops after it
    max_len : at most this many steps (the end token included)

    Returns
    -------
    list of B :class:`Hypothesis`
    """
    _check_search(model, src, eos, max_len)
    enc, state = model.encode(src)
    B = src.shape[1]
    token = torch.full((1, B), model.bos, dtype=torch.long)
    log_prob, done = np.zeros(B), np.zeros(B, dtype=bool)
    tokens, weights = [], []
    for _ in range(max_len):
        logits, w, state = model.decode(token, state, enc)
        lp = _log_probs(logits)
        best = lp.argmax(axis=-1)
        log_prob += np.where(done, 0.0, lp[np.arange(B), best])
        tokens.append(np.where(done, eos, best))
        weights.append(None if w is None else w[0].numpy())
        done |= best == eos
        if done.all():
            break
        token = torch.from_numpy(best)[None]
    out = []
    for b in range(B):
        seq = [int(step[b]) for step in tokens]
        finished = eos in seq
        n = seq.index(eos) if finished else len(seq)
        w = None if weights[0] is None else np.stack([s[b] for s in weights[: n + finished]])
        out.append(Hypothesis(tuple(seq[:n]), float(log_prob[b]), finished, w))
    return out


def beam_step(
    scores: np.ndarray, log_probs: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of beam search: the ``k`` best one-token extensions of the beam.

    Every prefix ``i`` of the beam, with log-probability ``scores[i]``, can be extended by
    every token ``v``, giving ``scores[i] + log_probs[i, v]``; keep the ``k`` largest of
    all ``K * V`` sums, best first (ties: the smaller ``i * V + v`` first).

    Parameters
    ----------
    scores : (..., K) log-probabilities of the K prefixes (-inf for an empty slot)
    log_probs : (..., K, V) log-probabilities of the next token after each prefix
    k : how many extensions to keep, at most K * V

    Returns
    -------
    new_scores : (..., k), in decreasing order
    origins : (..., k) ints, the prefix each extension extends
    tokens : (..., k) ints, the token it appends
    """
    scores, log_probs = np.asarray(scores, dtype=float), np.asarray(log_probs, dtype=float)
    if log_probs.ndim < 2 or scores.shape != log_probs.shape[:-1]:
        raise ValueError(
            f"scores must be (..., K) and log_probs (..., K, V), got {scores.shape} and "
            f"{log_probs.shape}"
        )
    K, V = log_probs.shape[-2:]
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= K * V:
        raise ValueError(f"k must be an int from 1 to K * V = {K * V}, got {k!r}")
    total = (scores[..., :, None] + log_probs).reshape(*scores.shape[:-1], K * V)
    order = np.argsort(-total, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(total, order, axis=-1), order // V, order % V


def length_penalty(length: int | np.ndarray, alpha: float) -> float | np.ndarray:
    """Wu et al. (2016)'s length penalty :math:`((5 + |y|) / 6)^\\alpha`.

    A hypothesis is ranked by ``log_prob / length_penalty(len, alpha)``: ``alpha = 0`` is
    the plain log-probability, larger ``alpha`` favours longer outputs.
    """
    return ((5.0 + np.asarray(length, dtype=float)) / 6.0) ** alpha


@torch.no_grad()
def beam_search(
    model, src: torch.Tensor, eos: int, max_len: int, beam_size: int, alpha: float = 0.0
) -> list[Hypothesis]:
    """Beam search: keep the ``beam_size`` most probable prefixes at every step.

    A prefix that has written the end token is finished: it stays in the beam with its
    score (its only extension is the end token again, at no cost) until better prefixes
    push it out. The search stops when every prefix of every source is finished, or after
    ``max_len`` steps; each source returns the finished hypothesis of its final beam with
    the largest ``log_prob / length_penalty(len, alpha)`` (an unfinished one only if none
    finished). With ``beam_size=1`` this is :func:`greedy`.

    Parameters
    ----------
    model, src, eos, max_len : as for :func:`greedy`
    beam_size : int >= 1 (slots beyond the candidates there are stay empty, at -inf)
    alpha : float, default 0 (no length normalisation)

    Returns
    -------
    list of B :class:`Hypothesis`
    """
    _check_search(model, src, eos, max_len)
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be a positive int, got {beam_size!r}")
    enc, state = model.encode(src)
    B, K = src.shape[1], beam_size
    rows = torch.arange(B).repeat_interleave(K)  # the beam of source b is rows b*K .. b*K+K-1
    enc, state = enc.index_select(1, rows), _select(state, rows)
    scores = np.full((B, K), -np.inf)
    scores[:, 0] = 0.0  # one prefix to start with: BOS
    finished = np.zeros((B, K), dtype=bool)
    token = torch.full((1, B * K), model.bos, dtype=torch.long)
    steps = []  # (origins, tokens, weights) of every step, to trace the hypotheses back
    for _ in range(max_len):
        logits, w, state = model.decode(token, state, enc)
        lp = _log_probs(logits).reshape(B, K, -1)
        lp[finished] = -np.inf
        lp[finished, eos] = 0.0  # a finished prefix only repeats EOS, at no cost
        scores, origins, tokens = beam_step(scores, lp, K)
        finished = np.take_along_axis(finished, origins, axis=1) | (tokens == eos)
        steps.append((origins, tokens, None if w is None else w[0].numpy().reshape(B, K, -1)))
        rows = torch.from_numpy((np.arange(B)[:, None] * K + origins).reshape(-1))
        state = _select(state, rows)
        if finished.all():
            break
        token = torch.from_numpy(tokens.reshape(1, -1))
    out = []
    for b in range(B):
        hyps = [_trace(steps, b, k, scores[b, k], finished[b, k], eos) for k in range(K)]
        # finished outputs first (an output cut at max_len never ended), then the score
        ranked = [
            (h.finished and np.isfinite(h.log_prob), h.log_prob / length_penalty(len(h), alpha))
            for h in hyps
        ]
        out.append(hyps[max(range(K), key=ranked.__getitem__)])
    return out


def _trace(steps: list, b: int, k: int, score: float, finished: bool, eos: int) -> Hypothesis:
    """Follow hypothesis ``k`` of source ``b`` back through the beam's steps."""
    tokens, weights = [], []
    for origins, toks, w in reversed(steps):
        tokens.append(int(toks[b, k]))
        if w is not None:
            weights.append(w[b, origins[b, k]])  # computed by the prefix it extends
        k = int(origins[b, k])
    tokens.reverse()
    weights.reverse()
    n = tokens.index(eos) if finished else len(tokens)
    w = np.stack(weights[: n + finished]) if weights else None
    return Hypothesis(tuple(tokens[:n]), float(score), bool(finished), w)


@torch.no_grad()
def sequence_log_prob(
    model, src: torch.Tensor, outputs: Sequence[Sequence[int]], eos: int
) -> np.ndarray:
    """:math:`\\log p(y \\mid x)` of given outputs, teacher-forced, the end token included.

    Parameters
    ----------
    model : a :class:`rnnbook.models.Seq2Seq`
    src : (S, B) source tokens
    outputs : B token sequences (without the end token, which is appended)
    eos : the end token

    Returns
    -------
    (B,) float64 array
    """
    if len(outputs) != src.shape[1]:
        raise ValueError(f"need one output per source ({src.shape[1]}), got {len(outputs)}")
    ys = [[*map(int, y), eos] for y in outputs]
    T = max(len(y) for y in ys)
    tgt = torch.full((T, len(ys)), eos, dtype=torch.long)
    for b, y in enumerate(ys):
        tgt[: len(y), b] = torch.tensor(y)
    logits, _ = model(src, tgt)
    lp = torch.log_softmax(logits, dim=-1).double().gather(-1, tgt[..., None])[..., 0]
    mask = torch.arange(T)[:, None] < torch.tensor([len(y) for y in ys])[None]
    return (lp * mask).sum(0).numpy()


# --------------------------------------------------------------------------- error rates


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions (each
    costing 1) that turn the sequence ``a`` into ``b``.

    The dynamic programme of Wagner and Fischer (1974): ``D[i][j]``, the distance between
    the first ``i`` items of ``a`` and the first ``j`` of ``b``, is
    ``min(D[i-1][j] + 1, D[i][j-1] + 1, D[i-1][j-1] + [a_i != b_j])``, with
    ``D[i][0] = i`` and ``D[0][j] = j``; kept one row at a time. O(len(a) len(b)) time.
    """
    a, b = list(a), list(b)
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class ErrorRates:
    """Phoneme and word error rates of a set of outputs against references.

    ``per = edits / phonemes`` (edits: the sum of the edit distances; phonemes: the sum of
    the reference lengths) and ``wer = wrong / words`` (outputs not exactly their reference).
    """

    per: float
    wer: float
    edits: int
    phonemes: int
    wrong: int
    words: int


def error_rates(outputs: Sequence[Sequence], references: Sequence[Sequence]) -> ErrorRates:
    """Phoneme error rate and word error rate of ``outputs`` against ``references``."""
    if len(outputs) != len(references) or not references:
        raise ValueError(
            f"need as many outputs as references (> 0), got {len(outputs)} and {len(references)}"
        )
    distances = [edit_distance(o, r) for o, r in zip(outputs, references, strict=True)]
    phonemes = sum(len(r) for r in references)
    if phonemes == 0:
        raise ValueError("the references are all empty: the phoneme error rate is undefined")
    wrong = sum(tuple(o) != tuple(r) for o, r in zip(outputs, references, strict=True))
    edits = sum(distances)
    n = len(references)
    return ErrorRates(edits / phonemes, wrong / n, edits, phonemes, wrong, n)


def after_first_mistake(
    free: Sequence, forced: Sequence, reference: Sequence
) -> tuple[int, int, int]:
    """How a decoder fares after its first mistake, free-running and teacher-forced.

    ``free`` is what the decoder wrote reading its own outputs; ``forced`` what it predicts
    at each of the reference's positions reading the reference (``len(reference)`` items);
    all three end with the end token (``free`` may lack it if it never ended). Let ``k`` be
    the first position where ``free`` differs from ``reference``. Up to ``k`` both decoders
    read the same prefix; after it, the free-running one reads a prefix with a mistake in it.

    Returns
    -------
    (free_errors, forced_errors, positions): the edit distance between ``free[k+1:]`` and
    ``reference[k+1:]``, the number of positions after ``k`` where ``forced`` differs from
    ``reference``, and ``len(reference) - k - 1``; ``(0, 0, 0)`` if ``free`` is right.
    """
    free, forced, reference = list(free), list(forced), list(reference)
    if len(forced) != len(reference):
        raise ValueError(f"forced needs one prediction per reference position, got {len(forced)}")
    k = next((i for i, (a, b) in enumerate(zip(free, reference, strict=False)) if a != b), None)
    if k is None:
        if len(free) == len(reference):
            return 0, 0, 0
        k = min(len(free), len(reference))
    rest = reference[k + 1 :]
    forced_errors = sum(a != b for a, b in zip(forced[k + 1 :], rest, strict=True))
    return edit_distance(free[k + 1 :], rest), forced_errors, len(rest)


# --------------------------------------------------------------------------- alignments


def monotonicity(weights: Sequence[np.ndarray]) -> float:
    """Fraction of output steps at which attention's peak does not move backwards.

    For each matrix of weights (steps, S), take the source position of the largest weight
    at every step, and count the consecutive pairs of steps whose second peak is at the
    same or a later position than the first. A monotonic (left-to-right) alignment gives 1;
    peaks in random order give about one half (a little more, for ties).

    Parameters
    ----------
    weights : sequence of arrays (steps_i, S_i), e.g. ``Hypothesis.weights``

    Returns
    -------
    float in [0, 1], over all pairs of all matrices
    """
    forward = pairs = 0
    for w in weights:
        w = np.asarray(w)
        if w.ndim != 2:
            raise ValueError(f"each weights matrix must be (steps, S), got shape {w.shape}")
        peaks = w.argmax(axis=1)
        forward += int((np.diff(peaks) >= 0).sum())
        pairs += max(len(peaks) - 1, 0)
    if pairs == 0:
        raise ValueError("need at least one matrix with two or more steps")
    return forward / pairs


# --------------------------------------------------------------------------- a model by table


class PrefixModel:
    """A stand-in for a trained model, whose next-token distribution is looked up by prefix.

    ``table[prefix]`` is the distribution over the ``vocab`` tokens after ``prefix`` (a tuple
    of tokens); a prefix not in the table gets the uniform distribution. It has the
    ``encode`` / ``decode`` / ``bos`` interface of :class:`rnnbook.models.Seq2Seq` (the
    source is ignored; the state is the prefix, a (1, N, t) tensor), so :func:`greedy` and
    :func:`beam_search` run on it: small examples where every probability is chosen by hand.
    """

    def __init__(self, table: dict[tuple[int, ...], Sequence[float]], vocab: int) -> None:
        for prefix, p in table.items():
            p = np.asarray(p, dtype=float)
            if p.shape != (vocab,) or (p < 0).any() or not np.isclose(p.sum(), 1.0):
                raise ValueError(f"table[{prefix}] must be a distribution over {vocab} tokens")
        self.table, self.vocab, self.bos = table, vocab, vocab

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B = src.shape[1]
        return torch.zeros(1, B, 1), torch.zeros((1, B, 0), dtype=torch.long)

    def decode(self, tokens: torch.Tensor, state: torch.Tensor, enc: torch.Tensor):
        if int(tokens[0, 0]) != self.bos:  # not the start token: extend the prefixes
            state = torch.cat([state, tokens[0][None, :, None]], dim=-1)
        uniform = np.full(self.vocab, 1.0 / self.vocab)
        rows = [np.asarray(self.table.get(tuple(p), uniform)) for p in state[0].tolist()]
        with np.errstate(divide="ignore"):
            logits = torch.tensor(np.log(np.array(rows)))[None]
        return logits, None, state
