"""The grading engine: a friendly verdict on a student's function.

:func:`check_function` calls the student's function on a few seeded inputs, compares what
comes back with a reference (the library's own implementation), and returns a
:class:`Verdict`: correct, or what was expected, what came back, for which input, and a hint.
It never raises because of the student's code: an exception, a loop that does not end (a
time limit, 5 s by default), a wrong type or shape, NaN and wrong values each get a plain
message, ``NotImplementedError`` (the state of an exercise not answered yet) gets its own,
and wrong values that equal what a known mistake returns get that mistake's hint.

The parts, in the order a check uses them:

* :class:`Verdict` and its ``assert_ok()`` (listeners in ``_listeners``: :mod:`rnnbook.checker`
  collects the verdicts there);
* ``_call``: the student's function under a time limit (an alarm in the main thread, a daemon
  thread elsewhere), every exception caught;
* ``_compare``: one result (a value, a tuple or a dict) against the reference's, in words;
* ``_diagnose``: which known mistake, if any, gave the wrong values;
* the inputs: :func:`seeded_cases` (one seeded generator a case), :func:`step_cases` and
  :func:`cell_with` (one step of a cell with a library cell's weights).

The checks themselves live in one module a chapter or topic, listed in :mod:`rnnbook.exercises`.
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

__all__ = [
    "ATOL",
    "STEP_SIZES",
    "RTOL",
    "TIME_LIMIT",
    "Verdict",
    "cell_with",
    "check_function",
    "seeded_cases",
    "step_cases",
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
# Test inputs
# ----------------------------------------------------------------------------------------------


def seeded_cases(
    build: Callable[..., dict[str, Any]], sizes: Sequence[tuple], *, seed: int = 0
) -> list[dict[str, Any]]:
    """One test case an entry of ``sizes``: ``build(rng, *size)``, each with its own generator.

    Case ``n`` draws from ``np.random.default_rng(seed + n)``, so adding a size at the end
    leaves the earlier cases unchanged. ``build`` returns the case: an ordered dict
    argument name -> value, in the order of the student's function's arguments.
    """
    return [build(np.random.default_rng(seed + n), *size) for n, size in enumerate(sizes)]


STEP_SIZES = [(1, 2, 3), (2, 3, 4), (3, 4, 2)]  # (B, I, H): I != H so a transpose cannot pass


def step_cases(cell_class: type, with_c: bool = False) -> list[dict[str, np.ndarray]]:
    """Seeded inputs for one step: ``x`` (B, I), ``h`` (and ``c``) (B, H), and the weights
    ``W_ih``, ``W_hh``, ``b_ih``, ``b_hh`` of a freshly initialised ``cell_class(I, H)``."""
    names = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}

    def build(rng, B, I, H, seed):
        p = cell_class(I, H, seed=seed).params
        case = {"x": rng.normal(size=(B, I)), "h": rng.uniform(-1, 1, size=(B, H))}
        if with_c:
            case["c"] = rng.normal(size=(B, H))
        return case | {short: p[long] for short, long in names.items()}

    return seeded_cases(build, [(*size, seed) for seed, size in enumerate(STEP_SIZES)])


def cell_with(cell_class: type, W_ih, W_hh, b_ih, b_hh, **options):
    """A ``cell_class`` (a cell of :mod:`rnnbook.cells`) holding the given weights."""
    cell = cell_class(W_ih.shape[1], W_hh.shape[1], **options)
    cell.params = {"weight_ih": W_ih, "weight_hh": W_hh, "bias_ih": b_ih, "bias_hh": b_hh}
    return cell
