"""The process that runs a submission's solution cells for grading (inside the sandbox).

:mod:`rnnbook.checker` starts ``python -I -m rnnbook.worker`` under :func:`rnnbook.sandbox.command`
and talks to it over its standard input and output, one JSON line per message each way:

``{"op": "exec", "name": ..., "source": ...}``
    run a cell's source in the worker's namespace; reply ``{"ok": true}`` or
    ``{"ok": false, "error": {...}}``
``{"op": "lookup", "names": [...]}``
    reply ``{"found": {name: "callable" | "missing" | {"value": ...}}}``
``{"op": "call", "name": ..., "args": ...}``
    call a function of the namespace; reply ``{"ok": true, "value": ...}`` or an error

Values are encoded by :mod:`rnnbook.wire`. An error is ``{"type", "message", "where"}``:
the exception's class name, its text, and the line of the student's cell it came from. Every
exception of the student's code is caught, ``SystemExit`` and ``BaseException`` included;
what the code prints, and its warnings, go to ``/dev/null``. The worker trusts nothing it
runs and is trusted by no one: the checker reads its replies with :func:`rnnbook.wire.decode`.
"""

from __future__ import annotations

import json
import linecache
import os
import sys
import traceback
from typing import Any

from rnnbook import wire

__all__ = ["main"]

CELL_PREFIX = "<cell "  # the file name of a cell's code is "<cell ex-01-rnn-step-code>"
MAX_TEXT = 2000


class _NoIPython:
    """What ``get_ipython()`` returns here: magics and shell commands do nothing."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def _no_display(*args: Any, **kwargs: Any) -> None:
    """``display`` outside a notebook: shows nothing."""


def _transform(source: str) -> str:
    """The Python of a cell: IPython's magics and ``!commands`` become calls of get_ipython()."""
    lines = source.lstrip().splitlines()
    if not any(line.lstrip().startswith(("%", "!")) for line in lines):
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def error_info(error: BaseException) -> dict[str, str]:
    """The class name, text and place (in a cell's code) of an exception."""
    where = ""
    mine = [
        f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(CELL_PREFIX)
    ]
    if isinstance(error, SyntaxError) and (error.filename or "").startswith(CELL_PREFIX):
        where = f"line {error.lineno} (`{(error.text or '').strip()}`)"
    elif mine:
        f = mine[-1]
        where = f"line {f.lineno}" if f.name == "<module>" else f"{f.name}, line {f.lineno}"
        where += f" (`{f.line.strip()}`)" if f.line else ""
    try:
        message = str(error)
    except Exception:
        message = "<the exception's text could not be read>"
    return {"type": type(error).__name__, "message": message[:MAX_TEXT], "where": where}


def run_cell(name: str, source: str, namespace: dict) -> dict:
    """Execute one cell's code in ``namespace``; the reply to an ``exec`` request."""
    filename = f"{CELL_PREFIX}{name}>"
    try:
        code_text = _transform(source)
        linecache.cache[filename] = (len(code_text), None, code_text.splitlines(True), filename)
        exec(compile(code_text, filename, "exec"), namespace)
    except BaseException as e:  # SystemExit, KeyboardInterrupt and the rest: all a verdict
        return {"ok": False, "error": error_info(e)}
    return {"ok": True}


def lookup(names: list[str], namespace: dict) -> dict:
    """What each name is in ``namespace``: a callable, a value, or missing."""
    found: dict[str, Any] = {}
    for name in names:
        if name not in namespace:
            found[name] = "missing"
        elif callable(namespace[name]):
            found[name] = "callable"
        else:
            found[name] = {"value": wire.encode(namespace[name])}
    return {"found": found}


def call(name: str, args: Any, namespace: dict) -> dict:
    """Call ``namespace[name](*args, **kwargs)``; the reply to a ``call`` request."""
    try:
        args, kwargs = wire.decode(args, allow_pickle=True)  # from the checker: trusted
        value = namespace[name](*args, **kwargs)
    except BaseException as e:
        return {"ok": False, "error": error_info(e)}
    try:
        return {"ok": True, "value": wire.encode(value)}
    except BaseException as e:
        message = f"the grader cannot read what the function returned: {e}"
        return {"ok": False, "error": {"type": "TypeError", "message": message, "where": ""}}


def _handle(request: Any, namespace: dict) -> dict:
    op = request.get("op") if isinstance(request, dict) else None
    if op == "exec":
        return run_cell(str(request["name"]), str(request["source"]), namespace)
    if op == "lookup":
        return lookup([str(n) for n in request["names"]], namespace)
    if op == "call":
        return call(str(request["name"]), request["args"], namespace)
    return {
        "ok": False,
        "error": {"type": "ValueError", "message": f"bad request {op!r}", "where": ""},
    }


def main() -> int:
    """Serve requests on stdin until it closes; everything else goes to /dev/null."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    sys.stdin = open(os.devnull)  # noqa: SIM115 (for the life of the process)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    namespace: dict = {"__name__": "__main__", "display": _no_display}
    namespace["get_ipython"] = _NoIPython
    while True:
        line = requests.readline(wire.MAX_BYTES + 1)
        if not line:
            return 0
        try:
            reply = _handle(json.loads(line), namespace)
        except Exception as e:
            error = {"type": "ValueError", "message": f"bad request: {e}", "where": ""}
            reply = {"ok": False, "error": error}
        replies.write(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
        replies.flush()


if __name__ == "__main__":
    sys.exit(main())
