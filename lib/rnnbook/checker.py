"""Points awarded in a fresh process, on the functions a student submitted.

In the kernel that nbgrader runs a submission in, any cell can change what a test cell
reports: patch ``Verdict.assert_ok``, rebind ``exercises``, patch ``np.abs``, read the
checker's expected values off the call stack. So the points do not come from there.
:class:`rnnbook.autograde.AwardPoints` starts ``python -m rnnbook.checker``, a new process
that runs only the instructor's code, and sends it a job (JSON on stdin):

``context``
    the source notebook's code cells that are not exercises (the instructor's);
``solutions``
    for each solution cell, its ``id``, the student's ``source`` and the instructor's
    ``template``;
``tests``
    each graded test cell's ``id`` and ``source`` (the instructor's);
``limits``, ``cell_timeout``
    the :class:`rnnbook.sandbox.Limits` of the worker and the seconds a cell may run.

The checker runs the context the tests need and then each test cell, in which every name a
solution cell defines is a **proxy**: calling it sends the arguments to a :class:`Worker`, a
sandboxed :mod:`rnnbook.worker` process that has run the student's solution cells (and the
context they need) and nothing else, and returns what the student's function returned, read
by :func:`rnnbook.wire.decode` (plain data only). A worker that dies or hangs is killed and
started again; its error becomes the student's exception, so the check's verdict says why.
The reply (JSON on stdout) gives, for each test cell, whether it passed and its outputs.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import select
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from rnnbook import grading, sandbox, wire
from rnnbook.slicing import bound_names, context_for, free_names, python_source

__all__ = ["ProcessEnded", "StudentError", "Worker", "grade", "main"]

LOOKUP_TIMEOUT = 30.0  # seconds for the worker to start and answer a lookup
CALL_TIMEOUT = 60.0  # a call outside a check's own time limit (e.g. a print in a test cell)


class StudentError(Exception):
    """An exception raised by the student's code in the worker, rebuilt here by name."""

    _rnnbook_where = ""  # the student's line, for rnnbook.grading's verdicts


class ProcessEnded(StudentError):
    """The worker ended while running the student's code."""


class TimeLimit(StudentError):
    """The student's code did not return in time."""


class _WorkerGone(Exception):
    pass


def _rebuild(error: Any) -> Exception:
    """The exception described by a worker's error (a builtin class when there is one)."""
    if not isinstance(error, dict):
        error = {}
    name = str(error.get("type", "Error"))[:100] or "Error"
    message = str(error.get("message", ""))[:2000]
    cls = getattr(builtins, name, None)
    rebuilt = None
    if isinstance(cls, type) and issubclass(cls, Exception):
        with contextlib.suppress(Exception):
            rebuilt = cls(message)
    if rebuilt is None:  # SystemExit, KeyboardInterrupt, a class of the student's
        rebuilt = type(name, (StudentError,), {})(message)
    rebuilt._rnnbook_where = str(error.get("where", ""))[:500]
    return rebuilt


class Worker:
    """A sandboxed :mod:`rnnbook.worker` that has run a submission's solution cells.

    Parameters
    ----------
    context : the instructor's code the solution cells need, run first
    cells : (name, source) of each solution cell, run in order; a cell that raises is
        recorded in :attr:`failed` and the next one runs; a cell that ends the process or
        runs longer than ``cell_timeout`` is left out when the worker starts again
    limits : the sandbox's :class:`rnnbook.sandbox.Limits`
    """

    def __init__(
        self,
        context: str,
        cells: list[tuple[str, str]],
        *,
        limits: sandbox.Limits | None = None,
        cell_timeout: float = 30.0,
    ) -> None:
        self.context, self.cells = context, cells
        self.limits, self.cell_timeout = limits or sandbox.Limits(), cell_timeout
        self.failed: dict[str, dict] = {}  # cell name -> error
        self.context_error: dict | None = None
        self._left_out: set[str] = set()
        self._broken = ""  # why the worker cannot start, if it cannot
        self._proc: subprocess.Popen | None = None
        self._buffer = b""

    # -- the process ----------------------------------------------------------------------

    def _spawn(self) -> None:
        argv = sandbox.command([sys.executable, "-I", "-m", "rnnbook.worker"], limits=self.limits)
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._buffer = b""

    def kill(self) -> None:
        """End the worker (its sandbox goes with it)."""
        if self._proc is not None:
            with contextlib.suppress(OSError):
                self._proc.kill()
            with contextlib.suppress(Exception):
                self._proc.wait(timeout=10)
            for stream in (self._proc.stdin, self._proc.stdout):
                with contextlib.suppress(Exception):
                    stream.close()
        self._proc = None

    def _readline(self, timeout: float) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        fd, deadline = self._proc.stdout.fileno(), time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if len(self._buffer) > wire.MAX_BYTES:
                raise _WorkerGone("the reply is too long")
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise _WorkerGone("the process ended")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _request(self, message: dict, timeout: float) -> dict:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(message).encode() + b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _WorkerGone("the process ended") from None
        line = self._readline(timeout)
        try:
            reply = json.loads(line)
        except (ValueError, RecursionError):
            raise _WorkerGone("it sent something that is not a reply") from None
        if not isinstance(reply, dict):
            raise _WorkerGone("it sent something that is not a reply")
        return reply

    def start(self) -> None:
        """Start the worker and run the context and the solution cells (again)."""
        self.kill()
        self._spawn()
        try:
            reply = self._request(
                {"op": "exec", "name": "context", "source": self.context}, LOOKUP_TIMEOUT
            )
        except (TimeoutError, _WorkerGone) as e:
            self.kill()
            self._broken = f"the grader's worker did not start ({e or 'time limit'})"
            self.context_error = {"type": "RuntimeError", "message": self._broken}
            return
        if not reply.get("ok"):
            self.context_error = reply.get("error") or {}
        for name, source in self.cells:
            if name in self._left_out:
                continue
            try:
                reply = self._request(
                    {"op": "exec", "name": name, "source": source}, self.cell_timeout
                )
            except (TimeoutError, _WorkerGone) as e:
                timed_out = isinstance(e, TimeoutError)
                message = (
                    f"the cell did not finish within {self.cell_timeout:g} s"
                    if timed_out
                    else "running the cell ended the Python process"
                )
                self.failed[name] = {"type": "TimeLimit" if timed_out else "ProcessEnded"}
                self.failed[name]["message"] = message
                self._left_out.add(name)
                return self.start()  # without it
            if not reply.get("ok"):
                self.failed[name] = reply.get("error") or {}

    def _ready(self) -> bool:
        """Whether the worker runs (started again if it ended); False if it cannot start."""
        if self._proc is None or self._proc.poll() is not None:
            if not self._broken:
                self.start()
        return not self._broken and self._proc is not None

    def lookup(self, names: list[str]) -> dict[str, Any]:
        """name -> "callable", "missing" or the decoded value, in the worker's namespace."""
        if not self._ready():
            return dict.fromkeys(names, "missing")
        try:
            found = self._request({"op": "lookup", "names": names}, LOOKUP_TIMEOUT).get("found")
        except (TimeoutError, _WorkerGone):
            self.kill()
            return dict.fromkeys(names, "missing")
        out: dict[str, Any] = {}
        for name in names:
            entry = found.get(name) if isinstance(found, dict) else None
            if entry in ("callable", "missing"):
                out[name] = entry
            elif isinstance(entry, dict) and "value" in entry:
                try:
                    out[name] = ("value", wire.decode(entry["value"]))
                except ValueError:
                    out[name] = "missing"
            else:
                out[name] = "missing"
        return out

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        """``name(*args, **kwargs)`` in the worker: its value, or its exception raised here."""
        if not self._ready():
            raise ProcessEnded(self._broken)
        try:
            payload = wire.encode((list(args), kwargs), allow_pickle=True)
            reply = self._request({"op": "call", "name": name, "args": payload}, CALL_TIMEOUT)
        except TimeoutError:
            self.kill()
            raise TimeLimit(f"your function did not return within {CALL_TIMEOUT:g} s") from None
        except _WorkerGone as e:
            self.kill()
            why = "" if str(e) == "the process ended" else f" ({e})"
            raise ProcessEnded(
                f"the Python process running your function ended{why}: os._exit(), a crash, "
                f"or more memory than the limit of {self.limits.memory_mb} MiB"
            ) from None
        except BaseException:  # the check's own time limit: the function is still running
            self.kill()
            raise
        if reply.get("ok"):
            try:
                return wire.decode(reply.get("value"))
            except ValueError as e:
                message = f"the grader cannot read what your function returned: {e}"
                raise StudentError(message) from None
        raise _rebuild(reply.get("error"))


def proxy(worker: Worker, name: str) -> Callable:
    """A function that calls ``name`` in the worker, named like the student's."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return worker.call(name, args, kwargs)

    call.__name__ = call.__qualname__ = name
    return call


# ----------------------------------------------------------------------------------------------
# Running the test cells
# ----------------------------------------------------------------------------------------------


def _error_output(lines: list[str]) -> dict:
    text = "\n".join(lines)
    return {"output_type": "error", "ename": "AssertionError", "evalue": text, "traceback": [text]}


def _verdict_output(verdict: grading.Verdict) -> dict:
    data = {"text/plain": str(verdict), "text/markdown": verdict._repr_markdown_()}
    return {"output_type": "display_data", "data": data, "metadata": {}}


def run_test(test_id: str, source: str, namespace: dict, notes: list[str]) -> dict:
    """Run one test cell in ``namespace``: ``{"passed": bool, "outputs": [...]}``.

    ``notes`` are added under a failure (why a function may be missing).
    """
    verdicts: list[grading.Verdict] = []
    grading._listeners.append(verdicts.append)
    printed = io.StringIO()
    error = None
    try:
        code = compile(python_source(source), f"<test cell {test_id}>", "exec")
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
            exec(code, namespace)
    except Exception as e:
        error = e
    finally:
        grading._listeners.remove(verdicts.append)
    outputs = []
    if error is None:
        outputs += [_verdict_output(v) for v in verdicts if v.ok]
    if printed.getvalue():
        text = printed.getvalue()[:20000]
        outputs.append({"output_type": "stream", "name": "stdout", "text": text})
    if error is None:
        return {"passed": True, "outputs": outputs}
    failing = [v for v in verdicts if not v.ok]
    if isinstance(error, AssertionError) and failing:
        lines = [str(failing[-1])]
    else:
        lines = [line.rstrip("\n") for line in traceback.format_exception_only(error)]
    outputs.append(_error_output(lines + notes))
    return {"passed": False, "outputs": outputs}


def _cell_error_note(cell: str, error: dict) -> str:
    where = f" ({error['where']})" if error.get("where") else ""
    return f"Your cell {cell} raised {error.get('type')}: {error.get('message')}{where}"


def grade(job: dict) -> dict:
    """Run the test cells of ``job`` (see the module's docstring); the result for each."""
    limits = sandbox.Limits(**job.get("limits", {}))
    solutions, tests = job["solutions"], job["tests"]
    templates = [s["template"] for s in solutions]
    answers = [s["source"] for s in solutions]
    theirs = set().union(set(), *(bound_names(t) for t in templates))
    sources = [t["source"] for t in tests]
    proxied = sorted(theirs & set().union(set(), *(free_names(s) for s in sources)))

    namespace: dict = {"__name__": "__main__"}
    here = context_for(job["context"], sources, provided=set(proxied))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(here, "<context>", "exec"), namespace)
    except Exception as e:
        message = f"The assignment's own code failed in the grader: {type(e).__name__}: {e}"
        return {"tests": {t["id"]: _failed([message]) for t in tests}}

    needed = context_for(job["context"], templates + answers, provided=theirs)
    worker = Worker(
        needed,
        [(s["id"], s["source"]) for s in solutions],
        limits=limits,
        cell_timeout=float(job.get("cell_timeout", 30)),
    )
    try:
        worker.start()
        found = worker.lookup(proxied) if proxied else {}
        missing = []
        for name in proxied:
            namespace.pop(name, None)  # never the chapter's own version of the function
            if found[name] == "callable":
                namespace[name] = proxy(worker, name)
            elif isinstance(found[name], tuple):
                namespace[name] = found[name][1]
            else:
                missing.append(name)
        results = {}
        for test in tests:
            notes = []
            for name in sorted(set(missing) & free_names(test["source"])):
                notes.append(
                    f"{name} is not defined when your answer cells run on their own, in a "
                    "fresh Python process (as the grader runs them)."
                )
            if notes or worker.context_error:
                notes += [_cell_error_note(c, e) for c, e in worker.failed.items()]
            results[test["id"]] = run_test(test["id"], test["source"], namespace, notes)
    finally:
        worker.kill()
    return {"tests": results}


def _failed(lines: list[str]) -> dict:
    return {"passed": False, "outputs": [_error_output(lines)]}


def main() -> int:
    """Read a job on stdin, write the result on stdout (nothing else goes there)."""
    out = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    job = json.load(sys.stdin)
    result = grade(job)
    out.write(json.dumps(result) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
