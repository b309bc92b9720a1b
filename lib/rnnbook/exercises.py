"""Checks that give a student a friendly verdict on the function they wrote.

Each ``check_*`` function calls the student's function on a few seeded inputs, compares what
comes back with rnnbook's own implementation (``rnnbook.cells``, ``rnnbook.attention``,
``rnnbook.functional``), and returns a :class:`Verdict`: correct, or what was expected, what
came back, for which input, and a hint. It never raises because of the student's code: an
exception, a loop that does not end (a time limit, 5 s by default), a wrong type or shape, NaN
and wrong values each get a plain message, and ``NotImplementedError`` (the state of an
exercise not answered yet) gets its own.

In a notebook, show the verdict, or in an nbgrader test cell make it fail the cell::

    from rnnbook.exercises import check_lstm_step
    check_lstm_step(lstm_step)               # displays the verdict
    check_lstm_step(lstm_step).assert_ok()   # shows it; AssertionError with its text if wrong

``assert_ok()`` returns None, so a test cell's only output is the verdict. A hint points at
the idea that was missed (a term, a gate, an axis), not at the whole answer.

The student functions take plain NumPy arrays with the library's layout: a batch of row
vectors, PyTorch's weight shapes and gate orders (LSTM i, f, g, o; GRU r, z, n)::

    check_rnn_step(fn)            fn(x, h, W_ih, W_hh, b_ih, b_hh) -> h_new
    check_lstm_step(fn)           fn(x, h, c, W_ih, W_hh, b_ih, b_hh) -> (h_new, c_new)
    check_gru_step(fn)            fn(x, h, W_ih, W_hh, b_ih, b_hh) -> h_new
    check_lstm_step_backward(fn)  fn(dh_new, dc_new, cache) -> {"x", "h", "c", "W_ih", ...}
    check_lstm_cell_jacobian(fn)  fn(x, c, o, W_ih, W_hh, b_ih, b_hh) -> J = dc_new/dc (B, H, H)
    check_score(fn, method)       fn(query (d_q,), keys (T, d_k), params) -> scores (T,)
    check_softmax(fn)             fn(x) -> softmax over the last axis
    check_one_unit_bptt(fn)       fn(w, T) -> (y_T, dy_T/dw)
    check_memory_example(fn)      fn(x (T, B, 2)) -> y (T, B, 2)
    check_lstm_num_parameters(fn) fn(input_size, hidden_size, variant) -> int

Each also takes ``time_limit=`` (seconds per call, default 5). The details are in the
docstring of each check. :func:`check_function` is the generic checker they all use; a
chapter can build its own check with it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import numbers
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnbook import attention, functional, tasks
from rnnbook.cells import GRUCell, JordanRNN, LSTMCell, RNNCell

__all__ = [
    "Verdict",
    "check_function",
    "check_rnn_step",
    "check_lstm_step",
    "check_gru_step",
    "check_lstm_step_backward",
    "lstm_step_cache",
    "check_lstm_cell_jacobian",
    "check_score",
    "check_softmax",
    "check_one_unit_bptt",
    "check_memory_example",
    "check_rnn_to_gru",
    "check_jacobian_bptt",
    "check_lstm_num_parameters",
    "check_matched_hidden_size",
    "check_copy_baseline",
]

TIME_LIMIT = 5.0  # seconds per call of the student's function
RTOL, ATOL = 1e-6, 1e-8  # as numpy.isclose: |got - expected| <= ATOL + RTOL * |expected|


# ----------------------------------------------------------------------------------------------
# The verdict
# ----------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    """The outcome of a check: ``ok``, a one-line ``title``, a ``message`` and a ``hint``."""

    ok: bool
    title: str
    message: str = ""
    hint: str = ""

    def __str__(self) -> str:
        lines = [("✔ " if self.ok else "✘ ") + self.title]
        lines += [self.message] if self.message else []
        lines += [f"Hint: {self.hint}"] if self.hint else []
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        parts = [("✔ " if self.ok else "✘ ") + f"**{self.title}**"]
        if self.message:  # a failure's message holds arrays: keep its layout in a code block
            parts.append(self.message if self.ok else f"```text\n{self.message}\n```")
        if self.hint:
            parts.append(f"**Hint:** {self.hint}")
        return "\n\n".join(parts)

    def assert_ok(self) -> None:
        """Raise ``AssertionError`` carrying the verdict's text unless ok; if ok, show it.

        Returns None: in a notebook (an nbgrader test cell) the verdict is displayed, not
        returned, so it is the cell's only output and nbgrader sees no value to score.
        """
        __tracebackhide__ = True  # pytest leaves this frame out of its tracebacks
        for listener in list(_listeners):
            listener(self)
        if not self.ok:
            raise AssertionError(str(self)) from None
        _display(self)


# Called with every verdict that assert_ok() sees (rnnbook.checker collects them there).
_listeners: list[Callable[[Verdict], None]] = []


def _display(verdict: Verdict) -> None:
    """Display the verdict if this runs in a Jupyter kernel; elsewhere do nothing."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from IPython.display import display

        display(verdict)


# ----------------------------------------------------------------------------------------------
# Calling the student's function safely
# ----------------------------------------------------------------------------------------------


class _TimeUp(BaseException):
    """Raised in the student's function by the alarm (BaseException: `except Exception` in the
    student's code does not swallow it)."""


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False


def _call(fn: Callable, args: tuple, time_limit: float) -> _Outcome:
    """``fn(*args)`` with exceptions caught and a time limit.

    In the main thread (a notebook, pytest) a ``SIGALRM`` timer interrupts the function; in
    any other thread, or where there is no ``SIGALRM`` (Windows), the function runs in a
    daemon thread that is abandoned if it does not finish in time. Every exception of the
    function becomes the outcome, ``SystemExit`` and other ``BaseException`` included, except
    ``KeyboardInterrupt`` (the reader stopping the cell). What the function writes on stderr,
    and its warnings, are dropped: they are not part of its answer.
    """
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            return _call_with_alarm(fn, args, time_limit)
        return _call_in_thread(fn, args, time_limit)


def _call_with_alarm(fn: Callable, args: tuple, time_limit: float) -> _Outcome:
    running = True

    def alarm(signum, frame):
        if running:
            raise _TimeUp

    old_handler = signal.signal(signal.SIGALRM, alarm)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, time_limit)
    start = time.monotonic()
    try:
        value = fn(*args)
        running = False
        return _Outcome(value=value)
    except _TimeUp:
        return _Outcome(timed_out=True)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # SystemExit, GeneratorExit, a student's own BaseException
        return _Outcome(error=e)
    finally:
        running = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay:  # someone else's timer was running: give it back what is left
            left = max(old_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)


def _call_in_thread(fn: Callable, args: tuple, time_limit: float) -> _Outcome:
    outcome = _Outcome()

    def run():
        try:
            outcome.value = fn(*args)
        except BaseException as e:
            outcome.error = e

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(time_limit)
    if worker.is_alive():
        return _Outcome(timed_out=True)
    return outcome


# ----------------------------------------------------------------------------------------------
# Describing inputs and outputs in words
# ----------------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A short description of a value: small arrays in full, big ones by their shape."""
    if isinstance(value, np.ndarray):
        if value.size <= 8:
            text = np.array2string(value, precision=4, separator=", ", suppress_small=True)
            return " ".join(text.split())
        return f"<array of shape {value.shape}>"
    if isinstance(value, Mapping):
        if len(value) > 4:
            return f"<dict with keys {', '.join(map(str, value))}>"
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _describe(case: Mapping[str, Any]) -> str:
    """'x of shape (2, 3), w = 0.5, ...': the inputs of a test case."""
    return ", ".join(
        f"{name} of shape {v.shape}"
        if isinstance(v, np.ndarray) and v.size > 8
        else f"{name} = {_show(v)}"
        for name, v in case.items()
    )


def _kind(value: Any) -> str:
    """What a returned value is, in words: 'a list of 3 items', 'None', ..."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, list | tuple | dict):
        return f"a {type(value).__name__} of {len(value)} item{'s' * (len(value) != 1)}"
    module = type(value).__module__
    prefix = "" if module == "builtins" else module.split(".")[0] + "."
    return f"a {prefix}{type(value).__name__} ({value!r:.40})"


def _type_hint(value: Any, want: str) -> str:
    if value is None:
        return "Did you forget the `return` statement at the end of your function?"
    if want == "array" and isinstance(value, list | tuple):
        return "Convert your result with np.array(...)."
    if type(value).__module__.startswith("torch"):
        return "Convert a tensor with .detach().numpy() (or use NumPy throughout)."
    return ""


# ----------------------------------------------------------------------------------------------
# Comparing with the reference: one generic helper
# ----------------------------------------------------------------------------------------------


@dataclass
class _Problem:
    kind: str  # "wrong type", "wrong shape", "NaN or inf", "wrong values"
    message: str
    hint: str = ""


def _compare_value(name: str, got: Any, expected: Any, shape: str, rtol: float, atol: float):
    """Compare one returned value with the expected array or number; a _Problem or None."""
    if isinstance(expected, np.ndarray):
        want = f"a NumPy array of shape {shape} = {expected.shape}"
        if not isinstance(got, np.ndarray):
            msg = f"{name} should be {want}, but your function returned {_kind(got)}."
            return _Problem("wrong type", msg, _type_hint(got, "array"))
        if got.dtype == np.bool_ or not np.issubdtype(got.dtype, np.number):
            return _Problem(
                "wrong type", f"{name} should be {want} of real numbers, not {got.dtype}."
            )
        if np.iscomplexobj(got):
            return _Problem("wrong type", f"{name} should be real, but it has dtype {got.dtype}.")
        if got.shape != expected.shape:
            msg = f"{name} should have shape {shape} = {expected.shape}, but yours has {got.shape}."
            transposed = got.shape == expected.shape[::-1] and got.ndim > 1
            return _Problem("wrong shape", msg, "It looks transposed." if transposed else "")
    else:  # a number
        if isinstance(got, np.ndarray) and got.size == 1 and np.issubdtype(got.dtype, np.number):
            got = got.reshape(())
        elif isinstance(got, bool) or not isinstance(got, numbers.Real):
            msg = f"{name} should be a number, but your function returned {_kind(got)}."
            return _Problem("wrong type", msg, _type_hint(got, "number"))
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if not np.isfinite(got).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        at = f" at index {bad}" if got.ndim else ""
        what = "NaN" if np.isnan(got[bad]) else "inf"
        return _Problem("NaN or inf", f"{name} contains {what}{at}.")
    with np.errstate(all="ignore"):
        error = np.abs(got - expected)
        if (error <= atol + rtol * np.abs(expected)).all():
            return None
    worst = np.unravel_index(int(np.argmax(error)), got.shape)
    if got.ndim == 0:
        msg = f"{name} should be {float(expected):.6g}, but yours is {float(got):.6g}."
    else:
        worst = tuple(int(i) for i in worst)
        msg = (
            f"{name} is wrong: the largest difference is {error[worst]:.3g}, at index {worst}, "
            f"where the expected value is {expected[worst]:.6g} and yours is {got[worst]:.6g}."
        )
        if got.size <= 12:
            msg += f"\nexpected {_show(expected)}\nyours    {_show(got)}"
    return _Problem("wrong values", msg)


def _compare(got: Any, expected: Any, outputs: Mapping[str, str], rtol: float, atol: float):
    """Compare a whole result (one value, a tuple or a dict, shaped like ``expected``)."""
    names = list(outputs)
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            msg = f"Your function should return a dict with keys {names}; it returned {_kind(got)}."
            keys = ", ".join(f'"{k}": ...' for k in names)
            return _Problem("wrong type", msg, _type_hint(got, "dict") or f"return {{{keys}}}")
        missing = [k for k in names if k not in got]
        if missing:
            msg = f"The dict you returned has no key {missing}; it has keys {list(got)}."
            return _Problem("wrong type", msg)
        got = [got[k] for k in names]
    elif isinstance(expected, tuple):
        if not isinstance(got, tuple | list) or len(got) != len(expected):
            want = f"a tuple ({', '.join(names)})"
            msg = f"Your function should return {want}; it returned {_kind(got)}."
            return _Problem("wrong type", msg)
        expected = dict(zip(names, expected, strict=True))
    else:
        got, expected = [got], {names[0]: expected}
    for (name, shape), g in zip(outputs.items(), got, strict=True):
        problem = _compare_value(name, g, expected[name], shape, rtol, atol)
        if problem:
            return problem
    return None


def _student_line(error: BaseException, fn: Callable) -> str:
    """'in line 3 of your function: `return 1 / 0`' for the deepest frame in the student's file.

    An error that comes from a sandboxed process (:mod:`rnnbook.checker`) carries that place
    as ``_rnnbook_where`` already.
    """
    if hasattr(error, "_rnnbook_where"):
        where = error._rnnbook_where
        return f"\nIt happened in {where}." if where else ""
    code = getattr(fn, "__code__", None)
    frames = traceback.extract_tb(error.__traceback__)
    mine = [f for f in frames if code is not None and f.filename == code.co_filename]
    if not mine:
        return ""
    f = mine[-1]
    line = f" (`{f.line.strip()}`)" if f.line else ""
    return f"\nIt happened in {f.name}, line {f.lineno}{line}."


def check_function(
    fn: Callable,
    reference: Callable,
    cases: Sequence[Mapping[str, Any]],
    *,
    outputs: Mapping[str, str],
    against: str,
    hint: str = "",
    nan_hint: str = "",
    mistakes: Sequence[tuple[Callable, str]] = (),
    time_limit: float = TIME_LIMIT,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> Verdict:
    """Call ``fn(*case.values())`` for each case and compare with ``reference(**case)``.

    Parameters
    ----------
    fn : the student's function
    reference : the right answer, called with the case's entries as keyword arguments; returns
        an array or number, a tuple of them, or a dict of them: ``fn`` must return the same
    cases : inputs, each an ordered dict name -> value (the order of ``fn``'s arguments); each
        call gets deep copies, so a function that modifies its inputs harms nothing
    outputs : name -> shape in symbols (e.g. ``{"h_new": "(B, H)"}``), in the order of the
        returned tuple or the keys of the returned dict; used in the messages
    against : what the reference is, for the success message
    hint : shown when the values are wrong; ``nan_hint`` when they contain NaN or inf
    mistakes : pairs (function, hint): when ``fn`` returns wrong values that equal what such a
        function returns, its hint replaces the general one (a diagnosis of a common mistake)
    time_limit : seconds allowed for each call
    rtol, atol : tolerances, as :func:`numpy.isclose`

    Returns
    -------
    Verdict
    """
    name = getattr(fn, "__name__", "<lambda>")
    name = "your function" if name == "<lambda>" else name
    if not callable(fn):
        return Verdict(
            False,
            "not a function",
            f"The check needs your function itself, but it was given {_kind(fn)}.",
            "Pass the function's name without parentheses, e.g. check_rnn_step(rnn_step).",
        )
    for n, case in enumerate(cases, 1):
        expected = reference(**copy.deepcopy(case))
        where = f"On test case {n} of {len(cases)}, called with {_describe(case)}:"
        outcome = _call(fn, tuple(copy.deepcopy(case).values()), time_limit)
        if outcome.timed_out:
            return Verdict(
                False,
                f"{name}: time limit",
                f"{where}\nyour function did not return within {time_limit:g} s.",
                "Look for a loop that never ends, e.g. a `while` whose condition never changes.",
            )
        if isinstance(outcome.error, NotImplementedError):
            return Verdict(
                False,
                f"{name}: not answered yet",
                "Your function raised NotImplementedError: it is still the exercise's template.",
                "Replace `raise NotImplementedError()` with your answer, run that cell, then run "
                "this check again.",
            )
        if outcome.error is not None:
            e = outcome.error
            return Verdict(
                False,
                f"{name} raised {type(e).__name__}",
                f"{where}\nyour function raised {type(e).__name__}: {e}{_student_line(e, fn)}",
                _ERROR_HINTS.get(type(e).__name__, hint),
            )
        problem = _compare(outcome.value, expected, outputs, rtol, atol)
        if problem is None:
            continue
        if problem.kind == "wrong values":
            problem.hint = _diagnose(outcome.value, case, mistakes, outputs, rtol, atol) or hint
        elif problem.kind == "NaN or inf":
            problem.hint = nan_hint or hint
        return Verdict(
            False, f"{name}: {problem.kind}", f"{where}\n{problem.message}", problem.hint
        )
    return Verdict(
        True,
        f"{name} is correct",
        f"It agrees with {against} on all {len(cases)} test cases.",
    )


# Errors that say nothing about the maths: their own hint instead of the exercise's.
_ERROR_HINTS = {
    "SystemExit": "sys.exit() and exit() end the whole program: return the result instead.",
    "ProcessEnded": "Something in your function ended its Python process: os._exit(), a crash, "
    "or more memory than the grader allows. Return the result instead.",
    "MemoryError": "Your function asked for more memory than there is: look for an array much "
    "larger than the inputs.",
}


def _diagnose(got, case, mistakes, outputs, rtol, atol) -> str:
    """The hint of the first known mistake whose result equals ``got``, or ''."""
    for mistake, hint in mistakes:
        try:
            if _compare(got, mistake(**copy.deepcopy(case)), outputs, rtol, atol) is None:
                return hint
        except Exception:
            continue
    return ""


# ----------------------------------------------------------------------------------------------
# Test inputs and references from the library
# ----------------------------------------------------------------------------------------------

_SIZES = [(1, 2, 3), (2, 3, 4), (3, 4, 2)]  # (B, I, H): I != H so a transpose cannot pass


def _cell_cases(cell_class: type, with_c: bool = False) -> list[dict[str, np.ndarray]]:
    """Seeded inputs for one step: x, h (and c), and a cell's freshly initialised weights."""
    cases = []
    for seed, (B, I, H) in enumerate(_SIZES):
        rng = np.random.default_rng(seed)
        p = cell_class(I, H, seed=seed).params
        case = {"x": rng.normal(size=(B, I)), "h": rng.uniform(-1, 1, size=(B, H))}
        if with_c:
            case["c"] = rng.normal(size=(B, H))
        names = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}
        case.update({short: p[long] for short, long in names.items()})
        cases.append(case)
    return cases


def _cell(cell_class: type, W_ih, W_hh, b_ih, b_hh, **options):
    """A library cell holding the given weights."""
    cell = cell_class(W_ih.shape[1], W_hh.shape[1], **options)
    cell.params = {"weight_ih": W_ih, "weight_hh": W_hh, "bias_ih": b_ih, "bias_hh": b_hh}
    return cell


# ----------------------------------------------------------------------------------------------
# Cells: one step
# ----------------------------------------------------------------------------------------------

_STEP_OUTPUT = {"h_new": "(B, H)"}


def _rnn_step(x, h, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return _cell(RNNCell, W_ih, W_hh, b_ih, b_hh, nonlinearity=nonlinearity).step(x, h)[0]


def check_rnn_step(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check one step of an Elman RNN with tanh against :class:`rnnbook.cells.RNNCell`.

    The student writes ``fn(x, h, W_ih, W_hh, b_ih, b_hh) -> h_new`` with ``x`` (B, I),
    ``h`` (B, H), ``W_ih`` (H, I), ``W_hh`` (H, H), ``b_ih``, ``b_hh`` (H,), returning
    ``h_new = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``, shape (B, H).
    """
    mistakes = [
        (
            lambda **c: _rnn_step(**c, nonlinearity="linear"),
            "You returned the pre-activation: apply np.tanh to it.",
        ),
        (
            lambda b_hh, **c: _rnn_step(**c, b_hh=0 * b_hh),
            "b_hh is missing: PyTorch's layout has two biases, b_ih and b_hh; add both.",
        ),
        (
            lambda b_ih, **c: _rnn_step(**c, b_ih=0 * b_ih),
            "b_ih is missing: PyTorch's layout has two biases, b_ih and b_hh; add both.",
        ),
    ]
    return check_function(
        fn,
        _rnn_step,
        _cell_cases(RNNCell),
        outputs=_STEP_OUTPUT,
        against="rnnbook.cells.RNNCell",
        hint="Mind the layout: x and h hold one example per row, while W_ih (H, I) and W_hh "
        "(H, H) hold one hidden unit per row, so which way round must each product go? Then "
        "check that both biases and the activation are there.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


def _lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh, variant="vanilla"):
    _, state = _cell(LSTMCell, W_ih, W_hh, b_ih, b_hh, variant=variant).step(x, (h, c))
    return tuple(state)


def _lstm_gates_ifog(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """The step of a student who reads the blocks as i, f, o, g: PyTorch's weights reordered."""
    order = [0, 1, 3, 2]
    W_ih, W_hh, b_ih, b_hh = (
        np.concatenate([np.split(a, 4)[k] for k in order]) for a in (W_ih, W_hh, b_ih, b_hh)
    )
    return _lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)


def _lstm_tanh_of_old_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    cache = lstm_step_cache(x, h, c, W_ih, W_hh, b_ih, b_hh)
    return cache["o"] * np.tanh(c), cache["c_new"]


def check_lstm_step(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check one LSTM step against :class:`rnnbook.cells.LSTMCell` (PyTorch's ``nn.LSTM``).

    The student writes ``fn(x, h, c, W_ih, W_hh, b_ih, b_hh) -> (h_new, c_new)`` with ``x``
    (B, I), ``h`` and ``c`` (B, H), ``W_ih`` (4H, I), ``W_hh`` (4H, H), ``b_ih``, ``b_hh``
    (4H,), the gate blocks stacked in PyTorch's order i, f, g, o::

        i, f, g, o = split(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)   # 4 blocks of H columns
        i, f, o = sigmoid(i), sigmoid(f), sigmoid(o);  g = tanh(g)
        c_new = f * c + i * g
        h_new = o * tanh(c_new)
    """
    mistakes = [
        (
            _lstm_tanh_of_old_cell,
            "h_new uses the tanh of the *new* cell state: h_t = o_t * tanh(c_t), "
            "not tanh(c_{t-1}).",
        ),
        (
            lambda **c: _lstm_step(**c, variant="noaf"),
            "h_new = o * tanh(c_new): the tanh on the cell state is missing.",
        ),
        (
            _lstm_gates_ifog,
            "PyTorch stacks the gate blocks as i, f, g, o (candidate g third, output gate o "
            "last); you seem to use i, f, o, g.",
        ),
    ]
    return check_function(
        fn,
        _lstm_step,
        _cell_cases(LSTMCell, with_c=True),
        outputs={"h_new": "(B, H)", "c_new": "(B, H)"},
        against="rnnbook.cells.LSTMCell (PyTorch's nn.LSTM)",
        hint="Check the order of the four blocks of columns (PyTorch's: i, f, g, o) and which "
        "squashing function each gate gets. Then the two states: which gate decides how much "
        "of the old cell stays, and which one scales what the new cell shows?",
        mistakes=mistakes,
        time_limit=time_limit,
    )


def _gru_step(x, h, W_ih, W_hh, b_ih, b_hh, reset="after"):
    return _cell(GRUCell, W_ih, W_hh, b_ih, b_hh, reset=reset).step(x, h)[0]


def _gru_swapped_update(x, h, W_ih, W_hh, b_ih, b_hh):
    _, _, cache = _cell(GRUCell, W_ih, W_hh, b_ih, b_hh).forward(x[None], h)
    z, n = cache["z"][0], cache["n"][0]
    return (1 - z) * h + z * n


def check_gru_step(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check one GRU step against :class:`rnnbook.cells.GRUCell` (PyTorch's ``nn.GRU``).

    The student writes ``fn(x, h, W_ih, W_hh, b_ih, b_hh) -> h_new`` with ``x`` (B, I), ``h``
    (B, H), ``W_ih`` (3H, I), ``W_hh`` (3H, H), ``b_ih``, ``b_hh`` (3H,), blocks r, z, n, and
    the reset gate applied *after* the hidden matmul, as PyTorch::

        r = sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
        z = sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
        n = tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
        h_new = z * h + (1 - z) * n
    """
    mistakes = [
        (
            lambda **c: _gru_step(**c, reset="before"),
            "PyTorch applies the reset gate after the hidden matmul, r * (h @ W_hn.T + b_hn); "
            "you applied it before, (r * h) @ W_hn.T + b_hn, as Cho et al. (2014).",
        ),
        (
            _gru_swapped_update,
            "z and 1 - z are swapped: with PyTorch's weights, h_new = z * h + (1 - z) * n.",
        ),
    ]
    return check_function(
        fn,
        _gru_step,
        _cell_cases(GRUCell),
        outputs=_STEP_OUTPUT,
        against="rnnbook.cells.GRUCell (PyTorch's nn.GRU)",
        hint="The 3H rows are the blocks r, z, n in that order. The reset gate acts on one "
        "part of the candidate's pre-activation only: which one, and does its bias come with "
        "it?",
        mistakes=mistakes,
        time_limit=time_limit,
    )


# ----------------------------------------------------------------------------------------------
# LSTM: the backward of one step
# ----------------------------------------------------------------------------------------------


def lstm_step_cache(x, h, c, W_ih, W_hh, b_ih, b_hh) -> dict[str, np.ndarray]:
    """Everything the forward of one LSTM step computed, as the backward exercise receives it.

    Returns
    -------
    dict with the inputs ``"x"`` (B, I), ``"h"``, ``"c"`` (B, H), ``"W_ih"`` (4H, I),
    ``"W_hh"`` (4H, H), ``"b_ih"``, ``"b_hh"`` (4H,); the gates after their nonlinearity
    ``"i"``, ``"f"``, ``"g"``, ``"o"`` (B, H); and the results ``"c_new"``, ``"h_new"`` (B, H).
    """
    cell = _cell(LSTMCell, W_ih, W_hh, b_ih, b_hh)
    _, (h_new, c_new), fc = cell.forward(x[None], (h, c))
    gates = {k: fc[k][0] for k in "ifgo"}
    inputs = {"x": x, "h": h, "c": c, "W_ih": W_ih, "W_hh": W_hh, "b_ih": b_ih, "b_hh": b_hh}
    return {**inputs, **gates, "c_new": c_new, "h_new": h_new}


def _lstm_step_backward(dh_new, dc_new, cache):
    cell = _cell(LSTMCell, *(cache[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh")))
    _, _, fc = cell.forward(cache["x"][None], (cache["h"], cache["c"]))
    g = cell.backward(dh_new[None], fc, d_state=(np.zeros_like(dh_new), dc_new))
    return {
        "x": g["x"][0],
        "h": g["state"][0],
        "c": g["state"][1],
        "W_ih": g["weight_ih"],
        "W_hh": g["weight_hh"],
        "b_ih": g["bias_ih"],
        "b_hh": g["bias_hh"],
    }


def check_lstm_step_backward(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the backward of one LSTM step against :meth:`rnnbook.cells.LSTMCell.backward`.

    The student writes ``fn(dh_new, dc_new, cache) -> grads`` where

    * ``dh_new``, ``dc_new`` (B, H) are dL/dh_new and dL/dc_new, the gradients arriving from
      above (the output and the next step);
    * ``cache`` is the dict of :func:`lstm_step_cache`: the inputs ``x``, ``h``, ``c``,
      ``W_ih``, ``W_hh``, ``b_ih``, ``b_hh``, the gates ``i``, ``f``, ``g``, ``o`` (after their
      sigmoid or tanh) and ``c_new``, ``h_new``;
    * ``grads`` is a dict with keys ``"x"``, ``"h"``, ``"c"`` (dL/dx, dL/dh, dL/dc of the
      step's inputs) and ``"W_ih"``, ``"W_hh"``, ``"b_ih"``, ``"b_hh"``, each of the shape of
      what it differentiates (``b_ih`` and ``b_hh`` get the same gradient).

    The chain, from the top (``*`` is elementwise)::

        dc = dc_new + dh_new * o * (1 - tanh(c_new)**2)
        do = dh_new * tanh(c_new);  di = dc * g;  df = dc * c;  dg = dc * i
        da = concat([di * i*(1-i), df * f*(1-f), dg * (1-g**2), do * o*(1-o)])   # (B, 4H)
        dx = da @ W_ih;  dh = da @ W_hh;  dc_prev = dc * f
        dW_ih = da.T @ x;  dW_hh = da.T @ h;  db_ih = db_hh = da.sum(axis=0)
    """
    cases = []
    for n, case in enumerate(_cell_cases(LSTMCell, with_c=True)):
        rng = np.random.default_rng(100 + n)
        shape = case["h"].shape
        cases.append(
            {
                "dh_new": rng.normal(size=shape),
                "dc_new": rng.normal(size=shape),
                "cache": lstm_step_cache(**case),
            }
        )
    outputs = {"x": "(B, I)", "h": "(B, H)", "c": "(B, H)", "W_ih": "(4H, I)", "W_hh": "(4H, H)"}
    outputs |= {"b_ih": "(4H,)", "b_hh": "(4H,)"}
    mistakes = [
        (
            lambda dh_new, dc_new, cache: _lstm_step_backward(dh_new, 0 * dc_new, cache),
            "dc_new is missing: the cell state's gradient is dc_new (from the next step) plus "
            "what comes through h_new = o * tanh(c_new).",
        ),
        (
            lambda dh_new, dc_new, cache: _lstm_step_backward(0 * dh_new, dc_new, cache),
            "The path through h_new is missing: dh_new reaches c_new through "
            "h_new = o * tanh(c_new), and reaches o.",
        ),
    ]
    return check_function(
        fn,
        _lstm_step_backward,
        cases,
        outputs=outputs,
        against="rnnbook.cells.LSTMCell.backward",
        hint="Go back through h_new first: the new cell state gets its gradient from two places, "
        "dc_new and the path through h_new. Then go through c_new to each gate, through each "
        "gate's squashing function (its derivative can be written with the gate's own value), "
        "and through the matmuls, keeping the gates' order i, f, g, o.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


# ----------------------------------------------------------------------------------------------
# Attention and softmax
# ----------------------------------------------------------------------------------------------


def check_score(fn: Callable, method: str, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check one attention score function against :func:`rnnbook.attention.score`.

    The student writes ``fn(query, keys, params) -> scores`` for one example: ``query``
    (d_q,), ``keys`` (T, d_k), ``params`` the dict of :func:`rnnbook.attention.init_params`
    (``{}`` for dot and scaled_dot, ``{"W": (d_q, d_k)}`` for general, ``{"W_a": (d_attn, d_q),
    "W_b": (d_attn, d_k), "v": (d_attn,)}`` for concat), returning ``scores`` (T,)::

        dot         scores[t] = query . keys[t]
        general     scores[t] = query @ W @ keys[t]
        concat      scores[t] = v . tanh(W_a @ query + W_b @ keys[t])
        scaled_dot  scores[t] = query . keys[t] / sqrt(d)

    ``method`` is one of ``rnnbook.attention.METHODS`` (or "additive" for concat).
    """
    if method not in (*attention.METHODS, "additive"):
        raise ValueError(f"unknown method {method!r}; expected one of {attention.METHODS}")
    method = "concat" if method == "additive" else method
    same = method in ("dot", "scaled_dot")
    cases = []
    for seed, (T, d_q, d_k) in enumerate([(4, 3, 5), (1, 2, 4), (6, 4, 3)]):
        d_k = d_q if same else d_k
        rng = np.random.default_rng(seed)
        cases.append(
            {
                "query": rng.normal(size=d_q),
                "keys": rng.normal(size=(T, d_k)),
                "params": attention.init_params(method, d_q, d_k, d_attn=d_q + 1, seed=seed),
            }
        )

    def reference(query, keys, params):
        return attention.score(query, keys, method, params)

    def dot(query, keys, params):
        return attention.score(query, keys, "dot")

    mistakes = {
        "scaled_dot": [
            (dot, "You forgot to divide by sqrt(d), the square root of the vectors' size."),
            (
                lambda **c: dot(**c) / c["query"].size,
                "Divide by the square root of d, not by d.",
            ),
        ],
        "concat": [
            (
                lambda query, keys, params: (
                    (query @ params["W_a"].T + keys @ params["W_b"].T) @ params["v"]
                ),
                "The tanh is missing: scores = v . tanh(W_a q + W_b k_t).",
            )
        ],
    }.get(method, [])
    hints = {
        "dot": "One score per key: each row of keys against the query. Which product gives "
        "a vector of T numbers at once?",
        "general": "W sits between the query and each key; its shape (d_q, d_k) tells which "
        "side each goes on. Then do all T keys in one product.",
        "concat": "Bring the query and every key into the same d_attn space, combine them there, "
        "squash, and let v turn each key's vector into one number. Broadcasting does 'every "
        "key'.",
        "scaled_dot": "The dot score, divided by a factor that grows with the vectors' size d: "
        "which one keeps the scores' variance at 1?",
    }
    return check_function(
        fn,
        reference,
        cases,
        outputs={"scores": "(T,)"},
        against=f"rnnbook.attention.score(..., {method!r})",
        hint=hints[method],
        mistakes=mistakes,
        time_limit=time_limit,
    )


def check_softmax(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check a softmax over the last axis against :func:`rnnbook.functional.softmax`.

    The student writes ``fn(x) -> y`` for an array ``x`` of any shape; each slice along the last
    axis becomes a distribution: ``y = exp(x) / exp(x).sum(axis=-1, keepdims=True)``, computed
    without overflow (scores of 1000 are among the test inputs).
    """
    rng = np.random.default_rng(0)
    cases = [
        {"x": rng.normal(size=5)},
        {"x": 3 * rng.normal(size=(3, 4))},
        {"x": np.array([7.0])},
        {"x": np.array([1000.0, 1001.0, 1002.0])},
        {"x": np.array([[-1000.0, -1001.0], [0.0, 1.0]])},
    ]

    def shifted_exp(x):
        return np.exp(x - x.max())

    mistakes = [
        (
            lambda x: functional.softmax(x, axis=0),
            "Each row (the last axis) should sum to 1; you normalised the columns. Use "
            "axis=-1 with keepdims=True.",
        ),
        (
            lambda x: shifted_exp(x) / shifted_exp(x).sum(),
            "You divided by the sum over the whole array; each row should sum to 1 on its "
            "own: .sum(axis=-1, keepdims=True).",
        ),
    ]
    return check_function(
        fn,
        lambda x: functional.softmax(x, axis=-1),
        cases,
        outputs={"y": "(same as x)"},
        against="rnnbook.functional.softmax",
        hint="Normalise along the last axis, and keep that axis when you sum so that the "
        "division broadcasts over each row.",
        nan_hint="exp(1000) overflows to inf (and inf / inf is NaN), while exp(-1000) is 0 "
        "(and 0 / 0 is NaN). The softmax does not change when the same number is subtracted "
        "from a whole row: which number keeps every exponent at most 0?",
        mistakes=mistakes,
        time_limit=time_limit,
    )


# ----------------------------------------------------------------------------------------------
# Chapters 1 and 2: the one-unit RNN and the memory example
# ----------------------------------------------------------------------------------------------


def _one_unit_bptt(w, T):
    """y_T and dy_T/dw of h_t = w h_{t-1} + x_t from :class:`RNNCell` and its backward."""
    cell = RNNCell(1, 1, nonlinearity="linear", bias=False)
    cell.params = {"weight_ih": np.ones((1, 1)), "weight_hh": np.full((1, 1), float(w))}
    y, _, cache = cell.forward(tasks.w_chain(T))
    dy = np.zeros_like(y)
    dy[-1] = 1.0  # the loss is y_T itself
    return float(y[-1, 0, 0]), float(cell.backward(dy, cache)["weight_hh"][0, 0])


def check_one_unit_bptt(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the forward and BPTT of the one-unit linear RNN of the w-chain.

    The network is :math:`h_t = w h_{t-1} + x_t`, :math:`y_t = h_t`, :math:`h_0 = 0`, run for
    ``T`` steps on the input 1 at step 1 and 0 at steps 2..T (``rnnbook.tasks.w_chain(T)``).
    So :math:`h_1 = 1` and :math:`y_T = w^{T-1}`, with :math:`dy_T/dw = (T-1) w^{T-2}` (0 for
    ``T = 1``).

    The student writes ``fn(w, T) -> (y_T, dy_T_dw)``: ``w`` a float, ``T >= 1`` an int, both
    results numbers (floats, NumPy scalars or size-1 arrays). The intended answer runs the
    forward loop, then the backward loop, rather than the closed form.
    """
    cases = [{"w": w, "T": T} for w, T in [(0.9, 5), (1.1, 10), (-0.5, 4), (0.5, 1), (0.0, 2)]]
    mistakes = [
        (
            lambda w, T: (w**T, T * w ** (T - 1)),
            "Off by one: with the input 1 at step 1, h_1 = 1, so after T steps y_T = w**(T-1), "
            "not w**T.",
        )
    ]
    return check_function(
        fn,
        _one_unit_bptt,
        cases,
        outputs={"y_T": "a number", "dy_T/dw": "a number"},
        against="rnnbook.cells.RNNCell (linear, one unit) and its backward",
        hint="Keep every state of the forward loop. Going back from the last step (where "
        "dy_T/dh_T is 1), w acts at every step: each step adds its own share to dy_T/dw (what "
        "is the derivative of w h_{t-1} + x_t with respect to w?), and the gradient that "
        "reaches h_{t-1} is scaled by the step's Jacobian.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


def _ones(cell):
    cell.params = {name: np.ones_like(p) for name, p in cell.params.items()}
    return cell


def _elman_memory(x, recurrent=True):
    cell = _ones(RNNCell(2, 2, nonlinearity="linear", bias=False))
    if not recurrent:
        cell.params["weight_hh"][...] = 0.0
    h, _, _ = cell.forward(x)
    return h @ np.ones((2, 2)).T  # y_t = W_hy h_t with W_hy all ones


def check_memory_example(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the Elman network of the memory example (chapter 1).

    Two inputs, two hidden units, two outputs; every weight 1, no bias, no nonlinearity, and
    the memory starts at 0: :math:`h_t = W_{xh} x_t + W_{hh} h_{t-1}`, :math:`y_t = W_{hy} h_t`.
    The student writes ``fn(x) -> y`` with ``x`` (T, B, 2), time-major as
    ``rnnbook.tasks.memory_example()``, returning the outputs ``y`` (T, B, 2). For the book's
    inputs [1, 1], [1, 1], [2, 2] they are [4, 4], [12, 12], [32, 32].
    """
    rng = np.random.default_rng(0)
    cases = [
        {"x": tasks.memory_example()},
        {"x": rng.integers(-2, 3, size=(4, 2, 2)).astype(float)},
        {"x": np.array([[[0.5, -1.0]]])},
    ]
    mistakes = [
        (
            lambda x: _ones(JordanRNN(2, 2, 2, nonlinearity="linear", bias=False)).forward(x)[0],
            "These are a Jordan network's outputs: it feeds back the previous output y_{t-1}. "
            "The Elman network feeds back its hidden values h_{t-1}.",
        ),
        (
            lambda x: _ones(RNNCell(2, 2, nonlinearity="linear", bias=False)).forward(x)[0],
            "You returned the hidden values h_t; the outputs are y_t = W_hy h_t.",
        ),
        (
            lambda x: _elman_memory(x, recurrent=False),
            "Your outputs ignore the memory: h_t = W_xh x_t + W_hh h_{t-1}.",
        ),
    ]
    return check_function(
        fn,
        _elman_memory,
        cases,
        outputs={"y": "(T, B, 2)"},
        against="rnnbook.cells.RNNCell (linear, all weights 1) with an output layer of ones",
        hint="Carry the memory h from one step to the next, starting from zeros: each step mixes "
        "the new input with the old memory, and the output reads the memory after it is "
        "updated.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


# ----------------------------------------------------------------------------------------------
# Chapter 4: the Jacobian of the LSTM's cell state
# ----------------------------------------------------------------------------------------------


def _lstm_cell_jacobian(x, c, o, W_ih, W_hh, b_ih, b_hh, through_h=True, dtanh_c=True):
    """J[b] = dc_new[b] / dc[b] from :meth:`LSTMCell.backward`, one row of J per backward."""
    cell = _cell(LSTMCell, W_ih, W_hh, b_ih, b_hh)
    tanh_c = np.tanh(c)
    _, _, fc = cell.forward(x[None], (o * tanh_c, c))
    B, H = c.shape
    J = np.empty((B, H, H))
    for j in range(H):
        dc_new = np.zeros((B, H))
        dc_new[:, j] = 1.0  # the gradient of c_new[:, j] alone
        dh, dc = cell.backward(np.zeros((1, B, H)), fc, d_state=(np.zeros((B, H)), dc_new))["state"]
        J[:, j, :] = dc + through_h * dh * o * (1 - tanh_c**2 if dtanh_c else 1.0)
    return J


def check_lstm_cell_jacobian(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the Jacobian of one LSTM step's new cell state with respect to the old one.

    The old cell state ``c`` reaches the new one on two kinds of path: directly,
    ``c_new = f * c + ...`` (the carousel), and through the hidden state ``h = o * tanh(c)``,
    which every gate of the step reads. The student writes
    ``fn(x, c, o, W_ih, W_hh, b_ih, b_hh) -> J`` with ``x`` (B, I) the step's input, ``c``
    (B, H) the old cell state, ``o`` (B, H) the old output gate (so ``h = o * tanh(c)``),
    PyTorch's weights (blocks i, f, g, o), returning ``J`` (B, H, H) with
    ``J[b, j, k] = d c_new[b, j] / d c[b, k]``. In column-vector notation (chapter 4):

    .. math::

        \\frac{\\partial c_{t+1}}{\\partial c_t} = \\operatorname{diag}(f_{t+1})
        + \\big[\\operatorname{diag}(\\tilde c_{t+1} \\odot \\sigma'_i) W_{hi}
        + \\operatorname{diag}(c_t \\odot \\sigma'_f) W_{hf}
        + \\operatorname{diag}(i_{t+1} \\odot \\tanh'_g) W_{hc}\\big]
        \\operatorname{diag}(o_t \\odot (1 - \\tanh^2 c_t))

    The reference is :meth:`rnnbook.cells.LSTMCell.backward`, run once per row of J.
    """
    cases = []
    for n, case in enumerate(_cell_cases(LSTMCell, with_c=True)):
        rng = np.random.default_rng(200 + n)
        o = rng.uniform(0.05, 0.95, size=case["c"].shape)
        weights = {k: case[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh")}
        cases.append({"x": case["x"], "c": case["c"], "o": o} | weights)
    mistakes = [
        (
            lambda **c: _lstm_cell_jacobian(**c, through_h=False),
            "You kept only the carousel, diag(f_new). The old cell also reaches the input gate, "
            "the forget gate and the candidate of the step, through h = o * tanh(c).",
        ),
        (
            lambda **c: _lstm_cell_jacobian(**c, dtanh_c=False),
            "The derivative of h = o * tanh(c) with respect to c is o * (1 - tanh(c)**2), not o.",
        ),
        (
            lambda **c: _lstm_cell_jacobian(**c).transpose(0, 2, 1),
            "Your J is transposed: J[b, j, k] = d c_new[j] / d c[k], rows for c_new.",
        ),
    ]
    return check_function(
        fn,
        _lstm_cell_jacobian,
        cases,
        outputs={"J": "(B, H, H)"},
        against="rnnbook.cells.LSTMCell.backward (one row of J at a time)",
        hint="Two paths lead from c to c_new: directly, through the forget gate (the carousel, "
        "diag(f)), and through h = o * tanh(c), which the input gate, the forget gate and the "
        "candidate all read. Differentiate both and add them; the new step's output gate is on "
        "neither path.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


# ----------------------------------------------------------------------------------------------
# Chapter 2: BPTT as a product of Jacobians
# ----------------------------------------------------------------------------------------------


def _jacobian_cases() -> list[dict[str, np.ndarray]]:
    """Hidden states of real tanh RNN runs: W_hh (H, H), hs (T, H), delta_T (H,)."""
    cases = []
    for seed, (T, I, H) in enumerate([(4, 2, 3), (1, 3, 5), (6, 1, 2), (10, 2, 4)]):
        rng = np.random.default_rng(50 + seed)
        cell = RNNCell(I, H, seed=seed)
        cell.params["weight_hh"] *= 3.0  # large enough that tanh' matters
        hs = cell.forward(rng.normal(size=(T, 1, I)))[0][:, 0]
        cases.append({"W_hh": cell.params["weight_hh"], "hs": hs, "delta_T": rng.normal(size=H)})
    return cases


def _jacobian_bptt(W_hh, hs, delta_T):
    """delta_0 from RNNCell.backward, given the states (backward reads only h_0, h_t, W_hh)."""
    T, H = hs.shape
    cell = RNNCell(1, H, bias=False)
    cell.params["weight_hh"] = W_hh
    cache = {"x": np.zeros((T, 1, 1)), "h0": np.zeros((1, H)), "h": hs[:, None, :]}
    return cell.backward(np.zeros((T, 1, H)), cache, d_state=delta_T[None])["state"][0]


def _jacobian_loop(W_hh, hs, delta_T, jacobian):
    d = delta_T
    for t in range(hs.shape[0], 0, -1):
        d = jacobian(W_hh, hs, t, d)
    return d


def check_jacobian_bptt(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check BPTT written as a product of Jacobians (chapter 2) against ``RNNCell.backward``.

    One sequence of a tanh RNN in the chapter's column-vector notation:
    :math:`h_t = \\tanh(W_{hh} h_{t-1} + W_{xh} x_t + b)`, so the step Jacobian is
    :math:`J_t = \\partial h_t / \\partial h_{t-1} = \\operatorname{diag}(1 - h_t^2)\\, W_{hh}`.
    For a loss that depends on :math:`h_T` only, with :math:`\\delta_T = \\partial L /
    \\partial h_T`,

    .. math::  \\delta_0 = \\frac{\\partial L}{\\partial h_0}
               = (J_T J_{T-1} \\cdots J_1)^{\\top} \\delta_T .

    The student writes ``fn(W_hh, hs, delta_T) -> delta_0`` with ``W_hh`` (H, H), ``hs``
    (T, H) the states :math:`h_1 .. h_T` (row ``t - 1`` is :math:`h_t`), ``delta_T`` (H,);
    it returns ``delta_0`` (H,).
    """

    def no_derivative(W_hh, hs, t, d):
        return W_hh.T @ d

    def not_transposed(W_hh, hs, t, d):
        return (1 - hs[t - 1] ** 2) * (W_hh @ d)

    def previous_state(W_hh, hs, t, d):
        h_prev = hs[t - 2] if t >= 2 else np.zeros_like(hs[0])
        return W_hh.T @ ((1 - h_prev**2) * d)

    def diagnose(jacobian):
        return lambda W_hh, hs, delta_T: _jacobian_loop(W_hh, hs, delta_T, jacobian)

    mistakes = [
        (
            diagnose(no_derivative),
            "tanh' is missing: each step's Jacobian is not W_hh alone.",
        ),
        (
            diagnose(not_transposed),
            "The gradient goes back through the transpose of each step's Jacobian.",
        ),
        (
            diagnose(previous_state),
            "tanh' belongs to the state the step produced: J_t uses 1 - h_t**2, not "
            "1 - h_{t-1}**2 (row t - 1 of hs is h_t).",
        ),
    ]
    return check_function(
        fn,
        _jacobian_bptt,
        _jacobian_cases(),
        outputs={"delta_0": "(H,)"},
        against="rnnbook.cells.RNNCell.backward",
        hint="Each step's Jacobian is tanh's derivative (written with the state the step "
        "produced) times W_hh. Chain them in the order the steps happened, and remember that a "
        "gradient goes back through the transpose.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


# ----------------------------------------------------------------------------------------------
# LSTM: counting parameters (chapter 3)
# ----------------------------------------------------------------------------------------------


def _lstm_num_parameters(input_size: int, hidden_size: int, variant: str) -> int:
    return LSTMCell(input_size, hidden_size, variant=variant).num_parameters()


def _lstm_count_one_bias(input_size, hidden_size, variant):
    blocks = 4 if variant in ("vanilla", "peephole", "noaf") else 3
    return _lstm_num_parameters(input_size, hidden_size, variant) - blocks * hidden_size


def _lstm_count_four_blocks(input_size, hidden_size, variant):
    H, I = hidden_size, input_size
    return 4 * (H * I + H * H + 2 * H) + (3 * H if variant == "peephole" else 0)


def _lstm_count_no_peepholes(input_size, hidden_size, variant):
    plain = "vanilla" if variant == "peephole" else variant
    return _lstm_num_parameters(input_size, hidden_size, plain)


def _lstm_count_naive(input_size, hidden_size, variant):
    H, I = hidden_size, input_size
    return H * I + H * H + 2 * H


def check_lstm_num_parameters(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check a parameter count against :meth:`rnnbook.cells.LSTMCell.num_parameters`.

    The student writes ``fn(input_size, hidden_size, variant) -> int``: the number of
    scalar parameters of one LSTM layer in PyTorch's layout (two bias vectors, ``b_ih`` and
    ``b_hh``), for ``variant`` "vanilla", "peephole", "cifg", "nfg" or "noaf" (chapter 3):
    ``G * (H*I + H*H + 2*H)`` with G = 4 blocks (3 for "cifg" and "nfg"), plus ``3*H``
    peephole weights for "peephole".
    """
    cases = [
        {"input_size": I, "hidden_size": H, "variant": v}
        for I, H, v in [
            (2, 3, "vanilla"),
            (10, 32, "vanilla"),
            (3, 5, "peephole"),
            (4, 6, "cifg"),
            (7, 2, "nfg"),
            (1, 9, "noaf"),
        ]
    ]
    mistakes = [
        (
            _lstm_count_naive,
            "That is a naive RNN's count, H*I + H*H + 2*H: an LSTM has one such block for "
            "each gate and the candidate.",
        ),
        (
            _lstm_count_one_bias,
            "PyTorch's layout has two bias vectors per block, b_ih and b_hh: count both.",
        ),
        (
            _lstm_count_four_blocks,
            "'cifg' (i = 1 - f) and 'nfg' (f = 1) have no weights for the gate they remove: "
            "3 blocks, not 4.",
        ),
        (
            _lstm_count_no_peepholes,
            "The peephole variant adds three weight vectors of H entries each, w_ci, w_cf, w_co.",
        ),
    ]
    return check_function(
        fn,
        _lstm_num_parameters,
        cases,
        outputs={"count": "()"},
        against="rnnbook.cells.LSTMCell.num_parameters",
        hint="Count one block (a gate or the candidate): its two weight matrices and PyTorch's "
        "two biases. Then count how many blocks each variant keeps, and what the peephole "
        "variant adds.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


# ----------------------------------------------------------------------------------------------
# GRU: the limiting case z = 0, r = 1 (chapter 5)
# ----------------------------------------------------------------------------------------------

_GRU_PARAMS_OUTPUT = {
    "W_ih_gru": "(3H, I)",
    "W_hh_gru": "(3H, H)",
    "b_ih_gru": "(3H,)",
    "b_hh_gru": "(3H,)",
}


def _rnn_to_gru(W_ih, W_hh, b_ih, b_hh, big: float = 40.0):
    """GRU weights (blocks r, z, n) that compute the tanh RNN: r = 1, z = 0, n = the RNN."""
    H, I = W_ih.shape
    zeros_i, zeros_h, bias = np.zeros((H, I)), np.zeros((H, H)), np.full(H, big)
    return (
        np.concatenate([zeros_i, zeros_i, W_ih]),
        np.concatenate([zeros_h, zeros_h, W_hh]),
        np.concatenate([bias, -bias, b_ih]),  # r = sigmoid(40) = 1, z = sigmoid(-40) ~ 0
        np.concatenate([np.zeros(H), np.zeros(H), b_hh]),
    )


def _rnn_outputs(W_ih, W_hh, b_ih, b_hh, x, h0):
    return _cell(RNNCell, W_ih, W_hh, b_ih, b_hh).forward(x, h0)[0]


def _gru_pinned_outputs(W_ih, W_hh, b_ih, b_hh, x, h0, z, r):
    """Outputs of the GRU whose n block is the RNN and whose gates are pinned to z and r."""
    from rnnbook.cells import pin_gates

    gru = _cell(GRUCell, *_rnn_to_gru(W_ih, W_hh, b_ih, b_hh))
    return pin_gates(gru, z=z, r=r).forward(x, h0)[0]


def check_rnn_to_gru(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check a GRU built to compute a given tanh RNN exactly (the limit z = 0, r = 1).

    The student writes ``fn(W_ih, W_hh, b_ih, b_hh) -> (W_ih_gru, W_hh_gru, b_ih_gru,
    b_hh_gru)``: from an :class:`rnnbook.cells.RNNCell`'s weights (``W_ih`` (H, I), ``W_hh``
    (H, H), ``b_ih``, ``b_hh`` (H,)), the weights of a :class:`rnnbook.cells.GRUCell`
    (reset "after", PyTorch's layout, blocks r, z, n: shapes (3H, I), (3H, H), (3H,), (3H,))
    whose outputs equal the RNN's on any input sequence and initial state, to within 1e-6.
    Many answers are right (any large bias pins a gate); the check runs both networks on
    seeded sequences and compares the outputs.
    """
    name = getattr(fn, "__name__", "your function")
    cases = []
    for seed, (_, I, H) in enumerate(_SIZES):
        p = RNNCell(I, H, seed=seed).params
        case = {"W_ih": p["weight_ih"], "W_hh": p["weight_hh"]}
        case.update(b_ih=p["bias_ih"], b_hh=p["bias_hh"])
        cases.append(case)
    # 1. the returned weights: a 4-tuple of arrays of the right shapes (values not compared)
    shapes = check_function(
        fn,
        _rnn_to_gru,
        cases,
        outputs=_GRU_PARAMS_OUTPUT,
        against="",
        time_limit=time_limit,
        atol=np.inf,
    )
    if not shapes.ok:
        return shapes

    # 2. the GRU they make, run over sequences, against the RNN
    def gru_outputs(W_ih, W_hh, b_ih, b_hh, x, h0):
        weights = fn(W_ih, W_hh, b_ih, b_hh)
        return _cell(GRUCell, *(np.asarray(w, dtype=float) for w in weights)).forward(x, h0)[0]

    gru_outputs.__name__ = name
    runs = []
    for seed, case in enumerate(cases):
        rng = np.random.default_rng(100 + seed)
        H, I = case["W_ih"].shape
        x = rng.normal(size=(5, 2, I))
        runs.append({**case, "x": x, "h0": rng.uniform(-1, 1, size=(2, H))})
    pinned = {
        (1.0, 1.0): "Your GRU keeps its state (z = 1): with PyTorch's convention "
        "h_t = z * h_{t-1} + (1 - z) * h~_t, the update gate must be 0 to take the candidate. "
        "Make z's bias large and negative.",
        (0.0, 0.0): "Your reset gate is closed (r = 0): the candidate ignores h_{t-1}. "
        "Make r's bias large and positive so that r = 1.",
        (0.5, 1.0): "Your update gate is about 0.5 (zero weights, zero bias): pin it to 0 "
        "with a large negative bias, e.g. -40.",
    }
    mistakes = [
        (lambda z=z, r=r, **c: _gru_pinned_outputs(**c, z=z, r=r), hint)
        for (z, r), hint in pinned.items()
    ]
    return check_function(
        gru_outputs,
        _rnn_outputs,
        runs,
        outputs={"outputs of your GRU": "(T, B, H)"},
        against="rnnbook.cells.RNNCell with the same weights, run over 5 steps",
        hint="Which block of the GRU computes the naive RNN's step once the reset gate is open? "
        "The two gates can then be pinned by their biases alone: which values must r and z "
        "take? A bias of 8 is not enough: sigmoid(-8) is still 3e-4, and the outputs must "
        "agree to within 1e-6.",
        mistakes=mistakes,
        time_limit=time_limit,
        atol=1e-6,
    )


# ----------------------------------------------------------------------------------------------
# Chapter 10: comparing at equal parameter counts
# ----------------------------------------------------------------------------------------------

_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}


def _model_count(cell, hidden_size, input_size, output_size, biases=2, readout=True):
    G, H, I, O = _BLOCKS[cell], hidden_size, input_size, output_size
    return G * (H * I + H * H + biases * H) + (O * H + O if readout else 0)


def _matched_hidden_size(cell, budget, input_size, output_size, **count):
    H = 0
    while _model_count(cell, H + 1, input_size, output_size, **count) <= budget:
        H += 1
    return H


def check_matched_hidden_size(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the largest hidden size that fits a parameter budget (chapter 10).

    The student writes ``fn(cell, budget, input_size, output_size) -> int``: the largest
    hidden size H for which the model of :class:`rnnbook.models.SequenceRegressor` (one
    ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` layer with PyTorch's two bias vectors, then a linear
    readout) has at most ``budget`` trainable parameters,
    ``G * (H*I + H*H + 2*H) + O*H + O`` with G = 1, 4, 3 for "rnn", "lstm", "gru"
    (0 if not even H = 1 fits).
    """
    cases = [
        {"cell": c, "budget": b, "input_size": i, "output_size": o}
        for c, b, i, o in [
            ("gru", 4641, 2, 1),
            ("rnn", 4641, 2, 1),
            ("lstm", 4641, 2, 1),
            ("lstm", 20000, 10, 10),
            ("gru", 50, 3, 2),
            ("rnn", 3, 1, 1),
        ]
    ]
    mistakes = [
        (
            lambda cell, budget, input_size, output_size: _matched_hidden_size(
                cell, budget, input_size, output_size, readout=False
            ),
            "Count the readout too: O*H weights and O biases belong to the model.",
        ),
        (
            lambda cell, budget, input_size, output_size: _matched_hidden_size(
                cell, budget, input_size, output_size, biases=1
            ),
            "PyTorch keeps two bias vectors per block, b_ih and b_hh: count both.",
        ),
        (
            lambda cell, budget, input_size, output_size: (
                _matched_hidden_size(cell, budget, input_size, output_size) + 1
            ),
            "One too many: the count of your H exceeds the budget. Return the largest H whose "
            "count is at most the budget.",
        ),
    ]
    return check_function(
        fn,
        _matched_hidden_size,
        cases,
        outputs={"H": "an int"},
        against="counting the parameters of rnnbook.models.SequenceRegressor",
        hint="Write the model's parameter count as a function of H (each block of the "
        "recurrent layer with PyTorch's two biases, then the readout), and look for the "
        "largest H whose count still fits.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


def check_copy_baseline(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the memoryless baseline of the copy task (chapter 10).

    The student writes ``fn(T, n_symbols, length) -> float``: the cross-entropy (natural log),
    averaged over all ``T + 2 * length`` steps, of a model that has learnt the schedule but
    remembers no symbol: certain blanks until the answer starts, then a uniform guess over the
    ``n_symbols`` symbols for each of the ``length`` answer steps. The reference is
    :func:`rnnbook.tasks.copy_baseline_ce`, ``length * log(n_symbols) / (T + 2 * length)``.
    """
    cases = [
        {"T": T, "n_symbols": n, "length": k}
        for T, n, k in [(100, 8, 10), (20, 8, 10), (20, 8, 3), (1, 2, 1), (500, 26, 5)]
    ]
    mistakes = [
        (
            lambda T, n_symbols, length: float(np.log(n_symbols)),
            "That is the loss of one answer step. The task's loss is averaged over every step, "
            "and all the blank steps before the answer cost nothing.",
        ),
        (
            lambda T, n_symbols, length: length * float(np.log(n_symbols)) / T,
            "Count every step of the sequence: T + 2 * length of them, not T.",
        ),
        (
            lambda T, n_symbols, length: length * float(np.log(n_symbols + 2)) / (T + 2 * length),
            "The guess is over the symbols only: a model that knows the schedule never predicts "
            "the blank or the delimiter on an answer step.",
        ),
    ]
    return check_function(
        fn,
        tasks.copy_baseline_ce,
        cases,
        outputs={"baseline": "a number"},
        against="rnnbook.tasks.copy_baseline_ce",
        hint="Which steps can a model without memory predict with certainty, and what is the "
        "best it can do on the others? Then average over every step of the sequence.",
        mistakes=mistakes,
        time_limit=time_limit,
    )
