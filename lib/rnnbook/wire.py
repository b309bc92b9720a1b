"""Values sent between the grader and the sandboxed process that runs a student's code.

The grader (:mod:`rnnbook.checker`) calls a student's function in another process
(:mod:`rnnbook.worker`) and compares what comes back with the library's answer. What comes
back was produced by student code, so it is read with a decoder that can build nothing but
plain data: ``None``, booleans, numbers, strings, tuples, lists, dicts and NumPy arrays or
scalars of numeric dtypes (plus PyTorch tensors when the grader has imported torch). Anything
else arrives as a :class:`Foreign` stand-in that only knows its type's name and its ``repr``,
enough for a verdict to say "your function returned a torch.Tensor".

One message is one line of JSON::

    line = dumps(value)            # bytes ending in b"\\n"
    value = loads(line)            # never runs code, never unpickles

Arguments travel the other way, from the grader to the sandbox, where running code is no
danger: ``dumps(value, allow_pickle=True)`` pickles what JSON cannot hold, and
``loads(line, allow_pickle=True)`` (only ever called in the sandbox) reads it.
"""

from __future__ import annotations

import base64
import json
import math
import pickle
import re
import sys
from typing import Any

import numpy as np

__all__ = ["Foreign", "MAX_BYTES", "decode", "dumps", "encode", "loads"]

MAX_BYTES = 64 * 2**20  # the largest message either side reads
MAX_DEPTH = 32
_DTYPE = re.compile(r"^[<>|=]?[biufc][1-9][0-9]?$")  # numeric dtypes only: never "O"


class Foreign:
    """A value that cannot cross safely, described by its type and a short ``repr``.

    ``type(stand_in).__module__`` and ``__name__`` are those of the original type, so the
    checks' messages ("a torch.Tensor (...)") read as they would on the value itself.
    """

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


def _foreign(module: str, name: str, text: str) -> Foreign:
    cls = type(str(name)[:80] or "object", (Foreign,), {"__module__": str(module)[:80]})
    return cls(str(text)[:200])


def _array(value: np.ndarray) -> dict:
    value = np.ascontiguousarray(value)
    return {
        "$nd": value.dtype.str,
        "shape": list(value.shape),
        "b64": base64.b64encode(value.tobytes()).decode("ascii"),
    }


def _encode(value: Any, allow_pickle: bool, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError("the value is nested too deeply")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int) and type(value) in (int, bool):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufc" and not value.dtype.fields:
        return _array(np.asarray(value))
    if isinstance(value, np.generic) and np.dtype(type(value)).kind in "biufc":
        return {"$np": _array(np.asarray(value))}
    if type(value).__module__.startswith("torch") and type(value).__name__ == "Tensor":
        try:
            return {"$pt": _array(value.detach().cpu().numpy())}
        except Exception:  # a tensor that NumPy cannot hold (e.g. bfloat16): described only
            pass
    if type(value) is tuple:
        return {"$t": [_encode(v, allow_pickle, depth + 1) for v in value]}
    if type(value) is list:
        return {"$l": [_encode(v, allow_pickle, depth + 1) for v in value]}
    if type(value) is dict:
        return {
            "$d": [
                [_encode(k, allow_pickle, depth + 1), _encode(v, allow_pickle, depth + 1)]
                for k, v in value.items()
            ]
        }
    if allow_pickle:
        return {"$pk": base64.b64encode(pickle.dumps(value)).decode("ascii")}
    kind = type(value)
    try:
        text = repr(value)
    except Exception:
        text = f"<{kind.__name__}>"
    return {"$f": [kind.__module__, kind.__name__, text[:200]]}


def encode(value: Any, *, allow_pickle: bool = False) -> Any:
    """``value`` as plain JSON data (dicts, lists, strings, numbers), for :func:`decode`.

    Raises ``ValueError`` for a value nested more than :data:`MAX_DEPTH` deep.
    """
    try:
        return _encode(value, allow_pickle, 0)
    except RecursionError:
        raise ValueError("the value is nested too deeply") from None


def decode(obj: Any, *, allow_pickle: bool = False) -> Any:
    """The value that :func:`encode` turned into ``obj``; ``ValueError`` if it is not one."""
    try:
        return _decode(obj, allow_pickle, 0)
    except RecursionError:
        raise ValueError("the value is nested too deeply") from None


def dumps(value: Any, *, allow_pickle: bool = False) -> bytes:
    """One line of JSON (ending in a newline) that :func:`loads` turns back into ``value``."""
    text = json.dumps(encode(value, allow_pickle=allow_pickle), separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


def _decode_array(spec: Any) -> np.ndarray:
    if not isinstance(spec, dict) or set(spec) != {"$nd", "shape", "b64"}:
        raise ValueError("malformed array")
    dtype = spec["$nd"]
    if not isinstance(dtype, str) or not _DTYPE.match(dtype):
        raise ValueError(f"unsupported dtype {dtype!r}")
    dtype = np.dtype(dtype)
    shape = spec["shape"]
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError("malformed shape")
    if len(shape) > 32:
        raise ValueError("too many dimensions")
    data = base64.b64decode(spec["b64"], validate=True)
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise ValueError("the array's data does not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _decode(obj: Any, allow_pickle: bool, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError("the value is nested too deeply")
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if not isinstance(obj, dict) or len(obj) == 0:
        raise ValueError("malformed value")
    tag = next(iter(obj))
    if tag == "$nd":
        return _decode_array(obj)
    if len(obj) != 1:
        raise ValueError("malformed value")
    body = obj[tag]
    if tag == "$float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "$np":
        return _decode_array(body).reshape(())[()]
    if tag == "$pt":
        array = _decode_array(body)
        torch = sys.modules.get("torch")  # a tensor only where torch is loaded already
        if torch is not None:
            return torch.from_numpy(array)
        return _foreign("torch", "Tensor", f"tensor of shape {tuple(array.shape)}")
    if tag in ("$t", "$l") and isinstance(body, list):
        items = [_decode(v, allow_pickle, depth + 1) for v in body]
        return tuple(items) if tag == "$t" else items
    if tag == "$d" and isinstance(body, list):
        out = {}
        for pair in body:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("malformed dict")
            key = _decode(pair[0], allow_pickle, depth + 1)
            if not isinstance(key, str | int | float | bool | tuple | type(None)):
                raise ValueError("unhashable dict key")
            out[key] = _decode(pair[1], allow_pickle, depth + 1)
        return out
    if tag == "$f" and isinstance(body, list) and len(body) == 3:
        return _foreign(*(str(part) for part in body))
    if tag == "$pk" and allow_pickle and isinstance(body, str):
        return pickle.loads(base64.b64decode(body))
    raise ValueError(f"unknown tag {tag!r}")


def loads(line: bytes, *, allow_pickle: bool = False) -> Any:
    """The value of one line written by :func:`dumps`.

    Raises ``ValueError`` for anything that is not such a line (or longer than
    :data:`MAX_BYTES`). With ``allow_pickle=False`` (the default, and the only way the grader
    reads what a sandbox sent) it builds plain data only.
    """
    if len(line) > MAX_BYTES:
        raise ValueError("the message is too long")
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"not a message: {e}") from None
    except RecursionError:
        raise ValueError("the value is nested too deeply") from None
    return decode(obj, allow_pickle=allow_pickle)
