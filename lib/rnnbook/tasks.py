"""The book's data: small sequence tasks, generated from a seed, never downloaded.

Every generator returns NumPy arrays in the library's time-major layout: a batch of
``n`` sequences of length ``T`` with ``I`` features each is an array of shape
``(T, n, I)``; integer token sequences are ``(T, n)``. The ``seed`` argument goes
through :func:`numpy.random.default_rng`, so it may be an int, ``None`` or an existing
:class:`numpy.random.Generator` (a training loop passes its own generator, and each call
draws a fresh batch from it).

Convert a batch for PyTorch with ``torch.from_numpy(x)``; floating-point tasks use
``float32`` by default for that reason (``dtype=`` changes it), integer targets are
``int64`` as :func:`torch.nn.functional.cross_entropy` expects.

=====================  =========================================  ==========================
task                   inputs                                     targets
=====================  =========================================  ==========================
memory_example         (3, 1, 2) float64                          (computed by the chapter)
w_chain                (T, 1, 1) float64                          y_T = w**(T-1)
adding_problem         (T, n, 2)                                  (n,)
copy_task              (T+20, n, 10) one-hot (or (T+20, n) ints)  (T+20, n) ints
running_parity         (T, n, 1) bits                             (T, n) ints in {0, 1}
noisy_sine             (T, n, 1)                                  (T, n, 1) next value
reverse_digits         (T, n) ints                                (T, n) ints
sort_digits            (T, n) ints                                (T, n) ints
=====================  =========================================  ==========================
"""

from __future__ import annotations

import math

import numpy as np

from rnnbook import repro

Seed = int | np.random.Generator | None

__all__ = [
    "memory_example",
    "w_chain",
    "adding_problem",
    "adding_baseline_mse",
    "copy_task",
    "copy_baseline_ce",
    "running_parity",
    "noisy_sine",
    "reverse_digits",
    "sort_digits",
]


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


# --------------------------------------------------------------------------- chapter 1, 2


def memory_example() -> np.ndarray:
    """The inputs of the memory example: ``[1, 1], [1, 1], [2, 2]``.

    With every weight 1, no bias, linear activations and the memory starting at 0, an
    Elman network (which stores its hidden values) turns these inputs into the hidden
    values ``[2, 2], [6, 6], [16, 16]`` and the outputs ``[4, 4], [12, 12], [32, 32]``;
    a Jordan network (which stores its output) gives different outputs.

    Returns
    -------
    ndarray, shape (3, 1, 2), float64
        Time-major: 3 steps, a batch of one sequence, 2 input features.
    """
    return np.array([[[1.0, 1.0]], [[1.0, 1.0]], [[2.0, 2.0]]])


def w_chain(T: int) -> np.ndarray:
    """Input of the w-chain: 1 at the first step, then ``T - 1`` zeros.

    A one-unit linear RNN ``h_t = w h_{t-1} + x_t`` with ``h_0 = 0`` (output ``y_t = h_t``)
    reads this sequence and ends with ``y_T = w**(T-1)``: for ``T = 1000``, ``w = 1``
    gives 1 and ``w = 1.01`` gives ``1.01**999`` (about 20 752).

    Parameters
    ----------
    T : int
        Sequence length, ``T >= 1``.

    Returns
    -------
    ndarray, shape (T, 1, 1), float64
    """
    T = _check_int("T", T, 1)
    x = np.zeros((T, 1, 1))
    x[0, 0, 0] = 1.0
    return x


# --------------------------------------------------------------------------- long-range benchmarks


def adding_problem(
    n: int, T: int, seed: Seed = None, dtype: np.dtype | type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter and Schmidhuber 1997; this form: Arjovsky et al. 2016).

    Each sequence has two input channels. Channel 0 holds values drawn uniformly from
    ``[0, 1)``; channel 1 is a two-hot marker: exactly two steps are 1, one chosen
    uniformly in the first half (steps ``0 .. T//2 - 1``) and one in the second half
    (steps ``T//2 .. T - 1``), the form stated by Arjovsky, Shah and Bengio (2016). The
    target is the sum of the two marked values, read after the last step:

    .. math:: y = \\sum_t x_{t,0}\\, x_{t,1}.

    Always predicting 1 (the mean of ``y``) scores the mean squared error
    ``Var(y) = 2/12 = 1/6``: see :func:`adding_baseline_mse`.

    Parameters
    ----------
    n : int
        Number of sequences, ``n >= 1``.
    T : int
        Sequence length, ``T >= 2``.
    seed : int, Generator or None
    dtype : floating dtype of both arrays (default float32, PyTorch's default).

    Returns
    -------
    x : ndarray, shape (T, n, 2)
    y : ndarray, shape (n,)
    """
    n = _check_int("n", n, 1)
    T = _check_int("T", T, 2)
    rng = np.random.default_rng(repro.data_seed(seed))
    values = rng.random((T, n))
    half = T // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, T, size=n)
    marker = np.zeros((T, n))
    cols = np.arange(n)
    marker[first, cols] = 1.0
    marker[second, cols] = 1.0
    x = np.stack([values, marker], axis=-1).astype(dtype)
    y = (values[first, cols] + values[second, cols]).astype(dtype)
    return x, y


def adding_baseline_mse() -> float:
    """MSE of always predicting 1 on the adding problem: exactly 1/6 (about 0.167).

    The target is the sum of two independent ``U[0, 1)`` values, so its mean is 1 and the
    error of the constant prediction 1 is its variance, ``2 * 1/12 = 1/6``.
    """
    return 1.0 / 6.0


def copy_task(
    n: int,
    T: int,
    seed: Seed = None,
    n_symbols: int = 8,
    length: int = 10,
    one_hot: bool = True,
    dtype: np.dtype | type = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """The copy task (Arjovsky, Shah and Bengio 2016; after Hochreiter and Schmidhuber 1997).

    Categories ``0 .. n_symbols + 1``: 0 is the blank, ``1 .. n_symbols`` are the symbols
    and ``n_symbols + 1`` (9 by default) is the delimiter. With the defaults, a sequence has
    ``T + 20`` steps (0-based):

    - steps ``0 .. 9``: ten symbols drawn uniformly, with replacement, from ``1 .. 8``;
    - steps ``10 .. T + 8``: ``T - 1`` blanks;
    - step ``T + 9`` (the ``(T + 10)``-th step): the delimiter, "now reproduce";
    - steps ``T + 10 .. T + 19``: blanks.

    The target is blank for the first ``T + 10`` steps and the ten symbols, in order, for
    the last ten. The memoryless baseline (blank, then uniform guesses over the symbols)
    has cross-entropy ``10 log(8) / (T + 20)``: see :func:`copy_baseline_ce`.
    ``length`` (10) and ``n_symbols`` (8) generalise the layout to ``T + 2 * length`` steps.

    Parameters
    ----------
    n : int
        Number of sequences, ``n >= 1``.
    T : int
        The lag (blank stretch plus delimiter), ``T >= 1``.
    seed : int, Generator or None
    n_symbols : int, default 8
    length : int, default 10
        How many symbols to remember.
    one_hot : bool, default True
        Return one-hot inputs; if False, return the integer categories.
    dtype : dtype of the one-hot inputs.

    Returns
    -------
    x : ndarray, shape (T + 2*length, n, n_symbols + 2) one-hot, or (T + 2*length, n) int64
    y : ndarray, shape (T + 2*length, n), int64
    """
    n = _check_int("n", n, 1)
    T = _check_int("T", T, 1)
    n_symbols = _check_int("n_symbols", n_symbols, 1)
    length = _check_int("length", length, 1)
    rng = np.random.default_rng(repro.data_seed(seed))
    total = T + 2 * length
    symbols = rng.integers(1, n_symbols + 1, size=(length, n))
    tokens = np.zeros((total, n), dtype=np.int64)
    tokens[:length] = symbols
    tokens[T + length - 1] = n_symbols + 1
    y = np.zeros((total, n), dtype=np.int64)
    y[-length:] = symbols
    if not one_hot:
        return tokens, y
    x = np.eye(n_symbols + 2, dtype=dtype)[tokens]
    return x, y


def copy_baseline_ce(T: int, n_symbols: int = 8, length: int = 10) -> float:
    """Cross-entropy of the memoryless strategy on the copy task: ``10 log(8) / (T + 20)``.

    Predict the blank with certainty for the first ``T + 10`` steps (zero loss) and a
    uniform guess over the ``n_symbols`` symbols for the last ``length`` steps
    (``log n_symbols`` each), averaged over all ``T + 2*length`` steps (natural log).
    """
    T = _check_int("T", T, 1)
    n_symbols = _check_int("n_symbols", n_symbols, 1)
    length = _check_int("length", length, 1)
    return length * math.log(n_symbols) / (T + 2 * length)


# --------------------------------------------------------------------------- first trained models


def running_parity(
    n: int, T: int, seed: Seed = None, dtype: np.dtype | type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Running parity: after each bit, is the number of ones read so far odd?

    ``y_t = (x_1 + ... + x_t) mod 2``, equivalently ``y_t = y_{t-1} XOR x_t``: the network
    must carry one bit of memory from step to step. Always guessing scores cross-entropy
    ``log 2`` (about 0.693) and accuracy 1/2.

    Parameters
    ----------
    n : int
        Number of sequences, ``n >= 1``.
    T : int
        Sequence length, ``T >= 2``.
    seed : int, Generator or None
    dtype : dtype of the input bits.

    Returns
    -------
    x : ndarray, shape (T, n, 1), bits 0.0 / 1.0
    y : ndarray, shape (T, n), int64 in {0, 1}
    """
    n = _check_int("n", n, 1)
    T = _check_int("T", T, 2)
    rng = np.random.default_rng(repro.data_seed(seed))
    bits = rng.integers(0, 2, size=(T, n))
    y = np.cumsum(bits, axis=0) % 2
    return bits[..., None].astype(dtype), y.astype(np.int64)


def noisy_sine(
    n: int,
    T: int,
    seed: Seed = None,
    noise: float = 0.1,
    omega: tuple[float, float] = (0.2, 0.6),
    dtype: np.dtype | type = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Next-value prediction on noisy sine waves.

    Each sequence is ``s_t = sin(omega * t + phi) + noise * eps_t`` for ``t = 0 .. T`` with
    ``omega`` uniform in ``omega`` (radians per step), ``phi`` uniform in ``[0, 2 pi)`` and
    ``eps_t`` standard normal. Inputs are ``s_0 .. s_{T-1}``, targets ``s_1 .. s_T`` (the
    next value). Even a perfect predictor has mean squared error ``noise**2`` (the next
    noise is unpredictable); predicting the current value again scores about
    ``2 noise**2 + E[(sin(omega(t+1)+phi) - sin(omega t+phi))**2]``.

    Parameters
    ----------
    n : int
        Number of sequences, ``n >= 1``.
    T : int
        Sequence length, ``T >= 2``.
    seed : int, Generator or None
    noise : float, >= 0
        Standard deviation of the Gaussian noise.
    omega : (low, high)
        Range of the angular frequency.
    dtype : dtype of both arrays.

    Returns
    -------
    x : ndarray, shape (T, n, 1)
    y : ndarray, shape (T, n, 1)
    """
    n = _check_int("n", n, 1)
    T = _check_int("T", T, 2)
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    low, high = omega
    if not 0 <= low <= high:
        raise ValueError(f"omega must be (low, high) with 0 <= low <= high, got {omega}")
    rng = np.random.default_rng(repro.data_seed(seed))
    w = rng.uniform(low, high, size=n)
    phi = rng.uniform(0.0, 2 * np.pi, size=n)
    t = np.arange(T + 1)[:, None]
    s = np.sin(w * t + phi) + noise * rng.standard_normal((T + 1, n))
    s = s[..., None].astype(dtype)
    return s[:-1], s[1:]


# --------------------------------------------------------------------------- seq2seq toys


def _digits(n: int, T: int, seed: Seed, n_digits: int) -> np.ndarray:
    """Uniform random digits ``0 .. n_digits - 1`` of shape (T, n), arguments checked."""
    n = _check_int("n", n, 1)
    T = _check_int("T", T, 2)
    n_digits = _check_int("n_digits", n_digits, 2)
    return np.random.default_rng(repro.data_seed(seed)).integers(0, n_digits, size=(T, n))


def reverse_digits(
    n: int, T: int, seed: Seed = None, n_digits: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Sequence-to-sequence toy: output the source digits in reverse order.

    ``target[t] = source[T - 1 - t]``. The first output depends on the last input and the
    last output on the first input, so an encoder-decoder without attention must squeeze
    the whole sequence through its final state; attention can look it up.

    Parameters
    ----------
    n : int
        Number of sequences, ``n >= 1``.
    T : int
        Sequence length, ``T >= 2``.
    seed : int, Generator or None
    n_digits : int, default 10
        Tokens are ``0 .. n_digits - 1``.

    Returns
    -------
    source : ndarray, shape (T, n), int64
    target : ndarray, shape (T, n), int64
    """
    source = _digits(n, T, seed, n_digits)
    return source, source[::-1].copy()


def sort_digits(
    n: int, T: int, seed: Seed = None, n_digits: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Sequence-to-sequence toy: output the source digits in ascending order.

    ``target[:, b] = sorted(source[:, b])``. Unlike reversal, where each output attends to
    one fixed source position, the position to attend to depends on the content.

    Parameters
    ----------
    n : int
        Number of sequences, ``n >= 1``.
    T : int
        Sequence length, ``T >= 2``.
    seed : int, Generator or None
    n_digits : int, default 10
        Tokens are ``0 .. n_digits - 1``.

    Returns
    -------
    source : ndarray, shape (T, n), int64
    target : ndarray, shape (T, n), int64
    """
    source = _digits(n, T, seed, n_digits)
    return source, np.sort(source, axis=0)
