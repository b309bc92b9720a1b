"""Every public function of rnnbook.cells, rnnbook.attention and rnnbook.functional, over
random shapes, dtypes and values, with one argument broken at random (or none).

A call either returns a finite result that matches PyTorch (the autograd twins of
tests/test_cells_torch.py and tests/test_attention.py), or raises a ValueError or TypeError
from one of rnnbook's own ``raise`` statements, whose message names the broken argument.
Never a NumPy error from inside, never a warning, never a silent NaN.
"""

from __future__ import annotations

import copy
import linecache
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from rnnbook import attention, cells, functional, reference
from rnnbook.cells import Bidirectional, GRUCell, JordanRNN, LSTMCell, RNNCell, Stacked
from rnnbook.reference import score as torch_score

torch.set_num_threads(1)
LIB = Path(functional.__file__).parent  # rnnbook/, and rnnbook/cells/ below it
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EACH = settings(SETTINGS, max_examples=50)  # for each parametrized target


def outcome(call, broken: set[str]):
    """``call()`` with every warning an error. With nothing ``broken`` it must return, and
    its result is returned; otherwise it must raise a ValueError or TypeError, from a
    ``raise`` statement of rnnbook, whose message names one of the ``broken`` arguments."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = call()
    except (ValueError, TypeError) as error:
        tb = error.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        where, line = tb.tb_frame.f_code.co_filename, tb.tb_lineno
        source = linecache.getline(where, line).strip()
        assert LIB in Path(where).parents and source.startswith("raise"), (
            f"{type(error).__name__} from inside ({where}:{line}): {error}"
        )
        assert broken, f"a valid call was refused: {error}"
        named = [b for b in broken if re.search(rf"(^|\W){re.escape(b)}(\W|$)", str(error))]
        assert named, f"the message names none of {sorted(broken)}: {error}"
        event(f"refused, naming {named[0]}")
        return None
    assert not broken, f"broken {sorted(broken)} accepted"
    event("returned")
    return result


def close(ours, theirs, dtype, what=""):
    """Our result (finite) equals PyTorch's float64 one to the precision of ``dtype``."""
    ours = np.asarray(ours)
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert ours.shape == theirs.shape, what
    assert np.isfinite(ours).all(), f"{what}: silent NaN or inf"
    tol = {np.float16: 3e-3, np.float32: 2e-4, np.float64: 1e-9}[np.dtype(dtype).type]
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * scale, err_msg=what)


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ------------------------------------------------------------------------------------------
# breaking one array argument
# ------------------------------------------------------------------------------------------


def _ragged(a):
    """A nested list that is not an array of one shape."""
    a = np.asarray(a).tolist()
    return [a, [a]]


def bad_size(n) -> bool:
    return isinstance(n, bool) or not isinstance(n, int) or n < 1


def _poke(a, value):
    a = np.array(a, dtype=np.float64)
    a.flat[a.size // 2] = value
    return a


BREAKS = {  # how an array argument is broken -> what it does to the array
    "int": lambda a: np.asarray(a).round().astype(np.int64),
    "bool": lambda a: np.asarray(a) > 0,
    "complex": lambda a: np.asarray(a) + 0j,
    "nan": lambda a: _poke(a, np.nan),
    "inf": lambda a: _poke(a, -np.inf),
    "none": lambda a: None,
    "ragged": _ragged,
    "rank": lambda a: np.asarray(a)[None],
    "size": lambda a: np.concatenate([a, np.asarray(a)[..., :1]], axis=-1),
    "empty": lambda a: np.asarray(a)[:0],
}
VALID = {  # variations that must be accepted
    "float16": lambda a: np.asarray(a, dtype=np.float16),
    "list": lambda a: np.asarray(a).tolist(),
}
SHAPE_BREAKS = ("rank", "size", "empty")


# ------------------------------------------------------------------------------------------
# cells: forward, backward, to_torch / from_torch against the autograd twins and nn modules
# ------------------------------------------------------------------------------------------

KINDS = {
    "rnn-tanh": lambda I, H, dt, s: RNNCell(I, H, seed=s, dtype=dt),
    "rnn-relu": lambda I, H, dt, s: RNNCell(I, H, "relu", seed=s, dtype=dt),
    "rnn-linear-nobias": lambda I, H, dt, s: RNNCell(I, H, "linear", bias=False, seed=s, dtype=dt),
    "jordan": lambda I, H, dt, s: JordanRNN(I, H, 2, "tanh", "sigmoid", seed=s, dtype=dt),
    "lstm": lambda I, H, dt, s: LSTMCell(I, H, forget_bias=1.0, seed=s, dtype=dt),
    "lstm-peephole": lambda I, H, dt, s: LSTMCell(I, H, "peephole", seed=s, dtype=dt),
    "lstm-cifg": lambda I, H, dt, s: LSTMCell(I, H, "cifg", seed=s, dtype=dt),
    "lstm-nfg": lambda I, H, dt, s: LSTMCell(I, H, "nfg", seed=s, dtype=dt),
    "lstm-noaf-nobias": lambda I, H, dt, s: LSTMCell(I, H, "noaf", bias=False, seed=s, dtype=dt),
    "gru": lambda I, H, dt, s: GRUCell(I, H, seed=s, dtype=dt),
    "gru-before": lambda I, H, dt, s: GRUCell(I, H, "before", seed=s, dtype=dt),
    "stacked": lambda I, H, dt, s: Stacked(
        [LSTMCell(I, H, seed=s, dtype=dt), GRUCell(H, 2, seed=s + 1, dtype=dt)]
    ),
    "bidirectional": lambda I, H, dt, s: Bidirectional(
        RNNCell(I, H, seed=s, dtype=dt), LSTMCell(I, 2, seed=s + 1, dtype=dt)
    ),
}
TORCH_KINDS = ("rnn-tanh", "rnn-relu", "lstm", "gru")  # to_torch gives nn.RNN, nn.LSTM, nn.GRU


def leaves(model) -> list:
    if isinstance(model, Stacked):
        return [c for m in model.cells for c in leaves(m)]
    if isinstance(model, Bidirectional):
        return leaves(model.fwd) + leaves(model.bwd)
    return [model]


def twin(model, P, x, state):
    """``model.forward`` in PyTorch: ``P`` maps ``model.params`` names to tensors."""
    if isinstance(model, Stacked):
        finals = []
        for k, cell in enumerate(model.cells):
            sub = {n: P[cells._layer_name(n, k)] for n in cell.params}
            x, s = twin(cell, sub, x, state[k])
            finals.append(s)
        return x, finals
    if isinstance(model, Bidirectional):
        out_f, s_f = twin(model.fwd, {n: P[n] for n in model.fwd.params}, x, state[0])
        sub = {n: P[f"{n}_reverse"] for n in model.bwd.params}
        out_b, s_b = twin(model.bwd, sub, x.flip(0), state[1])
        return torch.cat([out_f, out_b.flip(0)], dim=-1), (s_f, s_b)
    return reference.run(model, P, x, state)


def flat(s) -> list:
    return [a for e in s for a in flat(e)] if isinstance(s, tuple | list) else [s]


def random_like(s, rng):
    if isinstance(s, tuple | list):
        return type(s)(random_like(e, rng) for e in s)
    return rng.normal(size=s.shape).astype(s.dtype)


def break_state(model, state, how):
    """Break the first array of the state (or, for "partial", give an LSTM pair a None)."""
    if how == "partial":
        if isinstance(model, LSTMCell):
            return (state[0], None)
        if isinstance(model, Stacked):
            return [break_state(model.cells[0], state[0], how), *state[1:]]
        return (state[0], break_state(model.bwd, state[1], how))  # a Bidirectional
    if isinstance(state, tuple | list):
        return type(state)([break_state(model, state[0], how), *state[1:]])
    return {**BREAKS, **VALID}[how](state)


def break_params(model, how, data):
    """Break one parameter of one cell; return the name its message must give."""
    cell = data.draw(st.sampled_from(leaves(model)), "cell")
    name = data.draw(st.sampled_from(list(cell.params)), "parameter")
    p = cell.params[name]
    if how == "missing":
        del cell.params[name]
        return "params"
    if how == "extra":
        cell.params["weight_extra"] = p.copy()
        return "params"
    other = np.float32 if p.dtype == np.float64 else np.float64
    cell.params[name] = {
        "shape": lambda: np.concatenate([p, p[:1]]),
        "nan": lambda: _poke(p, np.nan).astype(p.dtype),
        "dtype": lambda: p.astype(other),
        "int": lambda: p.astype(np.int64),
        "list": lambda: p.tolist(),
    }[how]()
    return f"params[{name!r}]"


CELL_BREAKS = {  # the argument broken -> the ways it is broken
    None: [None],
    "x": [*BREAKS, *VALID],
    "state": ["int", "nan", "size", "empty", "ragged", "partial", "float16"],
    "params": ["shape", "nan", "dtype", "int", "list", "missing", "extra"],
    "d_outputs": ["int", "nan", "none", "rank", "size", "empty", "list"],
    "d_state": ["bool", "inf", "size", "partial"],
    "cache": ["another cell", "a copy", "none", "no key", "plain dict"],
    "params later": ["shape", "nan"],
}


@pytest.mark.parametrize("target", list(CELL_BREAKS))
@EACH
@given(
    kind=st.sampled_from(sorted(KINDS)),
    sizes=st.tuples(*[st.integers(1, n) for n in (3, 3, 4, 3)]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1e-3, 1.0, 3.0]),
    with_state=st.booleans(),
    data=st.data(),
)
def test_cells_refuse_clearly_or_match_torch(
    target, kind, sizes, dtype, seed, scale, with_state, data
):
    I, H, T, B = sizes
    rng = np.random.default_rng(seed)
    model = KINDS[kind](I, H, dtype, seed)
    how = data.draw(st.sampled_from(CELL_BREAKS[target]), "how")
    x = scale * rng.normal(size=(T, B, I))
    state = random_like(model.init_state(B), rng) if with_state or target == "state" else None
    d_out = rng.normal(size=(T, B, model.output_size))
    d_state = random_like(model.init_state(B), rng) if with_state or target == "d_state" else None
    if how == "partial":
        assume(any(isinstance(c, LSTMCell) for c in leaves(model)))

    broken = set() if how in VALID else {target}
    if target == "x":
        x = {**BREAKS, **VALID}[how](x)
    elif target == "state":
        state = break_state(model, state, how)
    elif target == "params":
        broken = {break_params(model, how, data)}
    forward_broken = broken if target in ("x", "state", "params") else set()
    ran = outcome(lambda: model.forward(x, state), forward_broken)
    if ran is None:
        if target == "params" and kind in TORCH_KINDS:
            outcome(model.to_torch, forward_broken)
        return
    outputs, final, cache = ran

    P = {n: t64(p, grad=True) for n, p in model.params.items()}
    as_dtype = lambda a: np.asarray(a, dtype=dtype)  # noqa: E731  what the cell computes with
    tx = t64(as_dtype(x), grad=True)
    t_state = model.init_state(B) if state is None else state
    ts = [t64(as_dtype(s), grad=True) for s in flat(t_state)]
    it = iter(ts)
    structured = _restructure(t_state, it)
    tout, tfinal = twin(model, P, tx, structured)
    close(outputs, tout, dtype, "outputs")
    for ours, theirs in zip(flat(final), flat(tfinal), strict=True):
        close(ours, theirs, dtype, "final state")
    if hasattr(model, "step"):  # one step is the first step of the sequence
        out_t, _ = outcome(lambda: model.step(as_dtype(x)[0], state), set())
        close(out_t, tout[0], dtype, "step")
    if target is None and kind in TORCH_KINDS:  # and the nn module it converts to
        module = outcome(model.to_torch, set())
        again = type(model).from_torch(module).params
        assert all(np.array_equal(again[n], p) for n, p in model.params.items())
        if state is None:
            close(outputs, module(torch.from_numpy(as_dtype(x)))[0], dtype, "nn module")

    broken = {target} if target in ("d_outputs", "d_state", "cache") else set()
    if target == "d_outputs":
        d_out = {**BREAKS, **VALID}[how](d_out)
        broken = set() if how in VALID else broken
    elif target == "d_state":
        d_state = break_state(model, d_state, how)
    elif target == "cache":
        if how == "another cell":
            cache = KINDS[kind](I, H, dtype, seed).forward(x, state)[2]
        elif how == "a copy":
            model = copy.deepcopy(model)
        elif how == "none":
            cache = None
        else:
            assume(not isinstance(model, Stacked | Bidirectional))
            cache = dict(cache)
            if how == "no key":  # h_prev, c_prev, y_prev may be left out: made from h0, h
                del cache[sorted(k for k in cache if not k.endswith("_prev"))[-1]]
            else:
                broken = set()
    elif target == "params later":
        broken = {break_params(model, how, data)}
    grads = outcome(lambda: model.backward(d_out, cache, d_state), broken)
    if grads is None:
        return
    G = t64(as_dtype(d_out))
    Gs = [] if d_state is None else [t64(as_dtype(g)) for g in flat(d_state)]
    loss = (tout * G).sum() + sum((a * g).sum() for a, g in zip(flat(tfinal), Gs, strict=False))
    loss.backward()
    close(grads["x"], tx.grad, dtype, "dL/dx")
    for k, (ours, theirs) in enumerate(zip(flat(grads["state"]), ts, strict=True)):
        close(ours, theirs.grad, dtype, f"dL/dstate[{k}]")
    for n, p in P.items():
        close(grads[n], p.grad, dtype, f"dL/d{n}")


def _restructure(like, it):
    if isinstance(like, tuple | list):
        return type(like)(_restructure(e, it) for e in like)
    return next(it)


BAD_SIZES = [0, -1, 2.5, True, "3", None]


@SETTINGS
@given(
    cls=st.sampled_from([RNNCell, JordanRNN, LSTMCell, GRUCell]),
    sizes=st.tuples(*[st.sampled_from([1, 2, 3] * 4 + BAD_SIZES)] * 3),
    batch=st.sampled_from([1, 2, 3] * 4 + BAD_SIZES),
    brk=st.none() | st.sampled_from([*BREAKS, *VALID]),
    gate=st.sampled_from(["r", "z", "i", "f", "o", "g", "q"]),
    value=st.sampled_from([0.0, 0.3, 1.0, -0.1, 1.5, float("nan"), "a", None]),
)
def test_construction_steps_and_pins(cls, sizes, batch, brk, gate, value):
    names = ["input_size", "hidden_size", "output_size"][: 3 if cls is JordanRNN else 2]
    bad = {n for n, s in zip(names, sizes, strict=False) if bad_size(s)}
    cell = outcome(lambda: cls(*sizes[: len(names)], seed=0, dtype=np.float64), bad)
    if cell is None:
        return
    state = outcome(lambda: cell.init_state(batch), {"batch"} if bad_size(batch) else set())
    if state is None:
        return
    rng = np.random.default_rng(0)
    x_t = rng.normal(size=(batch, cell.input_size))
    state = random_like(state, rng)
    if brk is not None:
        x_t = {**BREAKS, **VALID}[brk](x_t)
    out = outcome(lambda: cell.step(x_t, state), set() if brk in (None, *VALID) else {"x_t"})
    if out is not None:
        P = {n: t64(p) for n, p in cell.params.items()}
        ts = tuple(map(t64, state)) if isinstance(state, tuple) else t64(state)
        tout, tfinal = twin(cell, P, t64(x_t)[None], ts)
        close(out[0], tout[0], np.float64, "step output")
    if cls in (LSTMCell, GRUCell):
        allowed = "rz" if cls is GRUCell else "ifo"
        ok_value = isinstance(value, float) and 0.0 <= value <= 1.0
        broken = set() if gate in allowed and ok_value else {f"gate {gate}", "gates"}
        pinned = outcome(lambda: cells.pin_gates(cell, **{gate: value}), broken)
        if pinned is not None:
            cache = pinned.forward(rng.normal(size=(2, 1, cell.input_size)))[2]
            np.testing.assert_allclose(cache[gate], value, atol=1e-12)


# ------------------------------------------------------------------------------------------
# attention: score, score_backward, attend, attend_backward against torch autograd
# ------------------------------------------------------------------------------------------

ATTENTION_BREAKS = {  # a group of arguments -> (argument, how it is broken)
    "none": [(None, None)],
    "query": [("query", h) for h in [*BREAKS, *VALID, "empty batch"]],
    "keys": [("keys", h) for h in [*BREAKS, *VALID]],
    "values": [("values", h) for h in [*BREAKS, *VALID]],
    "mask": [("mask", h) for h in ["float", "all false", "rank", "ragged"]],
    "params": [("params", h) for h in ["missing", "not a dict"]],
    "a parameter's shape": [("params", "shape")],
    "a parameter's values": [("params", h) for h in ["nan", "int"]],
    "gradients": [(a, h) for a in ("d_scores", "d_context", "d_weights") for h in BREAKS],
    "overflow": [("all", "overflow")],
}


USES = {  # the arguments of each function, besides method and params
    "score": ("query", "keys"),
    "score_backward": ("query", "keys", "d_scores"),
    "attend": ("query", "keys", "values", "mask"),
    "attend_backward": ("query", "keys", "values", "mask", "d_context", "d_weights"),
}


@pytest.mark.parametrize("group", list(ATTENTION_BREAKS))
@EACH
@given(
    batched=st.booleans(),
    sizes=st.tuples(*[st.integers(1, 4)] * 6),
    dtypes=st.tuples(*[st.sampled_from([np.float16, np.float32, np.float64])] * 3),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1e-2, 1.0, 3.0]),
    with_mask=st.booleans(),
    data=st.data(),
)
def test_attention_refuses_clearly_or_matches_torch(
    group, batched, sizes, dtypes, seed, scale, with_mask, data
):
    target, how = data.draw(st.sampled_from(ATTENTION_BREAKS[group]), "break")
    fns = [f for f, uses in USES.items() if target in (None, "all", "params", *uses)]
    fn = data.draw(st.sampled_from(fns), "function")
    methods = ["general", "concat", "additive"] if target == "params" else attention.METHODS
    methods = ["dot", "general", "scaled_dot"] if how == "overflow" else methods
    method = data.draw(st.sampled_from(methods), "method")
    B, T, d_q, d_k, d_v, d_attn = sizes
    d_k = d_q if method in ("dot", "scaled_dot") else d_k
    B = B if batched else 1
    rng = np.random.default_rng(seed)
    lead = (B,) if batched else ()
    a = {
        "query": (scale * rng.normal(size=(*lead, d_q))).astype(dtypes[0]),
        "keys": (scale * rng.normal(size=(*lead, T, d_k))).astype(dtypes[1]),
    }
    params = attention.init_params(method, d_q, d_k, d_attn=d_attn, seed=seed)
    params = {n: p.astype(dtypes[2]) for n, p in params.items()}
    if fn.startswith("attend"):
        a["values"] = rng.normal(size=(*lead, T, d_v))
        if with_mask:
            m = rng.random((*lead, T)) < 0.7
            m[..., 0] = True
            a["mask"] = m
    if fn == "score_backward":
        a["d_scores"] = rng.normal(size=(*lead, T))
    if fn == "attend_backward":
        a["d_context"] = rng.normal(size=(*lead, d_v))
        a["d_weights"] = rng.normal(size=(*lead, T)) if with_mask else None

    if target == "mask" and "mask" not in a:
        a["mask"] = np.ones((*lead, T), dtype=bool)
    if target == "d_weights" and a.get("d_weights") is None:
        a["d_weights"] = rng.normal(size=(*lead, T))
    needed = attention.PARAM_NAMES[attention._ALIASES.get(method, method)]
    if how == "empty batch":
        assume(batched)
    broken = {target} - {None}
    if how in VALID:
        a[target], broken = VALID[how](a[target]), set()
    elif how in SHAPE_BREAKS:
        assume(not (target == "values" and how == "size"))  # any d_v is a valid d_v
        a[target] = BREAKS[how](a[target])
        broken = {"query", "keys", "values", "mask", "params", *USES["attend_backward"]}
        broken |= {"d_scores"}
    elif how == "empty batch":
        a["query"] = a["query"][:0]
    elif target == "mask":
        m = a["mask"]
        a["mask"] = {
            "float": lambda: m.astype(np.float64),
            "all false": lambda: np.zeros_like(m),
            "rank": lambda: m[..., None],
            "ragged": lambda: _ragged(m),
        }[how]()
    elif target == "params":
        name = data.draw(st.sampled_from(needed), "parameter")
        broken = {"params"}
        if how == "missing":
            del params[name]
        elif how == "not a dict":
            params = list(params.values())
        else:
            broken = {f"params[{name!r}]"}
            p = params[name]
            params[name] = {
                "shape": lambda: np.concatenate([p, p[:1]]),
                "nan": lambda: _poke(p, np.nan),
                "int": lambda: p.astype(np.int64),
            }[how]()
    elif how == "overflow":  # concat's tanh saturates instead; only scores and grads overflow
        if "values" in a:
            a["values"] = a["values"].astype(np.float32)
        a["query"] = np.full_like(a["query"], 1e30, dtype=np.float32)
        a["keys"] = np.full_like(a["keys"], 1e30, dtype=np.float32)
        params = {n: np.abs(p).astype(np.float32) + 1.0 for n, p in params.items()}
        fine = fn == "score_backward" and method != "general"  # dS/dq = k: 1e30 is finite
        broken = set() if fine else {"overflow"}
    elif target is not None:
        a[target] = BREAKS[how](a[target])
        broken = set() if (target, how) == ("d_weights", "none") else broken  # None: no d_weights

    call = getattr(attention, fn)
    arg_order = {
        "score": ("query", "keys"),
        "score_backward": ("d_scores", "query", "keys"),
        "attend": ("query", "keys", "values"),
        "attend_backward": ("d_context", "query", "keys", "values"),
    }[fn]
    kw = {"mask": a["mask"]} if "mask" in a else {}
    if fn == "attend_backward" and a.get("d_weights") is not None:
        kw["d_weights"] = a["d_weights"]
    args = [a[n] for n in arg_order]
    result = outcome(lambda: call(*args, method, params, **kw), broken)
    if result is None:
        return

    forward = [a[n] for n in ("query", "keys", "values") if n in a] + list(params.values())
    dtype = np.float64 if any(np.asarray(x).dtype == np.float64 for x in forward) else np.float32
    m = "concat" if method == "additive" else method
    t = {n: t64(np.asarray(a[n], dtype=dtype), grad=True) for n in ("query", "keys", "values")
         if n in a}  # fmt: skip
    tp = {n: t64(np.asarray(p, dtype=dtype), grad=True) for n, p in params.items()}
    q, k = (t["query"], t["keys"]) if batched else (t["query"][None], t["keys"][None])
    s = torch_score(q, k, m, tp)
    if fn == "score":
        close(result, s if batched else s[0], dtype, "scores")
        return
    if fn == "score_backward":
        (s * t64(a["d_scores"] if batched else a["d_scores"][None])).sum().backward()
        expected = {"query": t["query"].grad, "keys": t["keys"].grad}
    else:
        v = t["values"] if batched else t["values"][None]
        if "mask" in a:
            mask = torch.tensor(np.asarray(a["mask"]) if batched else np.asarray(a["mask"])[None])
            s = s.masked_fill(~mask, -torch.inf)
        w = torch.softmax(s, dim=-1)
        c = torch.einsum("bt,btv->bv", w, v)
        if fn == "attend":
            close(result[0], c if batched else c[0], dtype, "context")
            close(result[1], w if batched else w[0], dtype, "weights")
            return
        dc = t64(a["d_context"] if batched else a["d_context"][None])
        loss = (c * dc).sum()
        if "d_weights" in kw:
            loss = loss + (w * t64(kw["d_weights"] if batched else kw["d_weights"][None])).sum()
        loss.backward()
        expected = {n: t[n].grad for n in ("query", "keys", "values")}
    expected |= {n: p.grad for n, p in tp.items()}
    assert set(result) == set(expected)
    for n, g in expected.items():
        close(result[n], g, dtype, f"d/d{n}")


@SETTINGS
@given(
    method=st.sampled_from(attention.METHODS),
    dims=st.tuples(*[st.one_of(st.integers(1, 3), st.sampled_from(BAD_SIZES))] * 3),
)
def test_init_params_sizes(method, dims):
    names = ("d_query", "d_key", "d_attn")
    bad = {n for n, d in zip(names, dims, strict=True) if bad_size(d)}
    bad -= {"d_attn"} if dims[2] is None else set()
    if not bad and method in ("dot", "scaled_dot") and dims[0] != dims[1]:
        bad = {"d_query", "d_key"}
    p = outcome(lambda: attention.init_params(method, *dims, seed=0), bad)
    if p is not None:
        for n, shape in {"W": (dims[0], dims[1]), "v": (dims[2] or dims[1],)}.items():
            assert n not in p or p[n].shape == shape


# ------------------------------------------------------------------------------------------
# functional: the nonlinearities, their derivatives, softmax
# ------------------------------------------------------------------------------------------

ELEMENTWISE = {
    "sigmoid": (functional.sigmoid, functional.dsigmoid, torch.sigmoid),
    "tanh": (functional.tanh, functional.dtanh, torch.tanh),
    "relu": (functional.relu, functional.drelu, torch.relu),
}
DTYPES = [np.float16, np.float32, np.float64, np.int32, np.bool_, np.complex128, np.str_, object]
shapes = st.lists(st.sampled_from([1, 2, 3, 4, 0]), min_size=0, max_size=3).map(tuple)


def draw_array(shape, dtype, scale, special, seed):
    rng = np.random.default_rng(seed)
    x = scale * rng.normal(size=shape)
    if special is not None and x.size:
        x.flat[rng.integers(x.size)] = special
    if dtype is object:
        return np.full(shape, None, dtype=object)
    if dtype is np.float16:
        x = np.clip(x, -6e4, 6e4)
    if np.dtype(dtype).kind in "biu":
        x = np.nan_to_num(x, posinf=1e4, neginf=-1e4)
    return x.astype(dtype) if dtype is not np.str_ else x.astype(str)


@SETTINGS
@given(
    name=st.sampled_from(sorted(ELEMENTWISE)),
    shape=shapes,
    dtype=st.sampled_from(DTYPES),
    scale=st.sampled_from([1e-2, 1.0, 30.0, 1e4]),
    special=st.none() | st.sampled_from([np.nan, np.inf, -np.inf, 0.0]),
    seed=st.integers(0, 2**16),
    ragged=st.sampled_from([False] * 7 + [True]),
)
def test_nonlinearities_and_derivatives_match_torch(
    name, shape, dtype, scale, special, seed, ragged
):
    f, df, tf = ELEMENTWISE[name]
    x = draw_array(shape, dtype, scale, special, seed)
    bad = np.dtype(dtype).kind not in "biuf" or ragged
    x = _ragged(x) if ragged else x
    y = outcome(lambda: f(x), {"x"} if bad else set())
    if y is None:
        return
    xf = np.asarray(x, dtype=np.float64)
    tx = t64(xf, grad=True)
    ty = tf(tx)
    ty.sum().backward()
    compute = np.asarray(x).dtype if np.asarray(x).dtype.kind == "f" else np.float64
    assert y.dtype == compute and y.shape == np.shape(x)
    finite = np.isfinite(xf)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(xf))  # NaN in, NaN out; never else
    close(y[finite], ty.detach().numpy()[finite], compute, name)
    if np.asarray(x).dtype.kind == "f" and finite.all():
        dy = outcome(lambda: df(y), set())
        close(dy, tx.grad, compute, f"d{name}")


def first_problem(checks) -> set[str]:
    """The argument named by the first check (in the library's order) that finds a problem."""
    for problem, name in checks:
        if problem():
            return {name}
    return set()


@SETTINGS
@given(
    fn=st.sampled_from(["softmax", "log_softmax", "softmax_backward"]),
    shape=shapes,
    dtype=st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.complex128]),
    scale=st.sampled_from([1e-2, 1.0, 30.0, 1e4]),
    special=st.none() | st.sampled_from([np.nan, np.inf, -np.inf]),
    axis=st.sampled_from([-1, -1, -1, 0, 0, 1, 2, -3, 3, 1.0, None]),
    mask=st.none() | st.sampled_from(["random", "float", "all false", "wrong shape"]),
    seed=st.integers(0, 2**16),
)
def test_softmax_matches_torch_or_refuses_clearly(
    fn, shape, dtype, scale, special, axis, mask, seed
):
    rng = np.random.default_rng(seed)
    x = draw_array(shape, dtype, scale, special, seed)
    real = x.real.astype(np.float64)
    axis_ok = isinstance(axis, int) and -len(shape) <= axis < len(shape)
    has_entries = lambda: shape[axis] > 0  # noqa: E731
    if fn == "softmax_backward":
        valid = axis_ok and has_entries() and np.isfinite(real).all()
        y = functional.softmax(real, axis) if valid else x
        dy = rng.normal(size=shape)
        broken = first_problem([
            (lambda: np.iscomplexobj(y), "y"),
            (lambda: not axis_ok, "axis"),
            (lambda: not has_entries(), "y"),
            (lambda: not np.isfinite(y).all(), "y"),
        ])  # fmt: skip
        result = outcome(lambda: functional.softmax_backward(dy, y, axis=axis), broken)
        if result is not None:
            tx = t64(real, grad=True)
            torch.softmax(tx, dim=axis).backward(t64(dy))
            close(result, tx.grad, np.float64, "softmax_backward")
        return
    kw = {}
    if fn == "softmax" and mask is not None:
        keep = rng.random(shape) < 0.6
        kw["mask"] = {
            "random": keep,
            "float": keep.astype(float),
            "all false": np.zeros(shape, bool),
            "wrong shape": np.ones((*shape, 2), bool),
        }[mask]
    m = kw.get("mask")
    broken = first_problem([
        (lambda: dtype is np.complex128, "x"),
        (lambda: not axis_ok, "axis"),
        (lambda: not has_entries(), "x"),
        (lambda: m is not None and (m.dtype != bool or m.shape != shape), "mask"),
        (lambda: m is not None and not np.any(m, axis=axis).all(), "mask"),
        (lambda: not np.isfinite(np.max(real if m is None else np.where(m, real, -np.inf),
                                        axis=axis)).all(), "x"),
    ])  # fmt: skip
    result = outcome(lambda: getattr(functional, fn)(x, axis=axis, **kw), broken)
    if result is None:
        return
    compute = x.dtype if x.dtype.kind == "f" else np.float64
    tx = t64(real)
    if m is not None:
        tx = tx.masked_fill(~torch.tensor(m), -torch.inf)
    with np.errstate(over="ignore"):  # log_softmax can be below float16's range: -inf
        expected = getattr(torch, fn)(tx, dim=axis).numpy().astype(compute)
    finite = np.isfinite(expected)
    assert result.dtype == compute
    np.testing.assert_array_equal(np.isfinite(result), finite)
    close(result[finite], expected[finite], compute, fn)


# ------------------------------------------------------------------------------------------
# the property tests are not vacuous
# ------------------------------------------------------------------------------------------


def test_a_missing_parameter_check_is_caught(monkeypatch):
    """Switch the cells' parameter check off: a parameter of the wrong shape then fails
    inside NumPy, and ``outcome`` says so."""
    monkeypatch.setattr(cells._Cell, "_check_params", lambda self: self.params)
    cell = LSTMCell(3, 4)
    cell.params["weight_ih"] = np.zeros((2, 16))
    with pytest.raises(AssertionError, match="from inside"):
        outcome(lambda: cell.forward(np.zeros((5, 2, 3))), {"params['weight_ih']"})


def test_a_missing_upcast_is_caught(monkeypatch):
    """Let attention compute in float16 again: inputs near 300 give scores beyond float16's
    range (65504), and a valid call fails (refused, or NaN weights without the check)."""
    real = functional._checked
    monkeypatch.setattr(
        attention, "_checked", lambda n, a, *s, **k: real(n, a, *s[:2], None, *s[3:], **k)
    )
    q = np.array([[300.0, 300.0]], np.float16)
    k = np.array([[[300.0, 300.0], [-300.0, 10.0]]], np.float16)
    assert np.isfinite(attention.attend(q.astype(np.float32), k, k, "dot")[1]).all()
    with pytest.raises(AssertionError, match="valid call was refused"):
        outcome(lambda: attention.attend(q, k, k, "dot"), set())
