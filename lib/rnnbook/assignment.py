"""An assignment from a chapter: its exercises, and only the code they need.

A chapter trains models for minutes; its exercises need a few imports and definitions. An
assignment (what ``rnnbook-course assign`` hands out) is one notebook with:

1. a title cell that tells the student how to work and hand in;
2. the chapter's setup cell (in Colab it installs rnnbook);
3. one **context** cell: the statements of the chapter that the exercises need, found by
   :func:`rnnbook.slicing.context_for` (a backward slice over top-level statements: an
   import or a definition is kept when an exercise, or a kept statement, reads a name it
   binds);
4. the exercise cells: every cell from the first ``{exercise}`` block on, with the book's
   MyST markup turned into plain notebook markdown (:func:`plain_markdown`).

Every cell but the solution cells is locked (nbgrader ``locked: true``), so grading restores
it from the instructor's copy. The same slicing tells the grader which statements of the
context its fresh processes must run.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import nbformat

from rnnbook.slicing import bound_names, context_for
from rnnbook.teaching import EXERCISE_BLOCK, is_solution_block, split_solution_blocks

__all__ = ["equations", "exercises_notebook", "plain_markdown"]

_GRADER_NOTE = (
    "When you hand in, the grader runs each answer cell again on its own, in a fresh Python "
    "process, after the locked cells above it: everything your function needs must be "
    "defined in its answer cell."
)


# ----------------------------------------------------------------------------------------------
# The book's MyST markup as plain notebook markdown
# ----------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^(`{3,}|:{3,})\{exercise\}[ \t]*(.*?)[ \t]*\n(.*?)^\1[ \t]*$", re.M | re.S)
_ROLE = re.compile(r"\{(\w+)\}`([^`]*)`")


_MATH_BLOCK = re.compile(r"^(`{3,}|:{3,})\{math\}[^\n]*\n(.*?)^\1[ \t]*$", re.M | re.S)
_DOLLAR_LABEL = re.compile(r"\$\$(.+?)\$\$\s*\(([\w-]+)\)", re.S)


def equations(texts: list[str]) -> dict[str, str]:
    """label -> LaTeX of every labelled equation in the markdown ``texts``."""
    found = {}
    for text in texts:
        for m in _MATH_BLOCK.finditer(text):
            label = re.search(r"^:label:\s*(\S+)", m.group(2), re.M)
            if label:
                found[label.group(1)] = re.sub(r"^:\w+:.*\n", "", m.group(2), flags=re.M).strip()
        for m in _DOLLAR_LABEL.finditer(text):
            found[m.group(2)] = m.group(1).strip()
    return found


def _role(match: re.Match, cited: list[str]) -> str:
    role, text = match.group(1), match.group(2)
    shown = re.match(r"^(.*?)\s*<([^>]*)>$", text)
    if shown and role in ("ref", "doc", "numref", "term"):
        return shown.group(1)
    if role == "eq":
        cited.append(text)
        return f"({text})"
    if role == "numref":
        return f"the chapter's figure `{text}`"
    if role == "ref":
        return f"the chapter's section `{text}`"
    if role == "doc":
        return f"the chapter `{text.rsplit('/', 1)[-1]}`"
    if role == "cite":
        return "(" + ", ".join(k.strip() for k in text.split(",")) + ")"
    return text


def plain_markdown(source: str, known: dict[str, str] | None = None) -> str:
    """Markdown of the book (MyST) as a notebook shows it.

    Exercise blocks become headed sections, ``(label)=`` targets and block options go, and
    roles become words; an equation cited with ``{eq}`` is written out under the text when
    ``known`` (label -> LaTeX, from :func:`equations`) has it.
    """

    def exercise(match: re.Match) -> str:
        body = re.sub(r"^:\w+:.*\n", "", match.group(3), flags=re.M).strip("\n")
        return f"### Exercise: {match.group(2)}\n\n{body}\n"

    cited: list[str] = []
    text = _FENCE.sub(exercise, source)
    text = re.sub(r"^\([\w-]+\)=[ \t]*\n", "", text, flags=re.M)
    text = _ROLE.sub(lambda m: _role(m, cited), text).strip() + "\n"
    shown = [label for label in dict.fromkeys(cited) if label in (known or {})]
    for label in shown:
        text += f"\n$$\n{known[label]}\n$$\n\n*({label}) in the chapter.*\n"
    return text


# ----------------------------------------------------------------------------------------------
# The assignment notebook
# ----------------------------------------------------------------------------------------------


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _locked(cell, grade_id: str):
    cell.metadata["nbgrader"] = {
        "grade": False,
        "grade_id": grade_id,
        "locked": True,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    return cell


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return "the chapter"


def exercises_notebook(path: str | Path) -> nbformat.NotebookNode:
    """The assignment of one chapter: title, setup, the context its exercises need, exercises.

    Parameters
    ----------
    path : a chapter notebook (``notebooks/01_naive_rnn.ipynb``)

    Returns
    -------
    the notebook, with solutions (nbgrader's ``generate_assignment`` removes them)
    """
    path = Path(path)
    chapter = nbformat.read(path, as_version=4)
    cells = chapter.cells
    starts = [
        i
        for i, c in enumerate(cells)
        if _nbgrader(c).get("grade_id")
        or (c.cell_type == "markdown" and EXERCISE_BLOCK.search(c.source))
    ]
    if not starts:
        raise ValueError(f"{path.name} has no exercises")
    first = starts[0]
    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
    setup = code[0] if code and code[0] < first else None
    region = cells[first:]
    before = [cells[i].source for i in code if i < first and i != setup]
    users = [c.source for c in region if c.cell_type == "code"]
    provided = set().union(*(bound_names(s) for s in users)) if users else set()
    context = context_for(before, users, provided)

    known = equations([c.source for c in cells if c.cell_type == "markdown"])
    title = _title(chapter)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": chapter.metadata.get("kernelspec", {})})
    nb.metadata["language_info"] = {"name": "python"}
    head = (
        f"# Exercises: {title}\n\n"
        f"The exercises of the chapter *{title}* (`{path.stem}`). Run the cells from the top. "
        "Write each answer in place of `raise NotImplementedError()` and run the test cell "
        "under it: it says whether the answer is right, and if not, for which input and why.\n\n"
        f"{_GRADER_NOTE}\n\n"
        "In Google Colab, run the first code cell first: it installs the book's library. "
        "Hand in the notebook itself (File > Download > Download .ipynb); its name may stay "
        '"Copy of ...".'
    )
    nb.cells.append(_locked(nbformat.v4.new_markdown_cell(head), "title"))
    if setup is not None:
        cell = nbformat.v4.new_code_cell(cells[setup].source)
        cell.metadata["tags"] = list(cells[setup].metadata.get("tags", []))
        nb.cells.append(_locked(cell, "setup"))
    if context:
        header = "# What the exercises use from the chapter.\n"
        nb.cells.append(_locked(nbformat.v4.new_code_cell(header + context), "context"))
    for k, cell in enumerate(region):
        cell = nbformat.from_dict(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("mystnb", None)
        if _nbgrader(cell).get("grade_id"):
            nb.cells.append(cell)
        elif cell.cell_type == "markdown":
            for j, piece in enumerate(split_solution_blocks(cell.source)):
                part = nbformat.v4.new_markdown_cell(piece)
                if is_solution_block(part):
                    nb.cells.append(part)  # removed by generate_assignment (StripSolutionBlocks)
                else:
                    part.source = plain_markdown(piece, known)
                    nb.cells.append(
                        _locked(part, f"{path.stem}-{k}-{j}" if j else f"{path.stem}-{k}")
                    )
        else:
            nb.cells.append(_locked(cell, f"{path.stem}-{k}"))
    seen: set[str] = set()
    for cell in nb.cells:  # every cell an id of its own (nbformat 4.5)
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = uuid.uuid4().hex[:8]
        seen.add(cell["id"])
    return nb
