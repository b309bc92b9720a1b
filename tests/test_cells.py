"""rnnbook.cells without PyTorch: the memory example, finite-difference gradients of every
cell, variant and wrapper, dtypes, and the error messages for bad input."""

import numpy as np
import pytest

from rnnbook.cells import Bidirectional, GRUCell, JordanRNN, LSTMCell, RNNCell, Stacked, pin_gates
from rnnbook.cells.base import NEW

I, H, O, T, B = 3, 4, 2, 4, 2


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def flat(s):
    """The arrays of a (possibly nested) state, in order."""
    if isinstance(s, tuple | list):
        return [a for e in s for a in flat(e)]
    return [s]


def like(s, rng):
    """Random arrays with the structure and shapes of ``s``."""
    if isinstance(s, tuple | list):
        return type(s)(like(e, rng) for e in s)
    return rng.normal(size=s.shape)


def check_against_finite_differences(model, seed=0, eps=1e-6, atol=1e-7, rtol=1e-6):
    """backward(G, cache, Gs) equals the numerical gradient of
    L = sum(outputs * G) + sum(final_state * Gs) for x, the initial state and every param."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, B, model.input_size))
    state = like(model.init_state(B), rng)
    out, final, cache = model.forward(x, state)
    G, Gs = rng.normal(size=out.shape), like(final, rng)
    grads = model.backward(G, cache, Gs)

    def loss():
        out, final, _ = model.forward(x, state)
        return (out * G).sum() + sum(
            (a * g).sum() for a, g in zip(flat(final), flat(Gs), strict=True)
        )

    def numerical(a):
        num = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            up = loss()
            a[idx] = old - eps
            down = loss()
            a[idx] = old
            num[idx] = (up - down) / (2 * eps)
        return num

    targets = {"x": (x, grads["x"])}
    for k, (a, g) in enumerate(zip(flat(state), flat(grads["state"]), strict=True)):
        targets[f"state[{k}]"] = (a, g)
    for name, p in model.params.items():
        targets[name] = (p, grads[name])
    assert set(grads) == {"x", "state", *model.params}
    for name, (a, g) in targets.items():
        assert g.shape == a.shape, name
        np.testing.assert_allclose(g, numerical(a), atol=atol, rtol=rtol, err_msg=name)


def ones(model):
    for p in model.params.values():
        p[...] = 1.0
    return model


MEMORY_X = np.array([[[1.0, 1.0]], [[1.0, 1.0]], [[2.0, 2.0]]])  # (T=3, B=1, I=2)


# ------------------------------------------------------------------------------------------
# the memory example
# ------------------------------------------------------------------------------------------


def test_memory_example_elman_stores_hidden_values():
    cell = ones(RNNCell(2, 2, nonlinearity="linear", bias=False))
    hidden, h_T, _ = cell.forward(MEMORY_X)
    np.testing.assert_array_equal(hidden[:, 0], [[2, 2], [6, 6], [16, 16]])
    np.testing.assert_array_equal(h_T, [[16, 16]])
    W_hy = np.ones((2, 2))  # an output layer with all-ones weights
    np.testing.assert_array_equal(hidden[:, 0] @ W_hy.T, [[4, 4], [12, 12], [32, 32]])


def test_memory_example_elman_step_by_step():
    cell = ones(RNNCell(2, 2, nonlinearity="linear", bias=False))
    h = cell.init_state(1)
    seen = []
    for x_t in MEMORY_X:
        out, h = cell.step(x_t, h)
        seen.append(out[0])
    np.testing.assert_array_equal(seen, [[2, 2], [6, 6], [16, 16]])


def test_memory_example_jordan_stores_outputs():
    net = ones(JordanRNN(2, 2, 2, nonlinearity="linear", bias=False))
    y, y_T, cache = net.forward(MEMORY_X)
    # h_1 = [2, 2], y_1 = [4, 4]; h_2 = x_2 + W_hh y_1 = [2+8, 2+8], y_2 = [20, 20]; ...
    np.testing.assert_array_equal(cache["h"][:, 0], [[2, 2], [10, 10], [44, 44]])
    np.testing.assert_array_equal(y[:, 0], [[4, 4], [20, 20], [88, 88]])
    np.testing.assert_array_equal(y_T, [[88, 88]])


# ------------------------------------------------------------------------------------------
# gradients of every cell, variant and wrapper against finite differences
# ------------------------------------------------------------------------------------------

MODELS = {
    "rnn-tanh": lambda: RNNCell(I, H, seed=1),
    "rnn-relu": lambda: RNNCell(I, H, "relu", seed=2),
    "rnn-linear-nobias": lambda: RNNCell(I, H, "linear", bias=False, seed=3),
    "jordan-tanh-linear": lambda: JordanRNN(I, H, O, seed=4),
    "jordan-relu-sigmoid": lambda: JordanRNN(I, H, O, "relu", "sigmoid", seed=5),
    "jordan-linear-tanh-nobias": lambda: JordanRNN(I, H, O, "linear", "tanh", bias=False, seed=6),
    "lstm-vanilla": lambda: LSTMCell(I, H, seed=7),
    "lstm-peephole": lambda: LSTMCell(I, H, "peephole", seed=8),
    "lstm-cifg": lambda: LSTMCell(I, H, "cifg", forget_bias=1.0, seed=9),
    "lstm-nfg": lambda: LSTMCell(I, H, "nfg", seed=10),
    "lstm-noaf": lambda: LSTMCell(I, H, "noaf", seed=11),
    "lstm-nobias": lambda: LSTMCell(I, H, bias=False, seed=12),
    "gru-after": lambda: GRUCell(I, H, seed=13),
    "gru-before": lambda: GRUCell(I, H, "before", seed=14),
    "gru-before-nobias": lambda: GRUCell(I, H, "before", bias=False, seed=15),
    "stacked-lstm-gru-jordan": lambda: Stacked(
        [LSTMCell(I, H, seed=16), GRUCell(H, H, seed=17), JordanRNN(H, 3, O, seed=18)]
    ),
    "bidirectional-rnn-lstm": lambda: Bidirectional(
        RNNCell(I, H, seed=19), LSTMCell(I, 3, "peephole", seed=20)
    ),
    "stacked-bidirectional-gru": lambda: Stacked(
        [
            Bidirectional(GRUCell(I, 3, seed=21), GRUCell(I, 3, "before", seed=22)),
            Bidirectional(GRUCell(6, 2, seed=23), GRUCell(6, 2, seed=24)),
        ]
    ),
}


@pytest.mark.parametrize("name", MODELS)
def test_backward_matches_finite_differences(name):
    check_against_finite_differences(MODELS[name]())


def test_backward_without_state_gradient_means_zero():
    cell = LSTMCell(I, H, seed=0)
    x = np.random.default_rng(0).normal(size=(T, B, I))
    out, (h, c), cache = cell.forward(x)
    G = np.ones_like(out)
    g0 = cell.backward(G, cache)
    g1 = cell.backward(G, cache, (np.zeros_like(h), np.zeros_like(c)))
    for k in cell.params:
        np.testing.assert_array_equal(g0[k], g1[k])


def test_a_broken_backward_is_caught(monkeypatch):
    """The finite-difference check is not vacuous: flip one sign in a step's backward and it
    fails."""
    right = GRUCell.step_backward

    def wrong(self, dh, kept, w, out=NEW):
        d_a, dh_prev = right(self, dh, kept, w, out)
        d_a["a_x"][:, H : 2 * H] *= -1  # the update gate's derivative, sign flipped
        return d_a, dh_prev

    monkeypatch.setattr(GRUCell, "step_backward", wrong)
    with pytest.raises(AssertionError):
        check_against_finite_differences(GRUCell(I, H, seed=0))


# ------------------------------------------------------------------------------------------
# structure: parameters, init, step, dtype
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "shapes"),
    [
        (
            RNNCell(3, 5),
            {"weight_ih": (5, 3), "weight_hh": (5, 5), "bias_ih": (5,), "bias_hh": (5,)},
        ),
        (RNNCell(3, 5, bias=False), {"weight_ih": (5, 3), "weight_hh": (5, 5)}),
        (
            LSTMCell(3, 5),
            {"weight_ih": (20, 3), "weight_hh": (20, 5), "bias_ih": (20,), "bias_hh": (20,)},
        ),
        (
            LSTMCell(3, 5, "peephole"),
            {
                "weight_ih": (20, 3),
                "weight_hh": (20, 5),
                "bias_ih": (20,),
                "bias_hh": (20,),
                "weight_ci": (5,),
                "weight_cf": (5,),
                "weight_co": (5,),
            },
        ),
        (
            LSTMCell(3, 5, "cifg"),
            {"weight_ih": (15, 3), "weight_hh": (15, 5), "bias_ih": (15,), "bias_hh": (15,)},
        ),
        (
            LSTMCell(3, 5, "nfg"),
            {"weight_ih": (15, 3), "weight_hh": (15, 5), "bias_ih": (15,), "bias_hh": (15,)},
        ),
        (
            GRUCell(3, 5, "before"),
            {"weight_ih": (15, 3), "weight_hh": (15, 5), "bias_ih": (15,), "bias_hh": (15,)},
        ),
        (
            JordanRNN(3, 5, 2),
            {
                "weight_ih": (5, 3),
                "weight_hh": (5, 2),
                "bias_ih": (5,),
                "bias_hh": (5,),
                "weight_hy": (2, 5),
                "bias_y": (2,),
            },
        ),
    ],
    ids=repr,
)
def test_parameter_names_shapes_and_count(model, shapes):
    assert {k: v.shape for k, v in model.params.items()} == shapes
    assert model.num_parameters() == sum(int(np.prod(s)) for s in shapes.values())


def test_init_is_uniform_in_pytorch_range_and_seeded():
    cell = LSTMCell(3, 16, seed=0)
    k = 1 / np.sqrt(16)
    for p in cell.params.values():
        assert np.all(np.abs(p) <= k)
    assert np.abs(cell.params["weight_hh"]).max() > 0.9 * k  # spans the range
    again = LSTMCell(3, 16, seed=0)
    other = LSTMCell(3, 16, seed=1)
    assert all(np.array_equal(cell.params[n], again.params[n]) for n in cell.params)
    assert not np.array_equal(cell.params["weight_ih"], other.params["weight_ih"])


def test_forget_bias_is_added_to_the_forget_block():
    plain, biased = LSTMCell(3, 4, seed=0), LSTMCell(3, 4, forget_bias=1.0, seed=0)
    diff = biased.params["bias_ih"] - plain.params["bias_ih"]
    np.testing.assert_allclose(diff, [0] * 4 + [1] * 4 + [0] * 8)
    cifg = LSTMCell(3, 4, "cifg", forget_bias=2.0, seed=0)
    assert cifg.params["bias_ih"][:4].min() > 1.4  # f is the first block of f, g, o
    with pytest.raises(ValueError, match="forget_bias needs a forget gate"):
        LSTMCell(3, 4, "nfg", forget_bias=1.0)


@pytest.mark.parametrize(
    "name",
    ["rnn-tanh", "jordan-relu-sigmoid", "lstm-peephole", "gru-before", "stacked-lstm-gru-jordan"],
)
def test_step_by_step_equals_forward(name):
    model = MODELS[name]()
    x = np.random.default_rng(0).normal(size=(T, B, model.input_size))
    outputs, final, _ = model.forward(x)
    state = model.init_state(B)
    for t in range(T):
        out, state = model.step(x[t], state)
        np.testing.assert_allclose(out, outputs[t], rtol=1e-14, atol=1e-15)
    for a, b in zip(flat(state), flat(final), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


def test_lstm_variant_equations():
    """Spot checks of what makes each variant different, on one step."""
    x = np.random.default_rng(0).normal(size=(1, 2, 3))
    state = (np.zeros((2, 4)), np.full((2, 4), 0.5))
    _, (h, c), cache = LSTMCell(3, 4, "cifg", seed=0).forward(x, state)
    np.testing.assert_allclose(cache["i"], 1 - cache["f"])
    _, (h, c), cache = LSTMCell(3, 4, "nfg", seed=0).forward(x, state)
    np.testing.assert_allclose(c, 0.5 + cache["i"][0] * cache["g"][0])
    _, (h, c), cache = LSTMCell(3, 4, "noaf", seed=0).forward(x, state)
    np.testing.assert_allclose(h, cache["o"][0] * c)
    peep = LSTMCell(3, 4, "peephole", seed=0)
    van = LSTMCell(3, 4, seed=0)
    for n in van.params:
        van.params[n] = peep.params[n]
    for n in ("weight_ci", "weight_cf", "weight_co"):
        peep.params[n][...] = 0.0
    np.testing.assert_allclose(peep.forward(x, state)[0], van.forward(x, state)[0])


def test_gru_reset_before_and_after_agree_without_reset():
    """With r = 1 (huge reset bias) both placements give the same candidate."""
    after, before = GRUCell(3, 4, seed=0), GRUCell(3, 4, "before", seed=0)
    for cell in (after, before):
        cell.params["bias_ih"][:4] = 50.0
    x = np.random.default_rng(0).normal(size=(T, B, 3))
    np.testing.assert_allclose(after.forward(x)[0], before.forward(x)[0], atol=1e-12)
    after.params["bias_ih"][:4] = 0.0
    before.params["bias_ih"][:4] = 0.0
    assert not np.allclose(after.forward(x)[0], before.forward(x)[0])


@pytest.mark.parametrize("cls", [RNNCell, LSTMCell, GRUCell])
def test_float32_cells(cls):
    c32, c64 = cls(3, 4, seed=0, dtype=np.float32), cls(3, 4, seed=0)
    assert all(p.dtype == np.float32 for p in c32.params.values())
    x = np.random.default_rng(0).normal(size=(T, B, 3))  # float64 input is cast to float32
    out32, s32, cache32 = c32.forward(x)
    out64, _, _ = c64.forward(x)
    assert out32.dtype == np.float32 and all(a.dtype == np.float32 for a in flat(s32))
    np.testing.assert_allclose(out32, out64, atol=1e-6)
    grads = c32.backward(np.ones(out32.shape), cache32)
    assert all(g.dtype == np.float32 for g in flat(list(grads.values())))
    out64b, _, _ = c64.forward(x.astype(np.float32))  # float32 input in a float64 cell
    assert out64b.dtype == np.float64


def test_inputs_are_not_modified():
    cell = LSTMCell(3, 4, "peephole", seed=0)
    rng = np.random.default_rng(0)
    x, h0, c0 = rng.normal(size=(T, B, 3)), rng.normal(size=(B, 4)), rng.normal(size=(B, 4))
    dh, dc = rng.normal(size=(B, 4)), rng.normal(size=(B, 4))
    copies = [a.copy() for a in (x, h0, c0, dh, dc)]
    out, _, cache = cell.forward(x, (h0, c0))
    cell.backward(np.ones_like(out), cache, (dh, dc))
    for a, b in zip((x, h0, c0, dh, dc), copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_wrapper_parameter_names_follow_pytorch():
    deep = Stacked(
        [Bidirectional(RNNCell(3, 2), RNNCell(3, 2)), Bidirectional(RNNCell(4, 2), RNNCell(4, 2))]
    )
    assert sorted(deep.params) == sorted(
        f"{w}_l{k}{d}"
        for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        for k in (0, 1)
        for d in ("", "_reverse")
    )
    assert deep.num_parameters() == sum(p.size for p in deep.params.values())
    assert deep.output_size == 4
    out, state, _ = deep.forward(np.zeros((5, 2, 3)))
    assert out.shape == (5, 2, 4)
    assert isinstance(state, list) and isinstance(state[0], tuple) and state[0][1].shape == (2, 2)


def test_repr():
    assert repr(LSTMCell(3, 4, "cifg", forget_bias=1.0)) == (
        "LSTMCell(3, 4, variant='cifg', forget_bias=1.0)"
    )
    assert repr(RNNCell(3, 4)) == "RNNCell(3, 4, nonlinearity='tanh', bias=True)"
    assert "JordanRNN(3, 4, 2" in repr(JordanRNN(3, 4, 2))


# ------------------------------------------------------------------------------------------
# bad input: the message names what was expected
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda: RNNCell(3, 4, nonlinearity="sigmoid"),
            ValueError,
            r"unknown nonlinearity 'sigmoid'; expected one of tanh, relu, linear",
        ),
        (
            lambda: LSTMCell(3, 4, variant="gru"),
            ValueError,
            r"unknown LSTM variant 'gru'; expected one of vanilla, peephole",
        ),
        (
            lambda: GRUCell(3, 4, reset="never"),
            ValueError,
            r"unknown GRU reset 'never'; expected one of after, before",
        ),
        (
            lambda: JordanRNN(3, 4, 2, output_nonlinearity="softmax"),
            ValueError,
            r"unknown output_nonlinearity",
        ),
        (lambda: RNNCell(0, 4), ValueError, r"input_size must be a positive int, got 0"),
        (lambda: RNNCell(3, 2.5), TypeError, r"hidden_size must be a positive int"),
        (
            lambda: GRUCell(3, 4, dtype=np.int32),
            TypeError,
            r"dtype must be np.float32 or np.float64",
        ),
        (
            lambda: Stacked([RNNCell(3, 4), RNNCell(5, 4)]),
            ValueError,
            r"layer 1 has input_size=5 but layer 0 outputs 4",
        ),
        (lambda: Bidirectional(RNNCell(3, 4), RNNCell(2, 4)), ValueError, r"same input"),
    ],
)
def test_bad_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


X_OK = np.zeros((5, 2, 3))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda c: c.forward(np.zeros((2, 3))),
            ValueError,
            r"x must have shape \(T, B, input_size=3\), got \(2, 3\)",
        ),
        (
            lambda c: c.forward(np.zeros((5, 2, 4))),
            ValueError,
            r"x must have shape \(T, B, input_size=3\), got \(5, 2, 4\)",
        ),
        (
            lambda c: c.forward(np.zeros((0, 2, 3))),
            ValueError,
            r"x must have shape \(T, B, input_size=3\), got \(0, 2, 3\)",
        ),
        (
            lambda c: c.forward(X_OK, np.zeros((3, 4))),
            ValueError,
            r"state must have shape \(B=2, hidden_size=4\), got \(3, 4\)",
        ),
        (
            lambda c: c.forward(np.zeros((5, 2, 3), dtype=int)),
            TypeError,
            r"x must be a real floating-point array .* got dtype int64",
        ),
        (
            lambda c: c.forward(np.zeros((5, 2, 3), dtype=complex)),
            TypeError,
            r"got dtype complex128",
        ),
        (lambda c: c.forward(np.zeros((5, 2, 3), dtype=bool)), TypeError, r"got dtype bool"),
        (lambda c: c.forward([[[1, 2, 3]]]), TypeError, r"\.astype\(np\.float64\)"),
        (lambda c: c.forward(np.full((5, 2, 3), np.nan)), ValueError, r"x contains NaN or inf"),
        (
            lambda c: c.forward(X_OK, np.full((2, 4), np.inf)),
            ValueError,
            r"state contains NaN or inf",
        ),
        (
            lambda c: c.step(np.zeros((2, 2))),
            ValueError,
            r"x_t must have shape \(B, input_size=3\)",
        ),
        (
            lambda c: c.backward(np.zeros((5, 2, 5)), c.forward(X_OK)[2]),
            ValueError,
            r"d_outputs must have shape \(T=5, B=2, hidden_size=4\)",
        ),
        (
            lambda c: c.backward(np.zeros((5, 2, 4)), c.forward(X_OK)[2], np.zeros((1, 4))),
            ValueError,
            r"d_state must have shape \(B=2, hidden_size=4\)",
        ),
        (lambda c: c.init_state(0), ValueError, r"batch must be a positive int"),
    ],
)
@pytest.mark.parametrize("cls", [RNNCell, GRUCell])
def test_bad_input_messages(cls, call, error, match):
    with pytest.raises(error, match=match):
        call(cls(3, 4, seed=0))


def test_bad_lstm_and_jordan_states():
    lstm = LSTMCell(3, 4)
    with pytest.raises(TypeError, match=r"LSTM state is a pair \(h, c\)"):
        lstm.forward(X_OK, np.zeros((2, 4)))
    with pytest.raises(
        ValueError, match=r"state c must have shape \(B=2, hidden_size=4\), got \(2, 5\)"
    ):
        lstm.forward(X_OK, (np.zeros((2, 4)), np.zeros((2, 5))))
    with pytest.raises(ValueError, match=r"state must have shape \(B=2, output_size=2\)"):
        JordanRNN(3, 4, 2).forward(X_OK, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"list of 2 layer states"):
        Stacked([RNNCell(3, 4), RNNCell(4, 4)]).forward(X_OK, [None])
    with pytest.raises(ValueError, match=r"pair \(fwd_state, bwd_state\)"):
        Bidirectional(RNNCell(3, 4), RNNCell(3, 4)).forward(X_OK, np.zeros((2, 4)))


@pytest.mark.parametrize("part", [0, 1])
def test_an_lstm_state_is_a_complete_pair(part):
    """(h, None) used to mean zeros for c, silently; now it is refused, forward and backward."""
    lstm = LSTMCell(3, 4, seed=0)
    pair = [np.zeros((2, 4)), np.zeros((2, 4))]
    pair[part] = None
    missing = "hc"[part]
    with pytest.raises(TypeError, match=rf"state is a pair \(h, c\).*got None for {missing}"):
        lstm.forward(X_OK, tuple(pair))
    out, _, cache = lstm.forward(X_OK)
    with pytest.raises(TypeError, match=rf"d_state is a pair .*got None for {missing}"):
        lstm.backward(np.zeros_like(out), cache, tuple(pair))


def bad_params(cell, name, value):
    cell.params[name] = value
    return cell


@pytest.mark.parametrize(
    ("cell", "error", "match"),
    [
        (
            bad_params(LSTMCell(3, 4), "weight_ih", np.zeros((2, 16))),
            ValueError,
            r"params\['weight_ih'\] of LSTMCell\(3, 4, .*\) must have shape \(16, 3\), "
            r"got \(2, 16\)",
        ),
        (
            bad_params(LSTMCell(3, 4), "weight_hh", np.zeros((16, 3))),
            ValueError,
            r"params\['weight_hh'\] .* must have shape \(16, 4\), got \(16, 3\)",
        ),
        (
            bad_params(GRUCell(3, 4), "bias_hh", np.full(12, np.nan)),
            ValueError,
            r"params\['bias_hh'\] .* contains NaN or inf",
        ),
        (
            bad_params(RNNCell(3, 4), "weight_hh", np.eye(4, dtype=np.float32)),
            TypeError,
            r"params\['weight_hh'\] .* must be a NumPy array of the cell's dtype float64, got "
            r"dtype float32",
        ),
        (
            bad_params(RNNCell(3, 4), "weight_hh", np.eye(4, dtype=int)),
            TypeError,
            r"params\['weight_hh'\] .* got dtype int64",
        ),
        (
            bad_params(RNNCell(3, 4), "weight_hh", np.eye(4).tolist()),
            TypeError,
            r"params\['weight_hh'\] .* NumPy array .* got list",
        ),
        (
            bad_params(JordanRNN(3, 4, 2), "weight_extra", np.eye(4)),
            ValueError,
            r"params must hold \['weight_ih', .*'bias_y'\]; unexpected \['weight_extra'\]",
        ),
    ],
    ids=["shape", "core-dimension", "nan", "float32", "int", "list", "extra"],
)
def test_parameters_are_checked_at_forward_backward_and_to_torch(cell, error, match):
    x = np.zeros((2, 1, 3))
    with pytest.raises(error, match=match):
        cell.forward(x)
    params = cell.params
    cell.params = type(cell)(3, 4, *([2] if isinstance(cell, JordanRNN) else []), seed=0).params
    out, _, cache = cell.forward(x)  # good parameters for the forward, bad for the backward
    cell.params = params
    with pytest.raises(error, match=match):
        cell.backward(np.zeros_like(out), cache)
    if not isinstance(cell, JordanRNN):
        with pytest.raises(error, match=match):
            cell.to_torch()


def test_a_missing_parameter_is_named():
    cell = LSTMCell(3, 4, bias=False)
    del cell.params["weight_hh"]
    with pytest.raises(ValueError, match=r"must hold \['weight_ih', 'weight_hh'\]; missing"):
        cell.forward(X_OK)
    with pytest.raises(ValueError, match="pin_gates needs a cell with biases"):
        pin_gates(cell, f=1.0)


def test_a_cache_is_used_only_by_the_cell_that_made_it():
    import copy

    rnn, lstm = RNNCell(3, 4, seed=0), LSTMCell(3, 4, seed=0)
    out, _, lstm_cache = lstm.forward(X_OK)
    with pytest.raises(ValueError, match=r"cache was made by the forward of another cell .*LSTM"):
        rnn.backward(np.zeros_like(out), lstm_cache)
    _, _, cache = rnn.forward(X_OK)
    for other in (RNNCell(3, 4, seed=0), copy.deepcopy(rnn)):
        with pytest.raises(ValueError, match="another instance, or a copy"):
            other.backward(np.zeros_like(out), cache)
    with pytest.raises(TypeError, match=r"cache must be the third value returned by RNNCell"):
        rnn.backward(np.zeros_like(out), None)
    with pytest.raises(TypeError, match="list of 1 layer caches"):
        Stacked([rnn]).backward(np.zeros_like(out), cache)
    with pytest.raises(TypeError, match=r"pair \(fwd_cache, bwd_cache\)"):
        Bidirectional(rnn, lstm).backward(np.zeros((5, 2, 8)), [cache, lstm_cache])


def test_a_cache_written_by_hand_must_hold_what_forward_stores():
    cell = RNNCell(3, 4, seed=0)
    out, _, cache = cell.forward(X_OK)
    G = np.random.default_rng(0).normal(size=out.shape)
    by_hand = {k: np.array(v) for k, v in cache.items()}
    expected = cell.backward(G, cache)
    got = cell.backward(G, by_hand)
    for k in expected:
        np.testing.assert_array_equal(got[k], expected[k])
    del by_hand["h0"]
    with pytest.raises(ValueError, match=r"cache has no 'h0'; this cell's forward stores"):
        cell.backward(G, by_hand)
    by_hand["h0"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"cache\['h0'\] must have shape \(2, 4\)"):
        cell.backward(G, by_hand)
    with pytest.raises(
        ValueError, match=r"cache has no 'gates'; this cell's forward stores \['gates', "
    ):
        LSTMCell(3, 4).backward(G, {"x": X_OK})


@pytest.mark.parametrize("cls", [RNNCell, LSTMCell, GRUCell, JordanRNN])
def test_float16_is_computed_in_float32_and_float64_beyond_float32_is_refused(cls):
    args = (3, 4, 2) if cls is JordanRNN else (3, 4)
    c32 = cls(*args, seed=0, dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(5, 2, 3))
    out16, _, _ = c32.forward(x.astype(np.float16))
    out32, _, _ = c32.forward(x.astype(np.float16).astype(np.float32))
    assert out16.dtype == np.float32
    np.testing.assert_array_equal(out16, out32)
    with pytest.raises(
        ValueError, match=r"x has values too large for float32 \(largest magnitude 1e\+300\)"
    ):
        c32.forward(np.full((5, 2, 3), 1e300))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: RNNCell(3, 4).forward(np.zeros((5, 0, 3))), ValueError, r"got \(5, 0, 3\)"),
        (
            lambda: RNNCell(3, 4).forward([[[1.0, 2.0, 3.0]], [[1.0]]]),
            ValueError,
            "x is not an array",
        ),
        (lambda: RNNCell(3, 4).forward(None), TypeError, "x must be a real .* got NoneType"),
        (
            lambda: RNNCell(3, 4, dtype="float8"),
            TypeError,
            "dtype must be np.float32 or np.float64",
        ),
        (lambda: RNNCell(3, True), TypeError, "hidden_size must be a positive int, got True"),
        (lambda: LSTMCell(3, 4, forget_bias=np.nan), ValueError, "forget_bias must be finite"),
        (lambda: LSTMCell(3, 4, forget_bias=[1.0]), TypeError, "forget_bias must be a number"),
        (lambda: Stacked(RNNCell(3, 4)), TypeError, "cells must be a list of cells"),
        (lambda: Stacked([RNNCell(3, 4), "gru"]), TypeError, r"cells\[1\] must be a cell"),
        (lambda: Bidirectional(RNNCell(3, 4), None), TypeError, "bwd must be a cell"),
        (
            lambda: Stacked([RNNCell(3, 4)]).step(np.zeros(3)),
            ValueError,
            r"x_t must have shape \(B, input_size=3\), got \(3,\)",
        ),
        (
            lambda: Bidirectional(RNNCell(3, 4), RNNCell(3, 2)).backward(
                np.zeros((5, 2, 4)), Bidirectional(RNNCell(3, 4), RNNCell(3, 2)).forward(X_OK)[2]
            ),
            ValueError,
            r"d_outputs must have shape \(T, B, output_size=6\), got \(5, 2, 4\)",
        ),
        (
            lambda: pin_gates(GRUCell(3, 4), z="open"),
            TypeError,
            "gate z must be a number",
        ),
    ],
)
def test_more_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------------------------------
# the steps: the chapters' equations, callable alone, and the variants as subclasses
# ------------------------------------------------------------------------------------------

STEP_CELLS = {
    "rnn": lambda: RNNCell(3, 4, seed=0),
    "jordan": lambda: JordanRNN(3, 4, 2, seed=1),
    "lstm": lambda: LSTMCell(3, 4, seed=2),
    "peephole": lambda: LSTMCell(3, 4, "peephole", seed=3),
    "cifg": lambda: LSTMCell(3, 4, "cifg", seed=4),
    "nfg": lambda: LSTMCell(3, 4, "nfg", seed=5),
    "noaf": lambda: LSTMCell(3, 4, "noaf", seed=6),
    "gru": lambda: GRUCell(3, 4, seed=7),
    "gru-before": lambda: GRUCell(3, 4, "before", seed=8),
}


@pytest.mark.parametrize("name", STEP_CELLS)
def test_the_steps_called_alone_are_the_sequence(name):
    """forward / backward are the steps in a loop: calling step_forward and step_backward by
    hand (fresh arrays, no out buffers) gives the same outputs, state and pre-activation
    gradients."""
    cell = STEP_CELLS[name]()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 2, 3))
    out, final, cache = cell.forward(x)
    G = rng.normal(size=out.shape)
    grads = cell.backward(G, cache)
    w, a_x = cell.step_weights(), cell._input_projection(x)
    state, kept = cell.init_state(2), []
    for t in range(5):
        state, k = cell.step_forward(a_x[t], state, w)
        kept.append(k)
    for ours, theirs in zip(flat(state), flat(final), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    stacked = {k: np.stack([k_t[k] for k_t in kept]) for k in kept[0]}
    for k, a in {**stacked, **cell._views(stacked)}.items():  # every step's, in the cache
        np.testing.assert_array_equal(cache[k], a, err_msg=k)
    d_state = cell._state_in("d", None, 2)
    for t in reversed(range(5)):
        d_state = cell._add_output_gradient(d_state, G[t])
        d_a, d_state = cell.step_backward(d_state, kept[t], w)
        dx = d_a["a_x"] @ cell.params["weight_ih"]
        np.testing.assert_allclose(dx, grads["x"][t], rtol=1e-12, atol=1e-14)
    for ours, theirs in zip(flat(d_state), flat(grads["state"]), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_lstm_variant_and_gru_reset_are_subclasses():
    from rnnbook import cells

    assert type(LSTMCell(3, 4, variant="cifg")) is cells.CIFGLSTMCell
    assert type(LSTMCell(3, 4, "peephole")) is cells.PeepholeLSTMCell
    assert isinstance(LSTMCell(3, 4, "nfg"), LSTMCell) and type(LSTMCell(3, 4)) is LSTMCell
    assert type(GRUCell(3, 4, reset="before")) is cells.ResetBeforeGRUCell
    assert cells.NoAFLSTMCell(3, 4, "noaf").variant == "noaf"
    with pytest.raises(ValueError, match="unknown LSTM variant 'gru'; expected one of vanilla"):
        LSTMCell(3, 4, variant="gru")
    with pytest.raises(ValueError, match="is variant 'cifg', not 'nfg'"):
        cells.CIFGLSTMCell(3, 4, variant="nfg")
    import copy
    import pickle

    cell = LSTMCell(3, 4, "cifg", forget_bias=1.0, seed=0)
    for twin in (copy.deepcopy(cell), pickle.loads(pickle.dumps(cell))):
        assert type(twin) is cells.CIFGLSTMCell and repr(twin) == repr(cell)


@pytest.mark.parametrize(
    "step",
    [
        RNNCell.step_forward,
        RNNCell.forward,
        LSTMCell.step_forward,
        LSTMCell.step_backward,
        GRUCell.step_forward,
    ],
)
def test_the_steps_the_chapters_print_fit_the_column(step):
    # chapters 1, 3, 4 and 5 print these; a line over 84 characters wraps on the page
    from rnnbook.cells import source_of

    widest = max(source_of(step).splitlines(), key=len)
    assert len(widest) <= 84, widest


def test_source_of_prints_a_step_without_its_docstring():
    from rnnbook.cells import source_of

    text = source_of(LSTMCell.step_forward)
    assert text.startswith("def step_forward(self, a_x")
    assert '"""' not in text and "c_tilde" in text and "_sigmoid(gates" in text
    assert source_of(RNNCell.forward).startswith("def forward(")  # the decorator is gone
    with pytest.raises(TypeError, match="source_of needs a function"):
        source_of(RNNCell)
