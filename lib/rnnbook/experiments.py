"""Many training runs at once, and the table that compares them (chapters 6 to 10).

    runs = train_runs(build, ["rnn", "lstm", "gru"], seeds=(0, 1, 2), make_batch=...,
                      loss_fn=..., steps=500, lr=1e-2, workers=2)
    print(run_table(runs, baseline=tasks.adding_baseline_mse()))

:func:`run_jobs` runs independent jobs (functions of no arguments) in worker processes of a
:class:`concurrent.futures.ProcessPoolExecutor` started by ``fork``: each worker inherits
the list of jobs when it starts (closures and notebook functions need no pickling), gets an
index, and sends back only the job's result. :func:`train_runs` builds one job per model and
seed around :func:`rnnbook.train.train`; :func:`rnnbook.lm.fit` runs go through
:func:`run_jobs` directly.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from tabulate import tabulate
from torch import nn

from rnnbook.train import Batch, History, train

__all__ = ["run_jobs", "train_runs", "run_table"]


class _Worker:
    """The jobs a worker process may run, handed to it once when it starts."""

    jobs: Sequence[Callable[[], object]] = ()

    @classmethod
    def start(cls, jobs: Sequence[Callable[[], object]]) -> None:
        cls.jobs = jobs

    @classmethod
    def run(cls, index: int) -> object:
        return cls.jobs[index]()


def run_jobs(jobs: Sequence[Callable[[], object]], workers: int = 1) -> list[object]:
    """Run independent jobs, up to ``workers`` at once; return their results in order.

    Each job is a function of no arguments (for example ``lambda: lm.fit(...)``) returning
    something picklable (a :class:`rnnbook.train.History`, a trained model, a tuple of
    them). With ``workers > 1`` the jobs run in forked processes that inherit the parent's
    settings (one thread each after :func:`rnnbook.train.deterministic`: use at most one
    worker per core); every job is seeded, so the results are those of ``workers=1``. Where
    processes cannot be forked (Windows) the jobs run one after another.
    """
    jobs = list(jobs)
    if not jobs or not all(callable(j) for j in jobs):
        raise TypeError("jobs must be a non-empty list of functions of no arguments")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    workers = min(workers, len(jobs))
    if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [job() for job in jobs]
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_Worker.start,
        initargs=(jobs,),  # inherited by the fork, not pickled
    ) as pool:
        return list(pool.map(_Worker.run, range(len(jobs))))


def train_runs(
    build: Callable[[str, int], nn.Module],
    labels: Sequence[str],
    seeds: Sequence[int],
    make_batch: Callable[[int, np.random.Generator], Batch],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    steps: int,
    lr: float,
    clip: float | None = None,
    optimizer: str = "adam",
    workers: int = 1,
    keep_weights: bool = False,
) -> dict[str, list[History]]:
    """Train ``build(label, seed)`` for every label and seed with one budget.

    Every run gets the same batches for a given seed (the batch generator is seeded with
    it, see :func:`train`), the same number of steps, learning rate, clipping and
    optimiser: only the model differs. No progress bars (the stored output stays
    deterministic). Each :class:`History` records ``meta["label"]`` and
    ``meta["parameters"]``, the model's number of trainable parameters.

    Parameters
    ----------
    build : callable (label, seed) -> nn.Module
        E.g. ``lambda cell, seed: SequenceRegressor(cell, 2, 32, seed=seed)``.
    labels : the models to compare, e.g. ``("rnn", "lstm", "gru")``
    seeds : one run per seed, e.g. ``(0, 1, 2)``
    make_batch, loss_fn, steps, lr, clip, optimizer : as in :func:`train`
    workers : int, default 1
        Train up to this many runs at once, each in a forked process with the parent's
        settings (so with one thread each after :func:`deterministic`, use at most one
        worker per core). The runs are independent and seeded, so the losses are the same
        as with ``workers=1``; only the step times differ. Where processes cannot be forked
        (Windows), the runs are trained one after another.
    keep_weights : bool, default False
        Also keep each trained model's weights, as ``meta["state_dict"]``; load them with
        ``build(label, seed).load_state_dict(history.meta["state_dict"])``.

    Returns
    -------
    dict label -> list of History, one per seed, in the order of ``seeds``
    """
    labels, seeds = list(labels), list(seeds)
    if not labels or not seeds:
        raise ValueError("labels and seeds must be non-empty")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels must be distinct, got {labels}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    jobs = [(label, seed) for seed in seeds for label in labels]

    def job(label: str, seed: int) -> Callable[[], History]:
        return lambda: _run(build, label, seed, make_batch, loss_fn, steps, lr, clip, optimizer,
                            keep_weights)  # fmt: skip

    histories = run_jobs([job(label, seed) for label, seed in jobs], workers)
    runs: dict[str, list[History]] = {label: [] for label in labels}
    for (label, _), history in zip(jobs, histories, strict=True):
        runs[label].append(history)
    return runs


def _run(build, label, seed, make_batch, loss_fn, steps, lr, clip, optimizer, keep_weights):
    model = build(label, seed)
    history = train(model, make_batch, loss_fn, steps, lr, clip, seed, optimizer, progress=False)
    history.meta.update(label=label, parameters=sum(p.numel() for p in model.parameters()))
    if keep_weights:
        history.meta["state_dict"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return history


def run_table(
    runs: dict[str, list[History]],
    baseline: float,
    timing: bool = False,
    window: int = 50,
    digits: int = 2,
) -> str:
    """A text table comparing models trained by :func:`train_runs`, one row per model.

    Columns: trainable parameters; final loss (mean of the last ``window`` steps,
    :meth:`History.final_loss`), as mean ± standard deviation over seeds and as a fraction
    of ``baseline``; the step at which each seed's 20-step moving average first reached
    ``baseline / 2`` (``-`` for a seed that never did). With ``timing=True`` two columns are
    added: median milliseconds per training step over all steps of all seeds, and median
    seconds of training to reach ``baseline / 2`` (over the seeds that did). Timings vary
    from run to run; without them the table is deterministic.

    Parameters
    ----------
    runs : dict label -> list of History
    baseline : float, > 0
        The loss of the memoryless baseline.
    timing : bool
    window : int
        Steps averaged for the final loss.
    digits : int
        Significant figures of the losses (a training result is not reproducible beyond
        about two: another CPU or seed moves the rest).
    """
    if not runs:
        raise ValueError("runs must be a non-empty dict of label -> list of History")
    if not baseline > 0:
        raise ValueError(f"baseline must be > 0, got {baseline!r}")
    header = ["model", "parameters", "final loss (mean ± sd)", "/ baseline", "steps to half"]
    if timing:
        header += ["ms / step", "s to half"]
    rows = [header]
    for label, hs in runs.items():
        if not hs:
            raise ValueError(f"runs[{label!r}] is empty")
        finals = np.array([h.final_loss(window) for h in hs])
        hits = [h.steps_to(baseline / 2) for h in hs]
        row = [
            label,
            str(hs[0].meta.get("parameters", "?")),
            f"{finals.mean():#.{digits}g} ± {finals.std():.1g}",
            f"{finals.mean() / baseline:#.{digits}g}",
            ", ".join("-" if s is None else str(s) for s in hits),
        ]
        if timing:
            ms = 1000 * float(np.median(np.concatenate([h.step_time for h in hs])))
            secs = [float(h.time[s - 1]) for h, s in zip(hs, hits, strict=True) if s is not None]
            row += [f"{ms:.2f}", f"{np.median(secs):.1f}" if secs else "-"]
        rows.append(row)
    return tabulate(rows[1:], headers=rows[0], tablefmt="simple", disable_numparse=True)
