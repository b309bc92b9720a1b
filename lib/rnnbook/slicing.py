"""Which statements of a notebook some cells need: names read, names bound, backward slices.

An assignment carries only the part of a chapter its exercises use, and the grader's fresh
processes run only the part of that the test cells, or the solution cells, use. Both are
backward slices over top-level statements (:func:`slice_statements`): a statement is kept
when a later cell, or a kept statement, reads a name it binds or updates. Names come from
:mod:`symtable` (what a cell reads and binds at module level, and the globals its functions
read) and :mod:`ast` (what it updates in place). IPython's magics are turned into Python
first. Nothing here imports a notebook library: the grader's processes start fast.
"""

from __future__ import annotations

import ast
import builtins
import re
import symtable
from dataclasses import dataclass

__all__ = [
    "Statement",
    "bound_names",
    "context_for",
    "free_names",
    "python_source",
    "slice_statements",
    "statements",
]

BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "get_ipython", "display"}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_FULL = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


# ----------------------------------------------------------------------------------------------


def python_source(source: str) -> str:
    """A cell's source as Python: IPython's ``%magics`` and ``!commands`` transformed."""
    if not re.search(r"^\s*[%!]", source, re.M):
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(python_source(source))
    except SyntaxError:
        return None


def _globals_read(table: symtable.SymbolTable) -> set[str]:
    """Names that the functions and classes nested in ``table`` read as globals."""
    names: set[str] = set()
    for child in table.get_children():
        for sym in child.get_symbols():
            if sym.is_referenced() and sym.is_global():
                names.add(sym.get_name())
        names |= _globals_read(child)
    return names


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names read at module level or as globals, names bound at module level) of code."""
    table = symtable.symtable(source, "<cell>", "exec")
    read, bound = set(), set()
    for sym in table.get_symbols():
        if sym.is_referenced():
            read.add(sym.get_name())
        if sym.is_assigned() or sym.is_imported():
            bound.add(sym.get_name())
    return read | _globals_read(table), bound


def _walk_outer(tree: ast.AST):
    """``ast.walk`` that stays out of the bodies of functions, classes and lambdas."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if node is not tree and isinstance(node, _SCOPES):
            continue
        todo.extend(ast.iter_child_nodes(node))


def _augmented(tree: ast.AST) -> set[str]:
    """Names a statement updates in place: ``x += 1``, ``x[i] = v``, ``x.a = v``, ``x.f()``."""
    roots = set()
    for node in _walk_outer(tree):
        targets: list[ast.AST] = []
        if isinstance(node, ast.AugAssign):
            targets = [node.target]
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            targets = [t for t in targets if isinstance(t, ast.Subscript | ast.Attribute)]
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            targets = [node.value.func] if isinstance(node.value.func, ast.Attribute) else []
        for target in targets:
            while isinstance(target, ast.Subscript | ast.Attribute):
                target = target.value
            if isinstance(target, ast.Name):
                roots.add(target.id)
    return roots


def free_names(source: str) -> set[str]:
    """Names that code reads without binding them itself (builtins left out).

    A name bound anywhere at the module level of ``source`` counts as its own (a loop
    variable, say), unless the code updates it in place (``x += 1``, ``x[0] = 1``).
    """
    code = python_source(source)
    try:
        read, bound = _names(code)
    except SyntaxError:
        return set()
    tree = ast.parse(code)
    return (read - bound | _augmented(tree)) - BUILTINS


def bound_names(source: str) -> set[str]:
    """Names that code binds at module level (assignments, imports, defs, loop targets)."""
    try:
        return _names(python_source(source))[1]
    except SyntaxError:
        return set()


@dataclass(frozen=True)
class Statement:
    """One top-level statement of a cell, and the names it binds, updates and reads."""

    source: str
    binds: frozenset[str]
    updates: frozenset[str]
    reads: frozenset[str]
    rebinds: bool  # binds its names whatever ran before (import, def, class, plain assignment)
    node: ast.stmt


def _segment(lines: list[str], code: str, node: ast.stmt) -> str:
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    end = node.end_lineno or node.lineno
    text = "\n".join(lines[start - 1 : end])
    if node.col_offset == 0 and len(ast.parse(text).body) == 1:
        return text
    return ast.get_source_segment(code, node) or ast.unparse(node)


def _reads(node: ast.stmt, text: str) -> set[str]:
    """The names a statement reads from before it runs."""
    read, bound = _names(text)
    if isinstance(node, ast.Import | ast.ImportFrom):
        return set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return read - bound  # the body's globals, decorators, defaults (not its own name)
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if all(isinstance(t, ast.Name) for t in targets):  # x = f(x) reads x from before
            return _names(f"__value__ = ({ast.unparse(node.value)})")[0] - {"__value__"}
    return read - bound | _augmented(node)


def _rebinds(node: ast.stmt) -> bool:
    if isinstance(node, _FULL):
        return True
    return isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets)


def statements(source: str) -> list[Statement]:
    """The top-level statements of a cell (none if the cell is not valid Python)."""
    code = python_source(source)
    tree = _parse(source)
    if tree is None:
        return []
    lines = code.splitlines()
    out = []
    for node in tree.body:
        text = _segment(lines, code, node)
        bound = _names(text)[1]
        updates = _augmented(node)
        reads = (_reads(node, text) | updates) - BUILTINS
        out.append(
            Statement(
                text, frozenset(bound), frozenset(updates), frozenset(reads), _rebinds(node), node
            )
        )
    return out


def _only(statement: Statement, names: set[str]) -> str:
    """An import statement cut down to the names wanted; any other statement as it is."""
    node = statement.node
    if not isinstance(node, ast.Import | ast.ImportFrom):
        return statement.source
    aliases = [a for a in node.names if (a.asname or a.name.split(".")[0]) in names]
    if len(aliases) == len(node.names):
        return statement.source
    if isinstance(node, ast.ImportFrom):
        return ast.unparse(ast.ImportFrom(node.module, aliases, node.level))
    return ast.unparse(ast.Import(aliases))


def slice_statements(cells: list[str], wanted: set[str]) -> list[str]:
    """The statements of ``cells`` (in order) needed to define the names ``wanted``.

    Going backwards, a statement is kept when it binds or updates a name still wanted; then
    what it reads is wanted too, and what it rebinds is no longer wanted from before it.
    Imports are cut down to the names wanted.
    """
    flat = [st for cell in cells for st in statements(cell)]
    needed, kept = set(wanted), []
    for st in reversed(flat):
        hit = (st.binds | st.updates) & needed
        if not hit:
            continue
        kept.append(
            _only(st, hit) if isinstance(st.node, ast.Import | ast.ImportFrom) else st.source
        )
        if isinstance(st.node, ast.Import | ast.ImportFrom):
            needed -= hit
        elif st.rebinds:
            needed -= st.binds
        needed |= st.reads
    return kept[::-1]


def _join(parts: list[str]) -> str:
    out, prev_block = "", False
    for part in parts:
        block = part.lstrip().startswith(("def ", "class ", "@", "async def "))
        if out:
            out += "\n\n\n" if block or prev_block else "\n"
        out += part
        prev_block = block
    return out


def context_for(context: list[str], users: list[str], provided: set[str] = frozenset()) -> str:
    """The code of ``context`` cells that the ``users`` cells need, as one cell's source.

    ``provided`` are names the users get elsewhere (e.g. the student's functions).
    """
    wanted = set().union(*(free_names(u) for u in users)) if users else set()
    return _join(slice_statements(context, wanted - set(provided)))
