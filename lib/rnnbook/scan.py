r"""The linear recurrence :math:`h_t = a_t \odot h_{t-1} + b_t`, computed in parallel over time.

Chapter 9. A recurrence whose coefficients :math:`a_t, b_t` do not depend on
:math:`h_{t-1}` is a chain of affine maps :math:`h \mapsto a_t h + b_t`, and composing affine
maps is associative:

.. math::

    (a, b) \circ (a', b') = (a a',\; a' b + b')
    \qquad \text{("first } h \mapsto a h + b \text{, then } h \mapsto a' h + b' \text{")}

so the states are the prefix compositions ("inclusive scan") of the sequence of pairs, which
a parallel machine computes in :math:`O(\log T)` rounds instead of :math:`T` steps.

==================  =====================================  ============  ==================
function            what it computes                       depth         work (combines)
==================  =====================================  ============  ==================
``loop``            the recurrence, one step after another  T             T
``hillis_steele``   inclusive scan by recursive doubling    ceil(log2 T)  T log2 T, about
``blelloch``        work-efficient (Blelloch) scan          2 log2 T - 1  < 2 T
``closed_form``     :math:`A_t (h_0 + \sum_s b_s / A_s)`    (cumprod)     O(T), overflows
``log_space``       the same in log space (Heinsen 2023)    (cumsum)      O(T), needs b > 0
==================  =====================================  ============  ==================

Every function accepts NumPy arrays *or* torch tensors (the same code runs on both; torch
keeps the autograd graph), time-major: ``a`` and ``b`` have shape ``(T, ...)`` (``a`` may
broadcast against ``b``, e.g. ``(T, B, 1, 1)`` against ``(T, B, d, d)`` for a matrix state),
``h0`` has the shape of one step of ``b`` (``None`` means zeros), and the result is
``(T, ...)``: :math:`h_1, \dots, h_T`. ``h0`` enters as :math:`b_1 \leftarrow a_1 h_0 + b_1`.

Linear attention (Katharopoulos et al. 2020) is one such recurrence, with a matrix state:
:func:`causal_linear_attention` computes it both ways.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ScanCount",
    "combine",
    "loop",
    "hillis_steele",
    "blelloch",
    "closed_form",
    "log_space",
    "scan_cost",
    "scan_pattern",
    "METHODS",
    "linear_recurrence",
    "time_methods",
    "elu_feature_map",
    "causal_linear_attention",
]

Array = Any  # an np.ndarray or a torch.Tensor


@dataclass
class ScanCount:
    """What a scan did: ``depth`` rounds that must follow one another, ``work`` combines.

    Pass one to a scan (``counter=ScanCount()``) and it adds what it does; each round is a
    set of combines that could all run at once, each on its own processor.
    """

    depth: int = 0
    work: int = 0

    def round(self, combines: int) -> None:
        """Record one round of ``combines`` independent combines (nothing if there are none)."""
        if combines > 0:
            self.depth += 1
            self.work += combines


# --------------------------------------------------------------------------- NumPy or torch


def _is_torch(x: Array) -> bool:
    return type(x).__module__.startswith("torch")


def _torch():
    import torch

    return torch


def _cat(parts: list[Array]) -> Array:
    if _is_torch(parts[0]):
        import torch

        return torch.cat(parts, dim=0)
    return np.concatenate(parts, axis=0)


def _stack(parts: list[Array], axis: int = 0) -> Array:
    if _is_torch(parts[0]):
        import torch

        return torch.stack(parts, dim=axis)
    return np.stack(parts, axis=axis)


def _prepare(a: Array, b: Array, h0: Array | None, name_a: str = "a", name_b: str = "b"):
    """Check shapes, cast NumPy input to float, broadcast a to b, and fold h0 into b_1."""
    torch_in = _is_torch(a) or _is_torch(b)
    if not torch_in:
        a, b = np.asarray(a), np.asarray(b)
        for name, v in ((name_a, a), (name_b, b)):
            if not np.issubdtype(v.dtype, np.floating):
                raise TypeError(f"{name} must be a floating-point array, got dtype {v.dtype}")
    elif not (_is_torch(a) and _is_torch(b)):
        raise TypeError(f"{name_a} and {name_b} must both be NumPy arrays or both torch tensors")
    if a.ndim < 1 or b.ndim < 1 or a.shape[0] != b.shape[0] or a.shape[0] == 0:
        raise ValueError(
            f"{name_a} and {name_b} must have shape (T, ...) with the same T >= 1, "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    try:
        if a.shape != b.shape:  # broadcast a to b's shape
            ones = (_torch().ones_like if torch_in else np.ones_like)(b[:1])
            a = a * ones
    except (ValueError, RuntimeError) as e:
        raise ValueError(
            f"{name_a} {tuple(a.shape)} does not broadcast against {name_b} {tuple(b.shape)}"
        ) from e
    if a.shape != b.shape:
        raise ValueError(f"{name_a} {tuple(a.shape)} is larger than {name_b} {tuple(b.shape)}")
    if h0 is not None:
        if not torch_in:
            h0 = np.asarray(h0, dtype=b.dtype)
        if tuple(h0.shape) != tuple(b.shape[1:]):
            raise ValueError(
                f"h0 must have the shape of one step of {name_b}, {tuple(b.shape[1:])}, "
                f"got {tuple(h0.shape)}"
            )
        b = _cat([(a[0] * h0 + b[0])[None], b[1:]])
    return a, b


# --------------------------------------------------------------------------- the operator


def combine(first: tuple[Array, Array], second: tuple[Array, Array]) -> tuple[Array, Array]:
    r"""Compose two affine maps: ``first`` applied before ``second``.

    .. math:: (a, b) \circ (a', b') = (a a',\; a' b + b')

    because :math:`a'(a h + b) + b' = (a a') h + (a' b + b')`. The operator is associative
    (so a scan may group the steps in any way) but not commutative (the order of time
    matters). Arrays of any (broadcastable) shapes, NumPy or torch.
    """
    a1, b1 = first
    a2, b2 = second
    return a1 * a2, a2 * b1 + b2


# --------------------------------------------------------------------------- the scans


def loop(a: Array, b: Array, h0: Array | None = None, counter: ScanCount | None = None) -> Array:
    r"""The recurrence step by step: :math:`h_t = a_t \odot h_{t-1} + b_t`, T steps in a row.

    The reference every parallel scan is checked against. Shapes: see the module docstring.
    """
    a, b = _prepare(a, b, h0)
    h = b[0]
    out = [h]
    for t in range(1, a.shape[0]):
        h = a[t] * h + b[t]  # one combine, and it needs the previous one
        out.append(h)
        if counter is not None:
            counter.round(1)
    return _stack(out)


def hillis_steele(
    a: Array, b: Array, h0: Array | None = None, counter: ScanCount | None = None
) -> Array:
    r"""Inclusive scan by recursive doubling (Hillis and Steele 1986).

    Round :math:`k = 0, 1, \dots` combines every element :math:`t \ge 2^k` with the one
    :math:`2^k` places before it; after :math:`\lceil \log_2 T \rceil` rounds element
    :math:`t` holds the composition of steps :math:`1 .. t`. Depth
    :math:`\lceil \log_2 T \rceil`, work :math:`\sum_k (T - 2^k) \approx T \log_2 T`.
    Shapes: see the module docstring.
    """
    a, b = _prepare(a, b, h0)
    T, d = a.shape[0], 1
    while d < T:
        # element t gets (steps t-2d+1 .. t-d) then (steps t-d+1 .. t), for every t >= d at once
        a_new, b_new = combine((a[:-d], b[:-d]), (a[d:], b[d:]))
        a, b = _cat([a[:d], a_new]), _cat([b[:d], b_new])
        if counter is not None:
            counter.round(T - d)
        d *= 2
    return b  # applied to h_0 = 0 (h0 is already in b_1): the composition's offset is h_t


def _blelloch(a: Array, b: Array, counter: ScanCount | None) -> tuple[Array, Array]:
    """Inclusive scan of the pairs (a_t, b_t), work-efficient, recursive."""
    T = a.shape[0]
    if T == 1:
        return a, b
    n = T // 2
    # up: compose neighbours (0, 1), (2, 3), ...: n combines in one round
    pa, pb = combine((a[0 : 2 * n : 2], b[0 : 2 * n : 2]), (a[1 : 2 * n : 2], b[1 : 2 * n : 2]))
    if counter is not None:
        counter.round(n)
    pa, pb = _blelloch(pa, pb, counter)  # prefixes ending at the odd positions 1, 3, 5, ...
    # down: an even position 2k (k >= 1) is the prefix at 2k - 1 composed with its own step
    ea, eb = combine((pa[: T - n - 1], pb[: T - n - 1]), (a[2:T:2], b[2:T:2]))
    if counter is not None:
        counter.round(T - n - 1)
    even_a, even_b = _cat([a[:1], ea]), _cat([b[:1], eb])  # positions 0, 2, 4, ...
    out_a = _stack([even_a[:n], pa], axis=1).reshape(2 * n, *a.shape[1:])
    out_b = _stack([even_b[:n], pb], axis=1).reshape(2 * n, *b.shape[1:])
    if T % 2:  # the last, even, position
        out_a, out_b = _cat([out_a, even_a[n:]]), _cat([out_b, even_b[n:]])
    return out_a, out_b


def blelloch(
    a: Array, b: Array, h0: Array | None = None, counter: ScanCount | None = None
) -> Array:
    r"""Work-efficient inclusive scan (Blelloch 1990), in its recursive form.

    Compose neighbouring pairs :math:`(1, 2), (3, 4), \dots` (one round, :math:`T/2`
    combines), scan the :math:`T/2` pairs the same way (recursion), then fill in each
    odd-numbered step from the prefix just before it (one more round). Depth
    :math:`2 \lceil \log_2 T \rceil - 1` at most, work below :math:`2T`: the same order of
    work as the loop, in logarithmic depth. Shapes: see the module docstring.
    """
    a, b = _prepare(a, b, h0)
    return _blelloch(a, b, counter)[1]


def closed_form(a: Array, b: Array, h0: Array | None = None) -> Array:
    r"""The unrolled recurrence :math:`h_t = A_t \left(\sum_{s \le t} b_s / A_s\right)`.

    With :math:`A_t = a_1 a_2 \cdots a_t` (a cumulative product) and :math:`h_0` folded into
    :math:`b_1`. Exact in real arithmetic, and two library calls (cumprod and cumsum), but in
    floating point :math:`A_t` underflows to 0 (and :math:`1 / A_s` overflows) once the
    product of many :math:`a_t < 1` leaves the range of the type: float64 at about
    :math:`10^{-308}`, reached by :math:`0.9^t` at :math:`t \approx 6700`. Then the result is
    NaN or inf (NumPy warns). Needs every :math:`a_t \ne 0`.
    """
    a, b = _prepare(a, b, h0)
    if _is_torch(a):
        import torch

        A = torch.cumprod(a, dim=0)
        return A * torch.cumsum(b / A, dim=0)
    A = np.cumprod(a, axis=0)
    return A * np.cumsum(b / A, axis=0)


def log_space(log_a: Array, log_b: Array, log_h0: Array | None = None) -> Array:
    r"""The closed form in log space, for positive :math:`a_t` and :math:`b_t` (Heinsen 2023).

    .. math::

        a^*_t = \sum_{s \le t} \log a_s, \qquad
        \log h_t = a^*_t + \log \sum_{s \le t} \exp(\log b_s - a^*_s)

    the second sum a log-cumsum-exp, which never overflows. This is the form in which Feng et
    al. (2024) train minGRU and minLSTM; it needs :math:`b_t > 0` (and :math:`h_0 > 0`), which
    is why their log-space candidate passes through a positive function :math:`g`.

    Parameters
    ----------
    log_a, log_b : (T, ...) logs of the coefficients (``log_a`` may broadcast to ``log_b``)
    log_h0 : (...) optional, the log of the initial state (None: :math:`h_0 = 0`)

    Returns
    -------
    h : (T, ...), not its log.
    """
    torch_in = _is_torch(log_a) or _is_torch(log_b)
    if not torch_in:
        log_a, log_b = np.asarray(log_a), np.asarray(log_b)
    if log_a.ndim < 1 or log_b.ndim < 1 or log_a.shape[0] != log_b.shape[0]:
        raise ValueError(
            f"log_a and log_b must have shape (T, ...) with the same T, "
            f"got {tuple(log_a.shape)} and {tuple(log_b.shape)}"
        )
    if torch_in:
        import torch

        a_star = torch.cumsum(log_a, dim=0) + torch.zeros_like(log_b)
        terms = log_b - a_star
        if log_h0 is not None:  # h0 = exp(log_h0) enters with a*_0 = 0
            terms = torch.cat([log_h0[None] + torch.zeros_like(log_b[:1]), terms])
            return torch.exp(a_star + torch.logcumsumexp(terms, dim=0)[1:])
        return torch.exp(a_star + torch.logcumsumexp(terms, dim=0))
    a_star = np.cumsum(log_a, axis=0) + np.zeros_like(log_b)
    terms = log_b - a_star
    if log_h0 is not None:
        terms = np.concatenate([np.asarray(log_h0)[None] + np.zeros_like(log_b[:1]), terms])
        return np.exp(a_star + np.logaddexp.accumulate(terms, axis=0)[1:])
    return np.exp(a_star + np.logaddexp.accumulate(terms, axis=0))


def _reverse_scan(a: Array, d: Array) -> Array:
    r"""The backward recurrence :math:`g_t = d_t + a_{t+1} g_{t+1}` (:math:`g_T = d_T`), by
    :func:`blelloch` on the time-reversed sequences."""
    a_next = _cat([a[1:], a[:1] * 0])  # a_{t+1}, and nothing after the last step
    return _flip(blelloch(_flip(a_next), _flip(d)))


def _flip(x: Array) -> Array:
    return x.flip(0) if _is_torch(x) else x[::-1]


def linear_recurrence(a: Array, b: Array, h0: Array | None = None) -> Array:
    r""":math:`h_t = a_t \odot h_{t-1} + b_t` by :func:`blelloch`; its backward is a scan too.

    Differentiating :math:`h_t = a_t h_{t-1} + b_t` gives, for the gradient
    :math:`g_t = \partial L / \partial h_t` that reaches each state,

    .. math::

        g_t = \bar y_t + a_{t+1} g_{t+1}, \qquad
        \frac{\partial L}{\partial b_t} = g_t, \quad
        \frac{\partial L}{\partial a_t} = g_t h_{t-1}, \quad
        \frac{\partial L}{\partial h_0} = a_1 g_1

    where :math:`\bar y_t` is the gradient from the layers above: the same linear
    recurrence, run backwards in time. For torch tensors this is a
    :class:`torch.autograd.Function` whose backward is that reverse scan, instead of the
    autograd graph of every combine; for NumPy arrays it is :func:`blelloch`. ``a`` and ``b``
    must have the same shape (T, ...); ``h0`` (...) or None.
    """
    if not _is_torch(a):
        return blelloch(a, b, h0)
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"a and b must have the same shape, got {tuple(a.shape)}, {tuple(b.shape)}"
        )
    if h0 is None:
        h0 = b[0] * 0
    return _LinearRecurrence.apply(a, b, h0)


def _make_function():
    import torch

    class LinearRecurrence(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, h0):
            h = blelloch(a, b, h0)
            ctx.save_for_backward(a, h, h0)
            return h

        @staticmethod
        def backward(ctx, g_out):
            a, h, h0 = ctx.saved_tensors
            g = _reverse_scan(a, g_out)  # dL/dh_t, every t
            h_prev = torch.cat([h0[None], h[:-1]])
            return g * h_prev, g, a[0] * g[0]

    return LinearRecurrence


class _Lazy:
    """Build the torch Function on first use, so that importing this module needs no torch."""

    fn = None

    def apply(self, *args):
        if _Lazy.fn is None:
            _Lazy.fn = _make_function()
        return _Lazy.fn.apply(*args)


_LinearRecurrence = _Lazy()


METHODS = {"loop": loop, "hillis_steele": hillis_steele, "blelloch": blelloch}
"""The scans that take (a, b, h0, counter), by name."""


def scan_cost(method: str, T: int) -> ScanCount:
    """Depth and work of ``method`` ("loop", "hillis_steele", "blelloch") on T steps, by formula.

    ``loop``: depth T - 1, work T - 1 (the first step only sets h_1 = b_1).
    ``hillis_steele``: depth ceil(log2 T), work sum over d = 1, 2, 4, ... < T of (T - d).
    ``blelloch``: the recursion W(T) = floor(T/2) + (ceil(T/2) - 1) + W(floor(T/2)),
    depth D(T) = D(floor(T/2)) + 1 + [T > 2] (the fill-in round is empty for T = 2).
    The scans count what they actually do (``counter=``); a test checks both agree.
    """
    if isinstance(T, bool) or not isinstance(T, int | np.integer) or T < 1:
        raise ValueError(f"T must be a positive int, got {T!r}")
    T = int(T)
    if method == "loop":
        return ScanCount(T - 1, T - 1)
    if method == "hillis_steele":
        depth = math.ceil(math.log2(T)) if T > 1 else 0
        return ScanCount(depth, sum(T - 2**k for k in range(depth)))
    if method == "blelloch":
        count, n = ScanCount(), T
        while n > 1:
            half = n // 2
            count.round(half)
            count.round(n - half - 1)
            n = half
        return count
    raise ValueError(f"method must be one of {tuple(METHODS)}, got {method!r}")


def scan_pattern(method: str, T: int) -> list[list[tuple[int, int]]]:
    """Which steps each round of ``method`` combines: a list of rounds, each a list of pairs
    ``(source, target)`` of 0-based positions (the target's prefix is extended by the
    source's, which lies before it). For drawing; ``len`` of each round is that round's work
    in :func:`scan_cost`, and the rounds are the depth.
    """
    cost = scan_cost(method, T)  # checks method and T
    if method == "loop":
        return [[(t - 1, t)] for t in range(1, T)]
    if method == "hillis_steele":
        return [[(t - 2**k, t) for t in range(2**k, T)] for k in range(cost.depth)]
    ups: list[list[tuple[int, int]]] = []  # the combining rounds, top level first
    downs: list[list[tuple[int, int]]] = []  # the filling-in rounds, deepest level first
    positions = list(range(T))  # each element stands for the block of steps ending here
    while len(positions) > 1:
        n = len(positions) // 2
        ups.append([(positions[2 * j], positions[2 * j + 1]) for j in range(n)])
        downs.insert(
            0, [(positions[2 * j - 1], positions[2 * j]) for j in range(1, len(positions) - n)]
        )
        positions = [positions[2 * j + 1] for j in range(n)]
    return [r for r in ups + downs if r]


def _calls(method: Callable, a: Array, b: Array, n: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(n):
            method(a, b)

    return run


def time_methods(
    lengths: Sequence[int],
    shape: tuple[int, ...] = (4, 32),
    methods: Sequence[str] = tuple(METHODS),
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Median CPU seconds of one call of each scan in torch (float32, no autograd), per T.

    For each ``T`` in ``lengths``, draws ``a`` uniform in (0.5, 1) and ``b`` normal, of shape
    ``(T, *shape)`` (a batch of states), and times ``METHODS[m](a, b)`` for every method with
    :func:`rnnbook.timing.median_times`: the methods' calls interleaved, one warm-up round, the
    median of ``repeats`` rounds. A round of a short ``T`` makes ``max(1, 4096 // T)`` calls, so
    that no timed interval is a fraction of a millisecond (which a busy machine's scheduler
    would swamp). CPU time counts this process only, so other programs on the machine disturb
    it less than wall time (with one thread it is the wall time of an idle machine). Returns a
    dict method -> array of seconds per call, one per length.
    """
    import torch

    from rnnbook.timing import median_times

    for m in methods:
        if m not in METHODS:
            raise ValueError(f"methods must be among {tuple(METHODS)}, got {m!r}")
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, list[float]] = {m: [] for m in methods}
    with torch.no_grad():
        for T in lengths:
            a = 0.5 + 0.5 * torch.rand(int(T), *shape, generator=gen)
            b = torch.randn(int(T), *shape, generator=gen)
            calls = max(1, 4096 // int(T))
            fns = {m: _calls(METHODS[m], a, b, calls) for m in methods}
            for m, sec in median_times(fns, repeats=repeats).items():
                out[m].append(sec / calls)
    return {m: np.array(v) for m, v in out.items()}


# --------------------------------------------------------------------------- linear attention


def elu_feature_map(x: Array) -> Array:
    r"""Katharopoulos et al.'s feature map: :math:`\phi(x) = \mathrm{elu}(x) + 1 > 0`."""
    if _is_torch(x):
        import torch

        return torch.nn.functional.elu(x) + 1.0
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def causal_linear_attention(
    q: Array, k: Array, v: Array, method: str = "parallel", eps: float = 1e-6
) -> Array:
    r"""Causal linear attention (Katharopoulos et al. 2020), in parallel or as an RNN.

    With positive features :math:`\phi(q_t), \phi(k_s)` (:func:`elu_feature_map`), the
    output at step t is

    .. math::

        y_t = \frac{\sum_{s \le t} \big(\phi(q_t)^\top \phi(k_s)\big)\, v_s}
                   {\sum_{s \le t} \phi(q_t)^\top \phi(k_s)}
            = \frac{\phi(q_t)^\top S_t}{\phi(q_t)^\top z_t}, \qquad
        S_t = S_{t-1} + \phi(k_t) v_t^\top, \quad z_t = z_{t-1} + \phi(k_t)

    ``method="parallel"``: the left form, a (T, T) matrix of scores with the future masked
    out, as attention is computed. ``"recurrent"``: the right form, a loop over a matrix
    state :math:`S_t` (d_k, d_v) and a vector :math:`z_t`: an RNN. ``"scan"``: the same
    recurrence (:math:`a_t = 1`, :math:`b_t = \phi(k_t) v_t^\top`) by :func:`blelloch`.

    Parameters
    ----------
    q, k : (T, B, d_k); v : (T, B, d_v); NumPy or torch
    method : "parallel", "recurrent" or "scan"
    eps : added to the denominator

    Returns
    -------
    y : (T, B, d_v)
    """
    if q.ndim != 3 or k.shape != q.shape or v.ndim != 3 or v.shape[:2] != q.shape[:2]:
        raise ValueError(
            f"expected q, k (T, B, d_k) and v (T, B, d_v), got {tuple(q.shape)}, "
            f"{tuple(k.shape)}, {tuple(v.shape)}"
        )
    fq, fk = elu_feature_map(q), elu_feature_map(k)
    if method == "parallel":
        T = q.shape[0]
        if _is_torch(q):
            import torch

            scores = torch.einsum("tbd,sbd->bts", fq, fk)
            scores = scores * torch.tril(torch.ones(T, T, dtype=scores.dtype))
            weighted = torch.einsum("bts,sbe->tbe", scores, v)
            return weighted / (scores.sum(-1).T[..., None] + eps)
        scores = np.einsum("tbd,sbd->bts", fq, fk) * np.tril(np.ones((T, T)))  # (B, T, S)
        return np.einsum("bts,sbe->tbe", scores, v) / (scores.sum(-1).T[..., None] + eps)
    if method not in ("recurrent", "scan"):
        raise ValueError(f"method must be 'parallel', 'recurrent' or 'scan', got {method!r}")
    kv = fk[..., :, None] * v[..., None, :]  # phi(k_t) v_t^T, (T, B, d_k, d_v)
    ones = fk[..., :1, None] * 0 + 1  # a_t = 1, (T, B, 1, 1)
    scan = loop if method == "recurrent" else blelloch
    S = scan(ones, kv)  # S_t, (T, B, d_k, d_v)
    z = scan(ones[..., 0], fk)  # z_t, (T, B, d_k)
    num = (fq[..., :, None] * S).sum(-2)  # phi(q_t)^T S_t, (T, B, d_v)
    den = (fq * z).sum(-1)[..., None] + eps
    return num / den
