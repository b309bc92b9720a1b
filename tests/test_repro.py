"""Tests for rnnbook.repro: the pinned environment and the perturbation switch."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from rnnbook import cells, models, repro, tasks, train


@pytest.fixture
def perturb(monkeypatch):
    monkeypatch.setenv(repro.PERTURB_VARIABLE, "1")


def test_switch_reads_the_environment(monkeypatch):
    for value, expected in (("", False), ("0", False), ("1", True), ("yes", True)):
        monkeypatch.setenv(repro.PERTURB_VARIABLE, value)
        assert repro.perturbed() is expected
    monkeypatch.delenv(repro.PERTURB_VARIABLE)
    assert not repro.perturbed()


def test_without_the_switch_nothing_changes(monkeypatch):
    monkeypatch.delenv(repro.PERTURB_VARIABLE, raising=False)
    assert repro.data_seed(3) == 3
    a = np.ones(5)
    repro.perturb_arrays([a], seed=0)
    assert np.array_equal(a, np.ones(5))
    net = torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in net.parameters()]
    repro.perturb_(net, seed=0)
    assert all(torch.equal(b, p) for b, p in zip(before, net.parameters(), strict=True))


def test_data_seeds_shift_and_other_seeds_pass_through(perturb):
    assert repro.data_seed(3) == 3 + repro.SEED_SHIFT
    assert repro.data_seed(np.int64(3)) == 3 + repro.SEED_SHIFT
    assert repro.data_seed(None) is None
    rng = np.random.default_rng(0)
    assert repro.data_seed(rng) is rng
    assert repro.data_seed(True) is True


def test_perturbation_is_relative_small_and_repeatable(perturb):
    net = torch.nn.LSTM(4, 8)
    before = [p.detach().clone() for p in net.parameters()]
    repro.perturb_(net, seed=1)
    ratios = torch.cat(
        [(p / b).flatten() - 1 for b, p in zip(before, net.parameters(), strict=True)]
    )
    assert 0 < ratios.abs().max() < 1e-5
    assert 0.5e-6 < ratios.std() < 2e-6
    again = torch.nn.LSTM(4, 8)
    with torch.no_grad():
        for p, b in zip(again.parameters(), before, strict=True):
            p.copy_(b)
    repro.perturb_(again, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(again.parameters(), net.parameters(), strict=True))


def test_the_library_applies_it_to_cells_tasks_and_training(perturb, monkeypatch):
    perturbed_cell = cells.LSTMCell(3, 4, seed=0)
    perturbed_data = tasks.adding_problem(4, 10, seed=0)
    monkeypatch.delenv(repro.PERTURB_VARIABLE)
    plain_cell = cells.LSTMCell(3, 4, seed=0)
    plain_data = tasks.adding_problem(4, 10, seed=0)
    gap = np.abs(perturbed_cell.params["weight_hh"] / plain_cell.params["weight_hh"] - 1)
    assert 0 < gap.max() < 1e-5
    assert not np.array_equal(perturbed_data[0], plain_data[0])

    def run():
        model = models.SequenceRegressor("gru", 2, 4, seed=0)
        make_batch = train.task_batches(tasks.adding_problem, n=4, T=6)
        return train.train(model, make_batch, torch.nn.functional.mse_loss, 3, 1e-2, progress=False)

    plain = run().loss
    monkeypatch.setenv(repro.PERTURB_VARIABLE, "1")
    assert not np.array_equal(run().loss, plain)


def test_environment_pins_threads_and_keeps_what_the_caller_set(monkeypatch):
    env = repro.environment({"MKL_CBWR": "AVX2"})
    assert all(env[k] == "1" for k in repro.THREADS)
    assert env["MKL_CBWR"] == "AVX2"
    if repro._has_avx2():
        assert env["ATEN_CPU_CAPABILITY"] == repro.PINNED["ATEN_CPU_CAPABILITY"]


@pytest.mark.skipif(not repro._has_avx2(), reason="the pinned code paths need an AVX2 CPU")
def test_pinned_environment_reaches_torch_and_numpy_in_a_child_process():
    code = (
        "import torch, numpy\n"
        "from numpy._core._multiarray_umath import __cpu_features__ as f\n"
        "print(torch.backends.cpu.get_cpu_capability(), f['AVX512F'] and f['X86_V4'])\n"
    )
    env = repro.environment(
        {k: v for k, v in __import__("os").environ.items() if k not in repro.PINNED}
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["AVX2", "False"], out.stderr
