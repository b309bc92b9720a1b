"""rnnbook.exercises: right answers pass; every way of being wrong gets its own friendly message."""

import signal
import threading
import time

import numpy as np
import pytest

from rnnbook import exercises as ex
from rnnbook import grading
from rnnbook.exercises import Verdict
from rnnbook.functional import sigmoid

# ------------------------------------------------------------------ students' answers, right ones


def rnn_step(x, h, W_ih, W_hh, b_ih, b_hh):
    return np.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)


def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh, tanh_of_old_cell=False):
    i, f, g, o = np.split(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, 4, axis=1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c_new = f * c + i * g
    return o * np.tanh(c if tanh_of_old_cell else c_new), c_new


def gru_step(x, h, W_ih, W_hh, b_ih, b_hh, swap_z=False):
    ar, az, an = np.split(x @ W_ih.T + b_ih, 3, axis=1)
    hr, hz, hn = np.split(h @ W_hh.T + b_hh, 3, axis=1)
    r, z = sigmoid(ar + hr), sigmoid(az + hz)
    n = np.tanh(an + r * hn)
    z = 1 - z if swap_z else z
    return z * h + (1 - z) * n


def lstm_step_backward(dh_new, dc_new, cache):
    i, f, g, o, c, x, h = (cache[k] for k in "ifgocxh")
    tanh_c = np.tanh(cache["c_new"])
    dc = dc_new + dh_new * o * (1 - tanh_c**2)
    di, df, dg, do = dc * g, dc * c, dc * i, dh_new * tanh_c
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)], 1)
    return {
        "x": da @ cache["W_ih"],
        "h": da @ cache["W_hh"],
        "c": dc * f,
        "W_ih": da.T @ x,
        "W_hh": da.T @ h,
        "b_ih": da.sum(axis=0),
        "b_hh": da.sum(axis=0),
    }


SCORES = {
    "dot": lambda q, K, p: K @ q,
    "general": lambda q, K, p: K @ (q @ p["W"]),
    "concat": lambda q, K, p: np.tanh(p["W_a"] @ q + K @ p["W_b"].T) @ p["v"],
    "scaled_dot": lambda q, K, p: K @ q / np.sqrt(len(q)),
}


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def naive_softmax(x):
    with np.errstate(all="ignore"):
        e = np.exp(x)
        return e / e.sum(axis=-1, keepdims=True)


def one_unit_bptt(w, T):
    h, hs = 0.0, []
    for t in range(T):
        hs.append(h)
        h = w * h + (1.0 if t == 0 else 0.0)
    dh, dw = 1.0, 0.0
    for t in reversed(range(T)):
        dw += dh * hs[t]
        dh *= w
    return h, dw


def elman_memory(x):
    W = np.ones((2, 2))
    h, ys = np.zeros(x.shape[1:]), []
    for x_t in x:
        h = x_t @ W.T + h @ W.T
        ys.append(h @ W.T)
    return np.array(ys)


def jordan_memory(x):
    W = np.ones((2, 2))
    y, ys = np.zeros(x.shape[1:]), []
    for x_t in x:
        y = (x_t @ W.T + y @ W.T) @ W.T
        ys.append(y)
    return np.array(ys)


RIGHT = [
    (ex.check_rnn_step, rnn_step),
    (ex.check_lstm_step, lstm_step),
    (ex.check_gru_step, gru_step),
    (ex.check_lstm_step_backward, lstm_step_backward),
    (ex.check_softmax, softmax),
    (ex.check_one_unit_bptt, one_unit_bptt),
    (ex.check_memory_example, elman_memory),
]


def assert_friendly(v: Verdict, title: str, *fragments: str) -> None:
    """Not ok, the expected title, the fragments in the text, and nothing of the checker inside."""
    assert not v.ok
    assert v.title == title, v.title
    text = str(v)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    assert "Traceback" not in text and "grading.py" not in text and 'File "' not in text


# ------------------------------------------------------------------ right answers pass


@pytest.mark.parametrize(("check", "fn"), RIGHT, ids=lambda a: getattr(a, "__name__", ""))
def test_right_answers_pass(check, fn):
    v = check(fn)
    assert v.ok, str(v)
    assert v.title == f"{fn.__name__} is correct"
    assert v.assert_ok() is None  # a test cell's only output is the verdict it shows


@pytest.mark.parametrize("method", list(SCORES))
def test_right_scores_pass(method):
    v = ex.check_score(SCORES[method], method)
    assert v.ok, str(v)
    assert f"rnnbook.attention.score(..., {method!r})" in v.message
    assert ex.check_score(SCORES["concat"], "additive").ok


# ------------------------------------------------------------------ every way of being wrong


def test_wrong_values_say_where_and_diagnose_common_mistakes():
    def rnn_without_b_hh(x, h, W_ih, W_hh, b_ih, b_hh):
        return np.tanh(x @ W_ih.T + b_ih + h @ W_hh.T)

    v = ex.check_rnn_step(rnn_without_b_hh)
    assert_friendly(
        v,
        "rnn_without_b_hh: wrong values",
        "On test case 1 of 3, called with x = [[",
        "h_new is wrong: the largest difference is",
        "at index (0, ",
        "expected [[",
        "yours    [[",
    )
    assert v.hint.startswith("b_hh is missing")


@pytest.mark.parametrize(
    ("check", "fn", "hint"),
    [
        (ex.check_lstm_step, lambda *a: lstm_step(*a, tanh_of_old_cell=True), "not tanh(c_{t-1})"),
        (ex.check_gru_step, lambda *a: gru_step(*a, swap_z=True), "z and 1 - z are swapped"),
        (ex.check_softmax, lambda x: softmax(x.T).T if x.ndim == 2 else softmax(x), "columns"),
        (ex.check_one_unit_bptt, lambda w, T: (w**T, T * w ** (T - 1)), "Off by one"),
        (ex.check_memory_example, jordan_memory, "Jordan network"),
        (
            ex.check_lstm_step_backward,
            lambda dh, dc, cache: lstm_step_backward(dh, 0 * dc, cache),
            "dc_new is missing",
        ),
        (
            lambda fn: ex.check_score(fn, "scaled_dot"),
            SCORES["dot"],
            "forgot to divide by sqrt(d)",
        ),
    ],
)
def test_common_mistakes_get_their_own_hint(check, fn, hint):
    v = check(fn)
    assert_friendly(
        v, f"{getattr(fn, '__name__', '')}: wrong values".replace("<lambda>", "your function")
    )
    assert hint in v.hint, v.hint


def test_gate_order_mistake_is_diagnosed():
    def lstm_ifog(x, h, c, W_ih, W_hh, b_ih, b_hh):
        i, f, o, g = np.split(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, 4, axis=1)
        c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return sigmoid(o) * np.tanh(c_new), c_new

    assert "i, f, g, o" in ex.check_lstm_step(lstm_ifog).hint


def test_wrong_values_without_a_known_mistake_get_the_general_hint():
    v = ex.check_memory_example(lambda x: 2 * x)
    assert_friendly(v, "your function: wrong values", "expected value is 32 and yours is 4")
    assert v.hint.startswith("Carry the memory h from one step to the next")


def test_a_number_that_is_wrong():
    v = ex.check_one_unit_bptt(lambda w, T: (w ** (T - 1), 0.0))
    assert_friendly(v, "your function: wrong values", "dy_T/dw should be 2.916, but yours is 0.")


def test_exception_names_the_error_the_input_and_the_students_line():
    def rnn_untransposed(x, h, W_ih, W_hh, b_ih, b_hh):
        a = x @ W_ih + b_ih  # forgot .T
        return np.tanh(a + h @ W_hh.T + b_hh)

    v = ex.check_rnn_step(rnn_untransposed)
    assert_friendly(
        v,
        "rnn_untransposed raised ValueError",
        "your function raised ValueError: matmul",
        "called with x = [[",
        "W_hh of shape (3, 3)",
        "It happened in rnn_untransposed, line",
        "(`a = x @ W_ih + b_ih  # forgot .T`)",
    )


def test_exception_in_a_helper_of_the_student():
    def helper(v):
        return v["missing"]

    def lstm_backward(dh, dc, cache):
        return helper(cache)

    v = ex.check_lstm_step_backward(lstm_backward)
    assert_friendly(
        v,
        "lstm_backward raised KeyError",
        "raised KeyError: 'missing'",
        "cache = <dict with keys x, h, c, W_ih",
        "It happened in helper",
    )


def test_not_answered_yet():
    def gru_template(x, h, W_ih, W_hh, b_ih, b_hh):
        raise NotImplementedError()

    v = ex.check_gru_step(gru_template)
    assert_friendly(v, "gru_template: not answered yet", "NotImplementedError")
    assert "raise NotImplementedError()" in v.hint


def test_wrong_shape():
    v = ex.check_rnn_step(lambda *a: rnn_step(*a).T)
    assert_friendly(v, "your function: wrong shape", "h_new should have shape (B, H) = (1, 3)")
    assert v.hint == "It looks transposed."
    v = ex.check_score(lambda q, K, p: (K @ q)[None], "dot")
    assert_friendly(v, "your function: wrong shape", "scores should have shape (T,) = (4,)")


def test_nan_and_inf():
    v = ex.check_softmax(naive_softmax)
    assert_friendly(v, "naive_softmax: NaN or inf", "test case 4 of 5", "y contains NaN at index")
    assert "which number keeps every exponent at most 0?" in v.hint
    v = ex.check_rnn_step(lambda *a: np.full_like(rnn_step(*a), np.inf))
    assert_friendly(v, "your function: NaN or inf", "h_new contains inf at index (0, 0)")


def test_wrong_types():
    v = ex.check_rnn_step(lambda *a: rnn_step(*a).tolist())
    assert_friendly(v, "your function: wrong type", "returned a list of 1 item.")
    assert "np.array" in v.hint

    def forgot_return(x, h, W_ih, W_hh, b_ih, b_hh):
        rnn_step(x, h, W_ih, W_hh, b_ih, b_hh)

    v = ex.check_rnn_step(forgot_return)
    assert_friendly(v, "forgot_return: wrong type", "returned None")
    assert "return" in v.hint

    v = ex.check_lstm_step(lambda *a: np.stack(lstm_step(*a)))
    assert_friendly(v, "your function: wrong type", "return a tuple (h_new, c_new)")

    v = ex.check_lstm_step_backward(lambda *a: tuple(lstm_step_backward(*a).values()))
    assert_friendly(v, "your function: wrong type", "return a dict with keys ['x', 'h', 'c'")

    v = ex.check_lstm_step_backward(lambda *a: {"x": lstm_step_backward(*a)["x"]})
    assert_friendly(v, "your function: wrong type", "has no key ['h', 'c', 'W_ih'")

    v = ex.check_one_unit_bptt(lambda w, T: ("w**(T-1)", 0.0))
    assert_friendly(v, "your function: wrong type", "y_T should be a number", "a str")

    v = ex.check_rnn_step(lambda *a: rnn_step(*a) > 0)
    assert_friendly(v, "your function: wrong type", "of real numbers, not bool")


def test_numbers_may_come_as_numpy_scalars_or_size_one_arrays():
    as_numpy = ex.check_one_unit_bptt(lambda w, T: tuple(map(np.float64, one_unit_bptt(w, T))))
    assert as_numpy.ok, str(as_numpy)
    as_arrays = ex.check_one_unit_bptt(lambda w, T: [np.array([v]) for v in one_unit_bptt(w, T)])
    assert as_arrays.ok, str(as_arrays)
    v = ex.check_one_unit_bptt(lambda w, T: map(float, one_unit_bptt(w, T)))
    assert_friendly(v, "your function: wrong type", "return a tuple (y_T, dy_T/dw)", "a map")


def test_loop_forever_hits_the_time_limit():
    def lstm_loop(x, h, c, W_ih, W_hh, b_ih, b_hh):
        while True:
            h = h + 1

    start = time.monotonic()
    v = ex.check_lstm_step(lstm_loop, time_limit=0.5)
    assert time.monotonic() - start < 3
    assert_friendly(v, "lstm_loop: time limit", "did not return within 0.5 s", "test case 1 of 3")
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler, None)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_the_time_limit_catches_a_loop_that_catches_exception():
    def stubborn(x):
        while True:
            try:
                time.sleep(0.01)
            except Exception:
                pass

    assert ex.check_softmax(stubborn, time_limit=0.3).title == "stubborn: time limit"


def test_time_limit_outside_the_main_thread():
    def slow(x):
        time.sleep(5)

    result = {}
    worker = threading.Thread(
        target=lambda: result.update(v=ex.check_softmax(slow, time_limit=0.3))
    )
    worker.start()
    worker.join(10)
    assert_friendly(result["v"], "slow: time limit", "did not return within 0.3 s")
    worker = threading.Thread(target=lambda: result.update(v=ex.check_softmax(softmax)))
    worker.start()
    worker.join(10)
    assert result["v"].ok
    worker = threading.Thread(target=lambda: result.update(v=ex.check_softmax(lambda x: 1 / 0)))
    worker.start()
    worker.join(10)
    assert_friendly(result["v"], "your function raised ZeroDivisionError", "division by zero")


def test_an_outer_timer_is_given_back():
    old = signal.signal(signal.SIGALRM, lambda *a: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        assert ex.check_softmax(softmax).ok
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25 < left <= 30
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_a_function_that_modifies_its_inputs_cannot_fool_the_check():
    def in_place(x, h, W_ih, W_hh, b_ih, b_hh):
        W_ih *= 0  # ruins the student's copy only
        return rnn_step(x, h, W_ih, W_hh, b_ih, b_hh)

    assert not ex.check_rnn_step(in_place).ok
    assert ex.check_rnn_step(rnn_step).ok  # the check's own inputs are intact


def test_not_a_function():
    v = ex.check_rnn_step(rnn_step(*[np.ones((1, 1))] * 4, np.ones(1), np.ones(1)))
    assert_friendly(v, "not a function", "given a NumPy array of shape (1, 1)")
    assert "without parentheses" in v.hint


def test_unknown_score_method_is_the_authors_error():
    with pytest.raises(ValueError, match="unknown method 'cosine'"):
        ex.check_score(SCORES["dot"], "cosine")


# ------------------------------------------------------------------ the Verdict itself


def test_verdict_text_markdown_and_assert_ok():
    v = Verdict(False, "f: wrong values", "On test case 1 ...", "Look at the bias.")
    assert str(v) == "✘ f: wrong values\nOn test case 1 ...\nHint: Look at the bias."
    md = v._repr_markdown_()
    assert md.startswith("✘ **f: wrong values**") and "```text\nOn test case 1 ...\n```" in md
    assert "**Hint:** Look at the bias." in md
    with pytest.raises(AssertionError) as info:
        v.assert_ok()
    assert str(info.value) == str(v)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    ok = Verdict(True, "f is correct", "It agrees.")
    assert str(ok) == "✔ f is correct\nIt agrees." and ok.assert_ok() is None
    assert ok._repr_markdown_() == "✔ **f is correct**\n\nIt agrees."


def test_student_failure_reaches_nbgrader_as_an_assertion_error():
    with pytest.raises(AssertionError, match="not answered yet"):
        ex.check_softmax(lambda x: (_ for _ in ()).throw(NotImplementedError)).assert_ok()


# ------------------------------------------------------------------ building blocks


def test_lstm_step_cache_holds_the_forward():
    rng = np.random.default_rng(0)
    W_ih, W_hh = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    b_ih, b_hh = rng.normal(size=8), rng.normal(size=8)
    x, h, c = rng.normal(size=(4, 3)), rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    cache = ex.lstm_step_cache(x, h, c, W_ih, W_hh, b_ih, b_hh)
    h_new, c_new = lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)
    np.testing.assert_allclose(cache["h_new"], h_new, atol=1e-14)
    np.testing.assert_allclose(cache["c_new"], c_new, atol=1e-14)
    np.testing.assert_allclose(cache["o"] * np.tanh(cache["c_new"]), h_new, atol=1e-14)
    np.testing.assert_allclose(cache["f"] * c + cache["i"] * cache["g"], c_new, atol=1e-14)


def test_check_function_for_a_chapters_own_exercise():
    cases = [{"a": np.array([1.0, 2.0]), "k": 3}, {"a": np.zeros((2, 2)), "k": 1}]
    kwargs = {"outputs": {"out": "(n,)"}, "against": "a * k"}
    v = ex.check_function(lambda a, k: a * k, lambda a, k: a * k, cases, **kwargs)
    assert v.ok and v.message == "It agrees with a * k on all 2 test cases."
    v = ex.check_function(lambda a, k: a + k, lambda a, k: a * k, cases, hint="multiply", **kwargs)
    assert_friendly(v, "your function: wrong values", "called with a = [1., 2.], k = 3")
    assert v.hint == "multiply"
    tolerant = ex.check_function(lambda a, k: a * k + 1e-4, lambda a, k: a * k, cases, **kwargs)
    assert not tolerant.ok
    kwargs["atol"] = 1e-3
    assert ex.check_function(lambda a, k: a * k + 1e-4, lambda a, k: a * k, cases, **kwargs).ok


# ------------------------------------------------------------------ what grading needs


def test_system_exit_and_base_exceptions_become_verdicts():
    import sys

    class Stop(BaseException):
        pass

    def stop(x):
        raise Stop("no")

    assert_friendly(ex.check_softmax(lambda x: sys.exit(3)), "your function raised SystemExit")
    assert_friendly(ex.check_softmax(stop), "stop raised Stop", "raised Stop: no")
    with pytest.raises(KeyboardInterrupt):  # the reader stopping the cell stops it
        ex.check_softmax(lambda x: (_ for _ in ()).throw(KeyboardInterrupt))


def test_warnings_and_stderr_of_a_correct_answer_cost_nothing(capsys):
    import sys
    import warnings

    def noisy(x):
        warnings.warn("careful", RuntimeWarning, stacklevel=1)
        print("on stderr", file=sys.stderr)
        return softmax(x)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escaped would fail this test
        assert ex.check_softmax(noisy).ok
    assert capsys.readouterr().err == ""


def test_assert_ok_shows_the_verdict_in_a_kernel_and_tells_listeners(monkeypatch):
    import IPython
    import IPython.display

    shown, heard = [], []
    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Shell", (), {"kernel": 1})())
    monkeypatch.setattr(IPython.display, "display", shown.append)
    monkeypatch.setattr(grading, "_listeners", [heard.append])
    ok = Verdict(True, "f is correct")
    assert ok.assert_ok() is None and shown == [ok] and heard == [ok]
    with pytest.raises(AssertionError):
        Verdict(False, "f: wrong values").assert_ok()
    assert len(shown) == 1 and len(heard) == 2  # a failure is raised, not displayed


def _off(fn):
    """A wrong answer that is no known mistake: the right one, shifted a little."""

    def shifted(*args):
        out = fn(*args)
        if isinstance(out, dict):
            return {k: v + 0.125 for k, v in out.items()}
        if isinstance(out, tuple):
            return tuple(v + 0.125 for v in out)
        return out + 0.125

    return shifted


@pytest.mark.parametrize(
    "check, fn",
    [*RIGHT, *[(lambda f, m=m: ex.check_score(f, m), SCORES[m]) for m in SCORES]],
    ids=lambda a: getattr(a, "__name__", ""),
)
def test_a_hint_points_at_the_idea_not_at_the_answer(check, fn):
    v = check(_off(fn))
    assert not v.ok and v.hint, str(v)
    for code in ("@", " = ", "np.", "+=", "axis=", "sum("):
        assert code not in v.hint, f"the hint spells out the answer ({code!r}): {v.hint}"


# ------------------------------------------------------------------ the layout: engine, chapters


def test_seeded_cases_give_each_case_its_own_generator():
    def build(rng, n):
        return {"x": rng.normal(size=n)}

    cases = grading.seeded_cases(build, [(2,), (3,)])
    assert [c["x"].shape for c in cases] == [(2,), (3,)]
    np.testing.assert_array_equal(cases[1]["x"], np.random.default_rng(1).normal(size=3))
    longer = grading.seeded_cases(build, [(2,), (3,), (4,)])  # a size added at the end
    np.testing.assert_array_equal(longer[1]["x"], cases[1]["x"])
    shifted = grading.seeded_cases(build, [(2,)], seed=8)
    np.testing.assert_array_equal(shifted[0]["x"], np.random.default_rng(8).normal(size=2))


def test_step_cases_hold_a_cells_weights_and_cell_with_restores_them():
    from rnnbook.cells import LSTMCell

    cases = grading.step_cases(LSTMCell, with_c=True)
    assert [tuple(c) for c in cases] == [("x", "h", "c", "W_ih", "W_hh", "b_ih", "b_hh")] * 3
    for c in cases:
        (B, I), H = c["x"].shape, c["h"].shape[1]
        assert I != H and c["W_ih"].shape == (4 * H, I) and c["c"].shape == (B, H)
        cell = grading.cell_with(LSTMCell, c["W_ih"], c["W_hh"], c["b_ih"], c["b_hh"])
        assert cell.params["weight_hh"] is c["W_hh"]


def test_every_check_is_listed_once_in_chapter_order_and_lives_in_a_chapter_module():
    import importlib
    import re

    checks = [n for n in ex.__all__ if n.startswith("check_") and n != "check_function"]
    listed = re.findall(r"^ {4}(\d+) +(check_\w+)", ex.__doc__, flags=re.M)
    assert [name for _, name in listed] == checks  # the docstring's table, in __all__'s order
    chapters = [int(n) for n, _ in listed]
    assert chapters == sorted(chapters) and set(chapters) == set(range(1, 11))
    for name in checks:
        module = importlib.import_module(getattr(ex, name).__module__)
        assert module.__name__.startswith("rnnbook.exercises_"), name
        assert name in module.__all__ and name in module.__doc__, name
