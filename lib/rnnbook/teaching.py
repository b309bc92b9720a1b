"""Tools for instructors: the exercises of a chapter, their tables, and the solution blocks.

Every chapter ends with exercises in one format:

- a **question** is a markdown cell holding a sphinx-exercise ``{exercise}`` block, followed by
  a markdown cell holding its ``{solution}`` block (folded away on the site);
- a **code exercise** is an ``{exercise}`` block followed by an nbgrader *solution* cell (the
  answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION``) and an nbgrader *grade*
  cell with points that calls a check from :mod:`rnnbook.exercises`.

Student copies are made by nbgrader's own ``generate_assignment`` (``rnnbook-course assign``,
and ``make student`` through it), with :class:`StripSolutionBlocks` in front of nbgrader's
preprocessors (:func:`generate_assignment_preprocessors`): it removes the ``{solution}``
blocks of the questions, which nbgrader does not know about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

SOLUTION_BLOCK = re.compile(r"^\s*(`{3,}|:{3,})\s*\{solution\}", re.M)
# A whole {solution} block, from its opening fence to the closing fence of the same length.
SOLUTION_SPAN = re.compile(
    r"^[ \t]*(`{3,}|:{3,})[ \t]*\{solution\}.*?^[ \t]*\1[ \t]*$\n?", re.M | re.S
)
EXERCISE_BLOCK = re.compile(
    r"^\s*(?:`{3,}|:{3,})\s*\{exercise\}\s*(.*?)\s*\n(.*?)^\s*:label:\s*(\S+)", re.M | re.S
)
WORDS_PER_MINUTE = 200
MINUTES_PER_QUESTION = 5
MINUTES_PER_CODE_EXERCISE = 15


class StripSolutionBlocks(Preprocessor):
    """Remove every sphinx-exercise ``{solution}`` block from the markdown cells, and the
    cells that held nothing else."""

    enabled = Bool(True).tag(config=True)  # nbconvert's preprocessors are off by default

    def preprocess(self, nb, resources):
        kept = []
        for cell in nb.cells:
            if is_solution_block(cell):
                cell.source = SOLUTION_SPAN.sub("", cell.source).strip("\n")
                if not cell.source.strip():
                    continue
            kept.append(cell)
        nb.cells = kept
        return nb, resources


def split_solution_blocks(text: str) -> list[str]:
    """Markdown split into pieces, each ``{solution}`` block a piece of its own."""
    pieces, start = [], 0
    for m in SOLUTION_SPAN.finditer(text):
        pieces += [text[start : m.start()], m.group(0)]
        start = m.end()
    pieces.append(text[start:])
    return [p.strip("\n") for p in pieces if p.strip()]


def generate_assignment_preprocessors() -> list:
    """nbgrader's ``GenerateAssignment`` preprocessors with :class:`StripSolutionBlocks` first.

    In a course's ``nbgrader_config.py``::

        from rnnbook.teaching import generate_assignment_preprocessors
        c.GenerateAssignment.preprocessors = generate_assignment_preprocessors()
    """
    from nbgrader.converters import GenerateAssignment

    return [StripSolutionBlocks, *GenerateAssignment.class_traits()["preprocessors"].default()]


def is_solution_block(cell) -> bool:
    return cell.cell_type == "markdown" and bool(SOLUTION_BLOCK.search(cell.source))


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter, as the instructors' table lists it."""

    chapter: str
    label: str
    title: str
    kind: str  # "question" or "code"
    points: float  # 0 for questions: they are not graded automatically

    @property
    def autograded(self) -> bool:
        return self.kind == "code"


def exercises(path: str | Path) -> list[Exercise]:
    """The exercises of one chapter notebook, in order.

    An ``{exercise}`` block followed (before the next exercise) by an nbgrader grade cell is a
    code exercise worth that cell's points; otherwise it is a question.
    """
    nb = nbformat.read(path, as_version=4)
    chapter = Path(path).stem
    found: list[list] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for match in EXERCISE_BLOCK.finditer(cell.source):
                found.append([match.group(3), match.group(1) or match.group(3), "question", 0.0])
        elif _nbgrader(cell).get("grade") and found:
            found[-1][2] = "code"
            found[-1][3] += float(_nbgrader(cell).get("points", 0))
    return [Exercise(chapter, label, title, kind, points) for label, title, kind, points in found]


def minutes(path: str | Path) -> int:
    """A rough time for a student: reading the prose and code, plus the exercises."""
    nb = nbformat.read(path, as_version=4)
    words = sum(len(c.source.split()) for c in nb.cells if not is_solution_block(c))
    work = sum(
        MINUTES_PER_CODE_EXERCISE if e.kind == "code" else MINUTES_PER_QUESTION
        for e in exercises(path)
    )
    return int(round((words / WORDS_PER_MINUTE + work) / 5.0) * 5)


def exercise_table(paths: list[str | Path]) -> str:
    """The Markdown table of every exercise in the given chapters (for-instructors page)."""
    rows = [
        "| Chapter | Exercise | Kind | Points | Auto-graded |",
        "| --- | --- | --- | --- | --- |",
    ]
    for path in paths:
        for e in exercises(path):
            points = f"{e.points:g}" if e.autograded else "-"
            rows.append(
                f"| {e.chapter} | {e.title} (`{e.label}`) | {e.kind} | {points} | "
                f"{'yes' if e.autograded else 'no'} |"
            )
    return "\n".join(rows)


def time_table(paths: list[str | Path]) -> str:
    """The Markdown table of the estimated student time per chapter."""
    rows = [
        "| Chapter | Questions | Code exercises | Points | About |",
        "| --- | --- | --- | --- | --- |",
    ]
    for path in paths:
        ex = exercises(path)
        code = [e for e in ex if e.kind == "code"]
        rows.append(
            f"| {Path(path).stem} | {len(ex) - len(code)} | {len(code)} | "
            f"{sum(e.points for e in code):g} | {minutes(path)} min |"
        )
    return "\n".join(rows)
