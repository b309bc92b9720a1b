"""Tests for rnnbook.train: determinism, clipping, the gradient-norm log, History helpers."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from rnnbook import models, tasks
from rnnbook import train as tr

torch.set_num_threads(1)  # 2 shared cores: more threads only contend

PARITY = tr.task_batches(tasks.running_parity, n=16, T=6)


def parity_run(seed=0, steps=15, **kwargs):
    model = models.SequenceTagger("gru", 1, 8, 2, seed=seed)
    kwargs.setdefault("progress", False)
    return tr.train(model, PARITY, tr.sequence_cross_entropy, steps=steps, lr=1e-2, **kwargs)


def test_same_seed_same_curve():
    a, b = parity_run(seed=0), parity_run(seed=0)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.grad_norm, b.grad_norm)
    c = parity_run(seed=1)
    assert not np.array_equal(a.loss, c.loss)


def test_seed_covers_torch_randomness_during_training():
    def run():
        torch.rand(3)  # whatever happened to the global generator before
        model = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.Linear(8, 1))
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(0.1)

        def batch(step, rng):
            return torch.from_numpy(rng.random((16, 2), dtype=np.float32)), torch.ones(16, 1)

        return tr.train(model, batch, nn.functional.mse_loss, 5, lr=1e-2, seed=3, progress=False)

    np.testing.assert_array_equal(run().loss, run().loss)


def test_history_contents():
    h = parity_run(steps=25)
    assert len(h) == 25 and h.loss.shape == h.grad_norm.shape == h.step_time.shape == (25,)
    np.testing.assert_array_equal(h.steps, np.arange(1, 26))
    assert np.all(h.step_time > 0) and np.all(np.diff(h.time) > 0)
    assert h.time[-1] == pytest.approx(h.step_time.sum())
    assert np.all(h.grad_norm > 0) and not h.diverged()
    assert h.lr == 1e-2 and h.clip is None and h.seed == 0
    assert "25 steps" in h.summary()


def test_learns_running_parity():
    tr.deterministic()
    model = models.SequenceTagger("gru", 1, 16, 2, seed=0)
    batches = tr.task_batches(tasks.running_parity, n=32, T=8)
    h = tr.train(model, batches, tr.sequence_cross_entropy, steps=200, lr=1e-2, progress=False)
    assert h.loss[0] > 0.6  # starts near log 2
    assert h.final_loss(20) < 0.1
    assert h.steps_to(0.35) is not None


def test_grad_norm_is_before_clipping_and_clipping_bounds_the_update():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = torch.randn(8, 3), 100 * torch.randn(8, 1)
    before = [p.detach().clone() for p in model.parameters()]

    def batch(step, rng):
        return x, y

    h = tr.train(
        model, batch, nn.functional.mse_loss, 1, lr=0.5, clip=1e-3, optimizer="sgd", progress=False
    )
    # the logged norm is the norm of the full gradient, computed here by hand
    ref = nn.Linear(3, 1)
    with torch.no_grad():
        for p, q in zip(ref.parameters(), before, strict=True):
            p.copy_(q)
    nn.functional.mse_loss(ref(x), y).backward()
    full = math.sqrt(sum(float((p.grad**2).sum()) for p in ref.parameters()))
    assert h.grad_norm[0] == pytest.approx(full, rel=1e-5)
    assert full > 1.0
    # one SGD step with the clipped gradient moves the parameters by lr * clip
    step = math.sqrt(
        sum(
            float(((p.detach() - q) ** 2).sum())
            for p, q in zip(model.parameters(), before, strict=True)
        )
    )
    assert step == pytest.approx(0.5 * 1e-3, rel=1e-4)


def test_clipping_changes_training_only_when_active():
    a = parity_run(clip=None)
    b = parity_run(clip=1e6)  # never active
    c = parity_run(clip=1e-2)  # always active
    np.testing.assert_array_equal(a.loss, b.loss)
    assert not np.array_equal(a.loss[1:], c.loss[1:])


def test_divergence_stops_training():
    model = nn.Linear(1, 1)

    def batch(step, rng):
        x = torch.ones(4, 1) * (float("inf") if step == 3 else 1.0)
        return x, torch.zeros(4, 1)

    h = tr.train(model, batch, nn.functional.mse_loss, steps=10, lr=0.1, progress=False)
    assert len(h) == 4 and h.diverged()
    assert h.max_spike() == math.inf


def test_seq2seq_tuple_inputs():
    model = models.Seq2Seq(5, 8, attention="dot", seed=0)

    def batch(step, rng):
        src, tgt = (torch.from_numpy(a) for a in tasks.reverse_digits(8, 4, rng, n_digits=5))
        return (src, tgt), tgt

    h = tr.train(model, batch, tr.sequence_cross_entropy, steps=5, lr=1e-2, progress=False)
    assert len(h) == 5 and np.all(np.isfinite(h.loss))


def test_progress_bar(capsys):
    parity_run(steps=3, progress=True, desc="parity")
    captured = capsys.readouterr()
    assert "parity" in captured.err and "3/3" in captured.err
    assert captured.out.startswith("parity: 3 steps, final loss")


def test_history_helpers():
    loss = np.array([4.0, 2.0, 1.0, 8.0, 0.5, 0.5])
    h = tr.History(loss=loss, grad_norm=np.ones(6), step_time=np.full(6, 0.1))
    assert h.final_loss(2) == 0.5
    assert h.final_loss(100) == pytest.approx(loss.mean())
    np.testing.assert_allclose(h.smoothed(2), [4.0, 3.0, 1.5, 4.5, 4.25, 0.5])
    assert h.steps_to(1.0, window=1) == 3
    assert h.steps_to(0.5, window=2) == 6
    assert h.steps_to(0.1) is None
    assert h.max_spike() == 8.0  # 8.0 after a best of 1.0
    np.testing.assert_allclose(h.time, np.arange(1, 7) * 0.1)
    assert not h.diverged()
    falling = tr.History(loss=np.array([3.0, 2.0, 1.0]), grad_norm=np.ones(3), step_time=np.ones(3))
    assert falling.max_spike() == 1.0
    nan_norm = tr.History(loss=np.ones(2), grad_norm=np.array([1.0, np.nan]), step_time=np.ones(2))
    assert nan_norm.diverged()
    with pytest.raises(ValueError, match="window"):
        h.final_loss(0)


def test_sequence_cross_entropy():
    torch.manual_seed(0)
    logits, targets = torch.randn(4, 3, 5), torch.randint(0, 5, (4, 3))
    logp = torch.log_softmax(logits, -1)
    expected = -logp.gather(-1, targets[..., None]).mean()
    torch.testing.assert_close(tr.sequence_cross_entropy(logits, targets), expected)
    with pytest.raises(ValueError, match=r"\(T, B, C\)"):
        tr.sequence_cross_entropy(logits, targets[:2])


def test_sequence_cross_entropy_of_copy_baseline():
    T = 10
    _, y = tasks.copy_task(20, T, seed=0)
    logits = torch.full((T + 20, 20, 10), -1e9)
    logits[: T + 10, :, 0] = 0.0
    logits[T + 10 :, :, 1:9] = 0.0
    ce = tr.sequence_cross_entropy(logits, torch.from_numpy(y))
    assert float(ce) == pytest.approx(tasks.copy_baseline_ce(T), rel=1e-5)


def test_task_batches_types():
    make = tr.task_batches(tasks.adding_problem, n=4, T=6)
    x, y = make(0, np.random.default_rng(0))
    assert x.dtype == torch.float32 and x.shape == (6, 4, 2) and y.shape == (4,)
    x, y = tr.task_batches(tasks.copy_task, n=2, T=3, one_hot=False)(0, np.random.default_rng(0))
    assert x.dtype == torch.int64 and y.dtype == torch.int64


def test_deterministic():
    old_threads = torch.get_num_threads()
    try:
        tr.deterministic(threads=1, seed=5)
        assert torch.get_num_threads() == 1
        assert torch.are_deterministic_algorithms_enabled()
        a = torch.rand(2)
        tr.deterministic(threads=1, seed=5)
        torch.testing.assert_close(torch.rand(2), a)
        with pytest.raises(ValueError, match="threads"):
            tr.deterministic(threads=0)
    finally:
        torch.set_num_threads(old_threads)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"clip": -1.0}, ValueError, "clip"),
        ({"optimizer": "lbfgs"}, ValueError, "optimizer"),
        ({"model": "model"}, TypeError, "nn.Module"),
    ],
)
def test_bad_train_arguments(kwargs, error, match):
    args = {
        "model": nn.Linear(1, 1),
        "make_batch": lambda step, rng: (torch.ones(1, 1), torch.ones(1, 1)),
        "loss_fn": nn.functional.mse_loss,
        "steps": 1,
        "lr": 0.1,
        "progress": False,
    } | kwargs
    with pytest.raises(error, match=match):
        tr.train(**args)
