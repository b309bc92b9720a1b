"""Tests for chapter 10's library code: train_runs, run_table and the comparison figures."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from rnnbook import experiments, models, plots, plots_compare, tasks
from rnnbook import train as tr

torch.set_num_threads(1)

ADDING = tr.task_batches(tasks.adding_problem, n=8, T=6)


def build(cell, seed):
    return models.SequenceRegressor(cell, 2, 4, seed=seed)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def runs():
    mse = torch.nn.functional.mse_loss
    return experiments.train_runs(
        build, ["rnn", "gru"], [0, 1], ADDING, mse, steps=12, lr=1e-2, clip=1.0
    )


# ------------------------------------------------------------------------- train_runs


def test_train_runs_trains_every_model_and_seed_with_one_budget(runs):
    assert list(runs) == ["rnn", "gru"]
    for label, hs in runs.items():
        assert [h.seed for h in hs] == [0, 1]
        assert all(len(h) == 12 and h.lr == 1e-2 and h.clip == 1.0 for h in hs)
        assert all(h.meta["label"] == label for h in hs)
    H, I = 4, 2
    assert runs["rnn"][0].meta["parameters"] == (H * I + H * H + 2 * H) + H + 1
    assert runs["gru"][0].meta["parameters"] == 3 * (H * I + H * H + 2 * H) + H + 1


def test_train_runs_matches_train_and_is_deterministic(runs):
    mse = torch.nn.functional.mse_loss
    alone = tr.train(build("gru", 1), ADDING, mse, 12, 1e-2, clip=1.0, seed=1, progress=False)
    np.testing.assert_array_equal(runs["gru"][1].loss, alone.loss)
    assert not np.array_equal(runs["gru"][0].loss, runs["gru"][1].loss)


def test_train_runs_in_worker_processes_gives_the_same_runs(runs):
    mse = torch.nn.functional.mse_loss

    def local_build(cell, seed):  # unpicklable, like a notebook's builder: the workers inherit it
        return build(cell, seed)

    parallel = experiments.train_runs(
        local_build, ["rnn", "gru"], [0, 1], ADDING, mse, steps=12, lr=1e-2, clip=1.0, workers=2
    )
    assert list(parallel) == list(runs)
    for label in runs:
        for serial, forked in zip(runs[label], parallel[label], strict=True):
            np.testing.assert_array_equal(forked.loss, serial.loss)
            np.testing.assert_array_equal(forked.grad_norm, serial.grad_norm)
            assert forked.seed == serial.seed and forked.meta["label"] == label
            assert forked.meta["parameters"] == serial.meta["parameters"]
    assert experiments._Worker.jobs == ()  # the parent holds no jobs: only its workers did


def test_train_runs_rejects_bad_input():
    mse = torch.nn.functional.mse_loss
    with pytest.raises(ValueError, match="non-empty"):
        experiments.train_runs(build, [], [0], ADDING, mse, steps=2, lr=1e-2)
    with pytest.raises(ValueError, match="distinct"):
        experiments.train_runs(build, ["rnn", "rnn"], [0], ADDING, mse, steps=2, lr=1e-2)
    with pytest.raises(ValueError, match="workers must be a positive int"):
        experiments.train_runs(build, ["rnn"], [0], ADDING, mse, steps=2, lr=1e-2, workers=0)


# ------------------------------------------------------------------------- run_table


def fake(loss, parameters=10, step_time=0.01):
    loss = np.asarray(loss, dtype=float)
    h = tr.History(loss=loss, grad_norm=np.ones_like(loss), step_time=np.full(len(loss), step_time))
    h.meta["parameters"] = parameters
    return h


def test_run_table_reports_mean_spread_and_steps_to_half_the_baseline():
    fast = fake(np.r_[np.ones(30), np.full(70, 0.1)])  # average of 20 reaches 0.5 at step 42
    never = fake(np.ones(100))
    text = experiments.run_table({"a": [fast, never], "b": [never]}, baseline=1.0)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["model", "parameters"]
    row_a, row_b = lines[2], lines[3]
    assert row_a.startswith("a ") and "10" in row_a
    assert "0.55 ± 0.5" in row_a and row_a.count("0.55") == 2  # finals 0.1 and 1.0
    assert row_a.rstrip().endswith("42, -")
    assert row_b.rstrip().endswith("-") and "1.0 ± 0 " in row_b
    assert fast.steps_to(0.5) == 42


def test_run_table_timing_columns():
    fast = fake(np.r_[np.ones(30), np.full(70, 0.1)], step_time=0.002)
    text = experiments.run_table({"a": [fast]}, baseline=1.0, timing=True)
    header, _, row = text.splitlines()
    assert "ms / step" in header and "s to half" in header
    assert row.split()[-2:] == ["2.00", "0.1"]  # 42 steps of 2 ms


def test_run_table_rejects_bad_input():
    with pytest.raises(ValueError, match="baseline"):
        experiments.run_table({"a": [fake([1.0])]}, baseline=0.0)
    with pytest.raises(ValueError, match="non-empty"):
        experiments.run_table({}, baseline=1.0)
    with pytest.raises(ValueError, match="empty"):
        experiments.run_table({"a": []}, baseline=1.0)


# ------------------------------------------------------------------------- figures


def test_adding_sample_highlights_the_two_marked_values():
    x, y = tasks.adding_problem(1, 12, seed=0)
    fig = plots_compare.adding_sample(x[:, 0], float(y[0]))
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 12
    marked = np.nonzero(x[:, 0, 1] == 1)[0]
    grey = bars[[t for t in range(12) if t not in marked][0]].get_facecolor()
    assert all(bars[t].get_facecolor() != grey for t in marked)
    assert f"{float(y[0]):.2f}" in ax.get_title()
    assert fig._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        plots_compare.adding_sample(x[:, 0, 0], 1.0)
    bad = x[:, 0].copy()
    bad[:, 1] = 0
    with pytest.raises(ValueError, match="two"):
        plots_compare.adding_sample(bad, 1.0)


def test_lr_sensitivity_draws_geometric_means_and_every_seed():
    lrs = [1e-3, 1e-2, 1e-1]
    finals = {"lstm": np.array([[1.0, 4.0], [0.1, 0.1], [2.0, 2.0]]), "gru": np.ones(3)}
    fig = plots.lr_sensitivity(lrs, finals, baseline=0.5)
    ax = fig.axes[0]
    mean_line = [ln for ln in ax.lines if ln.get_label() == "lstm"][0]
    np.testing.assert_allclose(mean_line.get_ydata(), [2.0, 0.1, 2.0])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert any(ln.get_label() == "baseline" for ln in ax.lines)
    assert ax.get_title()
    with pytest.raises(ValueError, match="rows"):
        plots.lr_sensitivity(lrs, {"lstm": np.ones(2)})
    with pytest.raises(ValueError, match="learning rates"):
        plots.lr_sensitivity([1e-3], {"lstm": np.ones(1)})


# ------------------------------------------------------------------------- the exercise check


def matched(cell, budget, input_size, output_size, readout=True):
    H = 0
    while True:
        model = models.SequenceRegressor(cell, input_size, H + 1, output_size)
        if (model.count_parameters() if readout else models.count_parameters(model.rnn)) > budget:
            return H
        H += 1


def test_check_matched_hidden_size_accepts_a_count_from_real_models():
    from rnnbook.exercises import check_matched_hidden_size

    verdict = check_matched_hidden_size(matched)
    assert verdict.ok, str(verdict)
    assert matched("gru", 4641, 2, 1) == 37  # the LSTM with H = 32 has 4641 parameters


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (lambda c, b, i, o: matched(c, b, i, o) + 1, "One too many"),
        (lambda c, b, i, o: matched(c, b, i, o, readout=False), "readout"),
        (lambda c, b, i, o: 32, "wrong values"),
    ],
)
def test_check_matched_hidden_size_rejects_wrong_answers(wrong, says):
    from rnnbook.exercises import check_matched_hidden_size

    verdict = check_matched_hidden_size(wrong)
    assert not verdict.ok
    assert says in str(verdict)


def test_check_copy_baseline_accepts_the_formula_and_names_mistakes():
    import math

    from rnnbook import exercises

    right = exercises.check_copy_baseline(
        lambda T, n_symbols, length: length * math.log(n_symbols) / (T + 2 * length)
    )
    assert right.ok
    one_step = exercises.check_copy_baseline(lambda T, n_symbols, length: math.log(n_symbols))
    assert not one_step.ok and "averaged over every step" in one_step.hint
    over_t = exercises.check_copy_baseline(
        lambda T, n_symbols, length: length * math.log(n_symbols) / T
    )
    assert not over_t.ok and "T + 2 * length" in over_t.hint
