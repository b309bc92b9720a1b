"""Tests for chapter 2's library code: rnnbook.gradients, its figures, widget and exercise check."""

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from rnnbook import exercises, exercises_rnn, plots_rnn, widgets
from rnnbook import gradients as G
from rnnbook.cells import GRUCell, LSTMCell, RNNCell

PNG = "iVBORw0KGgo"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def run(nonlinearity="tanh", T=6, B=2, I=3, H=4, seed=0):
    cell = RNNCell(I, H, nonlinearity=nonlinearity, seed=seed)
    x = np.random.default_rng(seed + 1).normal(size=(T, B, I))
    out, _, cache = cell.forward(x)
    d_hT = np.random.default_rng(seed + 2).normal(size=(B, H))
    return cell, x, out, cache, d_hT


# ------------------------------------------------------------------------- Jacobians and BPTT


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "linear"])
def test_jacobian_product_gives_the_backward_of_the_cell(nonlinearity):
    cell, x, out, cache, d_hT = run(nonlinearity)
    P = G.jacobian_product(G.jacobians(cell, cache))  # dh_T/dh_0, (B, H, H)
    d_h0 = np.einsum("bij,bi->bj", P, d_hT)  # (dh_T/dh_0)^T delta_T
    expected = cell.backward(np.zeros_like(out), cache, d_state=d_hT)["state"]
    np.testing.assert_allclose(d_h0, expected, rtol=1e-12, atol=1e-14)


def test_jacobians_equal_torch_autograd():
    cell, x, out, cache, _ = run("tanh", T=3, B=1)
    J = G.jacobians(cell, cache)
    rnn = cell.to_torch(cell=True).double()
    xt = torch.from_numpy(x)
    h_prev = torch.zeros(1, cell.hidden_size, dtype=torch.float64)
    for t in range(3):
        jac = torch.autograd.functional.jacobian(lambda h, t=t: rnn(xt[t], h), h_prev)
        np.testing.assert_allclose(J[t, 0], jac[0, :, 0, :].numpy(), rtol=1e-10, atol=1e-12)
        h_prev = rnn(xt[t], h_prev).detach()


def test_hidden_grads_match_the_jacobian_product_at_every_step():
    cell, x, out, cache, d_hT = run("tanh", T=5)
    deltas = G.hidden_grads(cell, cache, d_hT)
    J = G.jacobians(cell, cache)
    assert deltas.shape == (6, 2, 4)
    np.testing.assert_array_equal(deltas[5], d_hT)
    for k in range(6):
        expected = np.einsum("bij,bi->bj", G.jacobian_product(J, k), d_hT)
        np.testing.assert_allclose(deltas[k], expected, rtol=1e-12, atol=1e-14)


def test_jacobian_product_of_k_equal_T_is_the_identity_and_bad_k_raises():
    J = np.random.default_rng(0).normal(size=(3, 2, 4, 4))
    np.testing.assert_array_equal(G.jacobian_product(J, 3), np.broadcast_to(np.eye(4), (2, 4, 4)))
    np.testing.assert_allclose(G.jacobian_product(J, 1), J[2] @ J[1])
    with pytest.raises(ValueError, match="k must be"):
        G.jacobian_product(J, 4)
    with pytest.raises(ValueError, match=r"\(T, B, H, H\)"):
        G.jacobian_product(J[0])


def test_bad_arguments_of_the_jacobian_helpers():
    cell, x, out, cache, d_hT = run()
    with pytest.raises(TypeError, match="RNNCell"):
        G.jacobians(LSTMCell(3, 4), cache)
    with pytest.raises(TypeError, match="cache"):
        G.jacobians(cell, out)
    with pytest.raises(ValueError, match="d_hT must have shape"):
        G.hidden_grads(cell, cache, d_hT[0])


# ------------------------------------------------------------------------- the w-chain


def test_one_unit_chain_matches_the_closed_form():
    ws = np.array([1.0, 1.01, 0.99, 0.01, -0.5])
    y, dy = G.one_unit_chain(ws, 1000)
    np.testing.assert_allclose(y, ws**999, rtol=1e-12)
    np.testing.assert_allclose(dy, 999 * ws**998, rtol=1e-12)
    assert y[0] == 1.0 and dy[0] == 999.0
    assert 20751 < y[1] < 20752 and 4.3e-5 < y[2] < 4.4e-5 and y[3] == 0.0


def test_one_unit_chain_keeps_the_shape_of_w_and_checks_T():
    y, dy = G.one_unit_chain(1.1, 3)
    assert y.shape == () and np.isclose(y, 1.21) and np.isclose(dy, 2.2)
    assert G.one_unit_chain(0.7, 1)[0] == 1.0 and G.one_unit_chain(0.7, 1)[1] == 0.0
    with pytest.raises(ValueError, match="T must be"):
        G.one_unit_chain(1.0, 0)
    with pytest.raises(ValueError, match="1-D"):
        G.one_unit_chain(np.ones((2, 2)), 3)


# ------------------------------------------------------------------------- matrices


def test_scaled_orthogonal_has_every_singular_value_sigma():
    W = G.scaled_orthogonal(8, 1.5, seed=0)
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), 1.5)
    np.testing.assert_allclose(W, G.scaled_orthogonal(8, 1.5, seed=0))
    with pytest.raises(ValueError, match="H must be"):
        G.scaled_orthogonal(0, 1.0)


def test_scale_to_norm():
    W = np.random.default_rng(0).normal(size=(5, 5))
    assert np.isclose(np.linalg.norm(G.scale_to_norm(W, 0.5), 2), 0.5)
    with pytest.raises(ValueError, match="zero"):
        G.scale_to_norm(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="matrix"):
        G.scale_to_norm(np.ones(3), 1.0)


# ------------------------------------------------------------------------- Pascanu's unit


def test_bistable_unit_gradient_matches_finite_differences():
    w = np.array([1.0, 5.0, 8.0])
    b = np.array([0.3, -2.0, -4.5])
    x, dw, db = G.bistable_unit(w, b, T=20)
    eps = 1e-6
    num_w = (G.bistable_unit(w + eps, b, T=20)[0] - G.bistable_unit(w - eps, b, T=20)[0]) / 2 / eps
    num_b = (G.bistable_unit(w, b + eps, T=20)[0] - G.bistable_unit(w, b - eps, T=20)[0]) / 2 / eps
    np.testing.assert_allclose(dw, num_w, rtol=1e-5)
    np.testing.assert_allclose(db, num_b, rtol=1e-5)
    x1 = 0.5
    for _ in range(20):
        x1 = 5.0 / (1 + np.exp(-x1)) - 2.0
    assert np.isclose(x[1], x1)


def test_bistable_unit_broadcasts_over_a_grid():
    x, dw, db = G.bistable_unit(np.linspace(2, 10, 7)[None, :], np.linspace(-5, 1, 4)[:, None])
    assert x.shape == dw.shape == db.shape == (4, 7)
    with pytest.raises(ValueError, match="T must be"):
        G.bistable_unit(1.0, 0.0, T=0)


# ------------------------------------------------------------------------- clipping, descent


def test_clip_by_norm_keeps_the_direction_and_caps_the_length():
    g = np.array([3.0, 4.0])
    clipped, norm = G.clip_by_norm(g, 1.0)
    assert norm == 5.0
    np.testing.assert_allclose(clipped, [0.6, 0.8])
    small, norm = G.clip_by_norm(g, 10.0)
    np.testing.assert_array_equal(small, g)
    assert small is not g
    with pytest.raises(ValueError, match="threshold"):
        G.clip_by_norm(g, 0.0)


def test_descend_on_a_quadratic_and_with_clipping():
    path, norms = G.descend(lambda p: 2 * p, [3.0, -4.0], lr=0.25, steps=20)
    assert path.shape == (21, 2) and norms.shape == (20,)
    assert norms[0] == 10.0 and np.linalg.norm(path[-1]) < 1e-5
    path, norms = G.descend(lambda p: 2 * p, [30.0, -40.0], lr=0.1, steps=5, clip=1.0)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    np.testing.assert_allclose(steps, 0.1)  # every step lr * clip long
    assert norms[0] == 100.0
    with pytest.raises(ValueError, match="lr"):
        G.descend(lambda p: p, [1.0], lr=0.0, steps=1)


# ------------------------------------------------------------------------- any cell


def test_state_grad_norms_use_the_cells_backward():
    cell = RNNCell(2, 3, seed=0)
    x = np.random.default_rng(0).normal(size=(5, 1, 2))
    norms = G.state_grad_norms(cell, x, [1, 5], seed=3)
    v = np.random.default_rng(3).normal(size=3)
    v /= np.linalg.norm(v)
    out, _, cache = cell.forward(x)
    expected = np.linalg.norm(G.hidden_grads(cell, cache, v[None])[0])
    assert np.isclose(norms[1], expected)
    lstm = LSTMCell(2, 3, seed=0)
    out, _, cache = lstm.forward(x[:2])
    d = np.zeros_like(out)
    d[-1] = v
    h, c = lstm.backward(d, cache)["state"]
    both = np.sqrt(np.sum(h**2) + np.sum(c**2))
    assert np.isclose(G.state_grad_norms(lstm, x, [2], seed=3)[0], both)
    assert G.state_grad_norms(GRUCell(2, 3, seed=0), x, [1, 2, 3]).shape == (3,)
    with pytest.raises(ValueError, match="lengths"):
        G.state_grad_norms(cell, x, [6])


# ------------------------------------------------------------------------- figures and widget


def test_w_chain_figure():
    ws = np.linspace(0.9, 1.1, 21)
    y, dy = G.one_unit_chain(ws, 100)
    fig = plots_rnn.w_chain(ws, y, dy, 100, marks={"w = 1": 1.0})
    ax = fig.axes[0]
    assert "T = 100" in ax.get_title() and ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 2 + 1 + 2  # two curves, one marker line, two dots
    assert fig._repr_png_()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="1-D"):
        plots_rnn.w_chain(ws, y[:-1], dy, 100)


def test_error_surface_figure():
    x, y = np.linspace(0, 1, 5), np.linspace(0, 2, 4)
    loss = np.add.outer(y, x) ** 2 + 1e-3
    fig = plots_rnn.error_surface(x, y, loss, {"path": np.array([[0.1, 0.2], [0.5, 3.0]])})
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() == "w" and ax.get_xlim() == (0.0, 1.0)
    assert fig._repr_png_()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="loss must have shape"):
        plots_rnn.error_surface(x, y, loss.T)
    with pytest.raises(ValueError, match="paths"):
        plots_rnn.error_surface(x, y, loss, {"bad": np.zeros(3)})


def test_w_chain_explorer_shows_a_static_png_and_redraws():
    InteractiveShell.instance()
    with capture_output() as captured:
        fig = widgets.w_chain_explorer()
        fig.controls["w"].value = 0.99
    assert captured.outputs[0].data["image/png"].startswith(PNG)
    assert isinstance(fig.controls["T"], ipywidgets.IntSlider) and fig.draws == 2
    with pytest.raises(ValueError, match="w must be"):
        widgets.w_chain_explorer(w=2.0)
    with pytest.raises(ValueError, match="T must be"):
        widgets.w_chain_explorer(T=1)


# ------------------------------------------------------------------------- the exercise check


def jacobian_answer(W_hh, hs, delta_T):
    P = np.eye(len(delta_T))
    for t in range(1, hs.shape[0] + 1):
        P = np.diag(1 - hs[t - 1] ** 2) @ W_hh @ P
    return P.T @ delta_T


def test_check_jacobian_bptt_passes_the_right_answer():
    assert exercises.check_jacobian_bptt(jacobian_answer).ok


def test_check_jacobian_bptt_reference_is_torch_autograd():
    case = exercises_rnn._jacobian_cases()[0]
    W = torch.from_numpy(case["W_hh"]).requires_grad_(False)
    hs = case["hs"]
    # rebuild the pre-activations the states came from, then differentiate h_T wrt h_0
    h0 = torch.zeros(W.shape[0], dtype=torch.float64, requires_grad=True)
    h, pre = h0, []
    for t in range(hs.shape[0]):
        a_in = np.arctanh(hs[t]) - case["W_hh"] @ (hs[t - 1] if t else np.zeros_like(hs[0]))
        pre.append(torch.from_numpy(a_in))
        h = torch.tanh(W @ h + pre[-1])
    (h @ torch.from_numpy(case["delta_T"])).backward()
    expected = h0.grad.numpy()
    np.testing.assert_allclose(exercises_rnn._jacobian_bptt(**case), expected, rtol=1e-8)


def not_transposed(W_hh, hs, d):
    for t in range(hs.shape[0], 0, -1):
        d = (1 - hs[t - 1] ** 2) * (W_hh @ d)  # J_t d instead of J_t^T d
    return d


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda W_hh, hs, d: np.linalg.matrix_power(W_hh.T, hs.shape[0]) @ d, "tanh' is missing"),
        (not_transposed, "transpose"),
    ],
)
def test_check_jacobian_bptt_diagnoses_mistakes(wrong, hint):
    verdict = exercises.check_jacobian_bptt(wrong)
    assert not verdict.ok
    assert hint in verdict.hint or hint in verdict.message, str(verdict)
