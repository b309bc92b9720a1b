"""One training loop for every experiment in the book, and what it records.

    deterministic()                       # once, at the top of a notebook
    model = SequenceRegressor("lstm", 2, 32, seed=0)
    make_batch = task_batches(tasks.adding_problem, n=64, T=50)
    history = train(model, make_batch, torch.nn.functional.mse_loss, steps=500, lr=1e-2, clip=1.0)
    history.final_loss(), history.steps_to(tasks.adding_baseline_mse() / 2)

Each step draws a batch with ``make_batch(step, rng)``, computes ``loss_fn(model(x), y)``,
back-propagates, records the gradient norm *before* clipping, optionally clips it
(:func:`torch.nn.utils.clip_grad_norm_`) and takes an optimiser step. The
:class:`History` holds one entry per step: loss, gradient norm and wall time.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnbook import repro

__all__ = [
    "History",
    "deterministic",
    "sequence_cross_entropy",
    "task_batches",
    "train",
    "start_run",
]

Batch = tuple[object, torch.Tensor]
OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}


def deterministic(threads: int = 1, seed: int = 0) -> None:
    """Make PyTorch runs repeatable: fixed thread count, deterministic kernels, seeded RNGs.

    Calls ``torch.set_num_threads(threads)``, ``torch.use_deterministic_algorithms(True)``,
    ``torch.manual_seed(seed)``, ``np.random.seed(seed)`` and ``random.seed(seed)``. The
    notebooks call it once at the top; one thread also keeps timings comparable.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    torch.set_num_threads(threads)
    repro.pin_torch()
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - legacy global seed, for code outside the book's control
    random.seed(seed)


def sequence_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every step and sequence (natural log).

    ``logits`` (T, B, C), ``targets`` (T, B) ints; equals
    ``-mean_{t,b} log softmax(logits[t, b])[targets[t, b]]``, the quantity the copy task's
    baseline ``10 log(8) / (T + 20)`` is measured in.
    """
    if logits.dim() != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(
            f"expected logits (T, B, C) and targets (T, B), got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def _to_tensor(a: object) -> torch.Tensor:
    t = torch.as_tensor(a)
    if torch.is_floating_point(t):
        return t.float()
    return t.long()


def task_batches(task: Callable[..., tuple], **kwargs: object) -> Callable[..., Batch]:
    """Turn a generator from :mod:`rnnbook.tasks` into a ``make_batch(step, rng)``.

    Each call draws a fresh batch ``task(**kwargs, seed=rng)`` and converts it to tensors
    (floats to float32, integers to int64). Example:
    ``task_batches(tasks.copy_task, n=32, T=20)``.
    """

    def make_batch(step: int, rng: np.random.Generator) -> Batch:
        x, y = task(**kwargs, seed=rng)
        return _to_tensor(x), _to_tensor(y)

    return make_batch


@dataclass
class History:
    """What :func:`train` recorded, one entry per step taken.

    Attributes
    ----------
    loss : ndarray (steps,)
        Training loss of each step's batch (before the update).
    grad_norm : ndarray (steps,)
        Global L2 norm of the gradient, before clipping.
    step_time : ndarray (steps,)
        Wall time of each step in seconds (batch, forward, backward, update).
    clip, lr, seed : the settings of the run.
    """

    loss: np.ndarray
    grad_norm: np.ndarray
    step_time: np.ndarray
    clip: float | None = None
    lr: float = float("nan")
    seed: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def steps(self) -> np.ndarray:
        """Step numbers 1 .. len(loss)."""
        return np.arange(1, len(self.loss) + 1)

    @property
    def time(self) -> np.ndarray:
        """Cumulative wall time in seconds at the end of each step."""
        return np.cumsum(self.step_time)

    def __len__(self) -> int:
        return len(self.loss)

    def final_loss(self, window: int = 50) -> float:
        """Mean loss over the last ``window`` steps (all steps if fewer)."""
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if len(self.loss) == 0:
            return float("nan")
        return float(np.mean(self.loss[-window:]))

    def smoothed(self, window: int = 20) -> np.ndarray:
        """Trailing moving average of the loss (the first entries average fewer steps)."""
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        c = np.cumsum(np.insert(self.loss.astype(float), 0, 0.0))
        idx = np.arange(1, len(self.loss) + 1)
        lo = np.maximum(idx - window, 0)
        return (c[idx] - c[lo]) / (idx - lo)

    def steps_to(self, threshold: float, window: int = 20) -> int | None:
        """First step at which the ``window``-step moving average of the loss is
        ``<= threshold``, or ``None`` if it never gets there."""
        hit = np.nonzero(self.smoothed(window) <= threshold)[0]
        return int(hit[0]) + 1 if len(hit) else None

    def diverged(self) -> bool:
        """True if the loss or the gradient norm became NaN or infinite (training stops there)."""
        return bool(not np.all(np.isfinite(self.loss)) or not np.all(np.isfinite(self.grad_norm)))

    def max_spike(self) -> float:
        """Largest ratio of a loss to the lowest loss before it (1.0 if the loss never rose).

        A spike of 10 means that at some step the loss jumped to ten times the best value
        reached so far: what a gradient step off a cliff looks like.
        """
        loss = self.loss.astype(float)
        if len(loss) < 2:
            return 1.0
        if not np.all(np.isfinite(loss)):
            return float("inf")
        best = np.minimum.accumulate(loss)[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(best > 0, loss[1:] / best, np.where(loss[1:] > 0, np.inf, 1.0))
        return float(max(1.0, ratio.max()))

    def summary(self, window: int = 50) -> str:
        """One line: steps, final loss, mean step time."""
        return (
            f"{len(self)} steps, final loss {self.final_loss(window):.4g}, "
            f"{1000 * float(np.mean(self.step_time)) if len(self) else float('nan'):.2f} ms/step"
        )


def start_run(
    model: nn.Module, steps: int, lr: float, clip: float | None, seed: int
) -> np.random.Generator:
    """Check a run's budget and seed it: what :func:`train` and :func:`rnnbook.lm.fit` share.

    Refuses a model that is not an ``nn.Module``, ``steps`` not a positive int, ``lr <= 0``
    and ``clip <= 0``; seeds torch with :func:`rnnbook.repro.data_seed` ``(seed)``; perturbs
    the model's initial weights by a relative 1e-6 under ``RNNBOOK_PERTURB=1``
    (:func:`rnnbook.repro.perturb_`, nothing otherwise). Returns the batch generator,
    ``np.random.default_rng(repro.data_seed(seed))``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be None or > 0, got {clip!r}")
    torch.manual_seed(repro.data_seed(seed))
    repro.perturb_(model, seed)  # only under RNNBOOK_PERTURB: a relative 1e-6 on every weight
    return np.random.default_rng(repro.data_seed(seed))


def train(
    model: nn.Module,
    make_batch: Callable[[int, np.random.Generator], Batch],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    steps: int,
    lr: float,
    clip: float | None = None,
    seed: int = 0,
    optimizer: str = "adam",
    progress: bool = True,
    log_every: int | None = None,
    desc: str | None = None,
) -> History:
    """Train ``model`` for ``steps`` steps and return its :class:`History`.

    Each step: ``x, y = make_batch(step, rng)``; ``out = model(*x)`` if ``x`` is a tuple
    (e.g. ``(src, tgt)`` for :class:`rnnbook.models.Seq2Seq`) else ``model(x)``; if ``out``
    is a tuple its first element is the prediction; ``loss = loss_fn(out, y)``; backward;
    record ``||g||_2`` (all parameters); if ``clip`` is set, rescale the gradient to norm
    ``clip`` when larger (``g <- clip * g / ||g||``, Pascanu et al. 2013); optimiser step.
    Training stops early, marked by :meth:`History.diverged`, if the loss or the gradient
    norm becomes NaN or infinite.

    Parameters
    ----------
    model : nn.Module
    make_batch : callable (step, rng) -> (x, y) tensors
        ``rng`` is ``np.random.default_rng(seed)``; see :func:`task_batches`.
    loss_fn : callable (prediction, y) -> scalar tensor
    steps : int
    lr : float
        Learning rate.
    clip : float, optional
        Maximum gradient norm.
    seed : int
        Seeds ``torch.manual_seed`` and the batch generator: the same model initial weights,
        seed and settings give an identical loss curve.
    optimizer : "adam", "sgd" or "rmsprop"
    progress : bool
        Show a tqdm progress bar (``tqdm.auto``: a widget in notebooks) and print
        :meth:`History.summary` at the end. Cells that show it need ``# NBVAL_IGNORE_OUTPUT``
        (timings vary); assert the claims in code.
    log_every : int, optional
        Update the progress bar's loss every this many steps (default steps // 50).
    desc : str, optional
        Label of the progress bar.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}, got {optimizer!r}")
    from tqdm.auto import tqdm

    rng = start_run(model, steps, lr, clip, seed)
    log_every = log_every or max(1, steps // 50)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = OPTIMIZERS[optimizer](params, lr=lr)
    losses, norms, times = [], [], []
    model.train()
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=True)
    for step in bar:
        start = time.perf_counter()
        x, y = make_batch(step, rng)
        out = model(*x) if isinstance(x, tuple) else model(x)
        if isinstance(out, tuple):
            out = out[0]
        loss = loss_fn(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, math.inf if clip is None else clip)
        loss_value, norm_value = float(loss.detach()), float(norm)
        finite = math.isfinite(loss_value) and math.isfinite(norm_value)
        if finite:
            opt.step()
        times.append(time.perf_counter() - start)
        losses.append(loss_value)
        norms.append(norm_value)
        if not finite:
            break
        if step % log_every == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{loss_value:.4g}", refresh=False)
    bar.close()
    history = History(
        loss=np.array(losses),
        grad_norm=np.array(norms),
        step_time=np.array(times),
        clip=clip,
        lr=float(lr),
        seed=seed,
        meta={"optimizer": optimizer, "steps_requested": steps},
    )
    if progress:  # a stored notebook keeps the bar's first frame only; this line says how it ended
        print(
            f"{desc + ': ' if desc else ''}{history.summary()}"
            + (" (diverged)" if history.diverged() else "")
        )
    return history
