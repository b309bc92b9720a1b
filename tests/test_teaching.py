"""The instructors' tools: the exercise format, the tables, the solution blocks, `make student`.

The course command and a real nbgrader course are tested in tests/test_course.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import exercise_table
import nbformat
import pytest
import toc_notebooks

from rnnbook import teaching

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = [ROOT / p for p in toc_notebooks.toc_notebooks()]
SOLUTION = re.compile(r"^(\s*)### BEGIN SOLUTION\n(.*?)^\s*### END SOLUTION", re.M | re.S)


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _solution_texts(nb) -> list[str]:
    """The lines of the solutions (code regions and {solution} blocks) worth searching for:
    long enough to be specific, and not also written elsewhere in the chapter (a solution
    may quote an equation or a line of code that the chapter shows anyway)."""
    lines, elsewhere = [], []
    for cell in nb.cells:
        if teaching.is_solution_block(cell):
            body = [ln for ln in cell.source.splitlines()[1:] if not ln.startswith((":", "`"))]
            lines += body
            continue
        rest = SOLUTION.sub("", cell.source)
        elsewhere.append(rest)
        for match in SOLUTION.finditer(cell.source):
            lines += match.group(2).splitlines()
    others = "\n".join(elsewhere)
    return [ln.strip() for ln in lines if len(ln.strip()) >= 12 and ln.strip() not in others]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_follows_the_exercise_format(path):
    nb = nbformat.read(path, as_version=4)
    ex = teaching.exercises(path)
    questions = [e for e in ex if e.kind == "question"]
    code = [e for e in ex if e.kind == "code"]
    assert len(ex) >= 4, f"{path.name}: {len(ex)} exercises; every chapter has at least 4"
    labels = [e.label for e in ex]
    assert len(set(labels)) == len(labels), f"{path.name}: duplicate exercise labels"
    solved = {
        m.group(1)
        for c in nb.cells
        if teaching.is_solution_block(c)
        for m in re.finditer(r"\{solution\}\s*(\S+)", c.source)
    }
    for q in questions:
        assert q.label in solved, f"{path.name}: question {q.label} has no {{solution}} block"
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if meta.get("solution"):
            assert SOLUTION.search(cell.source), f"{path.name}: solution cell without markers"
            assert meta["schema_version"] == 3 and not meta["grade"] and not meta["locked"]
        if meta.get("grade"):
            assert meta["locked"] and meta["points"] > 0, f"{path.name}: {meta['grade_id']}"
            assert re.search(r"\bcheck_\w+\(", cell.source), (
                f"{path.name}: grade cell {meta['grade_id']} calls no check from rnnbook.exercises"
            )
    assert len(code) >= 2, f"{path.name}: at least two checked code exercises"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_only_exercise_cells_use_the_answers(path):
    """Names the solution cells define are used by grade cells only, so a student copy (and
    an assignment) runs top to bottom whatever the student wrote."""
    nb = nbformat.read(path, as_version=4)
    defined = set()
    for cell in nb.cells:
        if _nbgrader(cell).get("solution"):
            assert SOLUTION.search(cell.source), f"{path.name}: solution cell without markers"
            defined |= set(re.findall(r"^def (\w+)", cell.source, re.M))
    for cell in nb.cells:
        if cell.cell_type == "code" and not _nbgrader(cell):
            code = re.sub(r"#.*", "", cell.source)  # calls, not comments
            used = defined & set(re.findall(r"(?<![.\w])(\w+)\s*\(", code))
            assert not used, f"{path.name}: a non-exercise cell calls {used}"


def test_instructor_tables_match_the_notebooks():
    page = exercise_table.page_tables(exercise_table.PAGE.read_text())
    for name, table in exercise_table.tables().items():
        assert page.get(name) == table, (
            f"book/for-instructors.md: the {name} differs from the notebooks; "
            "run `python tools/exercise_table.py --write`"
        )


def test_strip_solution_blocks_keeps_everything_else():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("````{exercise} Q\n:label: ex-q\nWhy?\n````"),
        nbformat.v4.new_markdown_cell("````{solution} ex-q\n:class: dropdown\nSecret.\n````"),
        nbformat.v4.new_markdown_cell(":::{solution} ex-q\nSecret too.\n:::"),
        nbformat.v4.new_markdown_cell(
            "````{solution} ex-q\nSecret.\n```python\nx = 1\n```\n````\n\n"
            "````{exercise} R\n:label: ex-r\nAnd?\n````"
        ),
        nbformat.v4.new_code_cell("print('a {solution} in code stays')"),
    ]
    nb, _ = teaching.StripSolutionBlocks().preprocess(nb, {})
    assert [c.cell_type for c in nb.cells] == ["markdown", "markdown", "code"]
    assert nb.cells[1].source == "````{exercise} R\n:label: ex-r\nAnd?\n````"
    assert "Secret" not in "".join(c.source for c in nb.cells)
    pieces = teaching.split_solution_blocks("A\n````{solution} x\nS\n````\nB")
    assert pieces == ["A", "````{solution} x\nS\n````", "B"]


def test_make_student_writes_what_assign_releases(tmp_path, monkeypatch):
    """`make student` is `rnnbook-course assign`'s release copy, made by nbgrader."""
    import student

    monkeypatch.setattr(student.toc_notebooks, "toc_notebooks", lambda: ["notebooks/03_lstm.ipynb"])
    assert student.main(tmp_path) == 0
    copy = nbformat.read(tmp_path / "03_lstm.ipynb", as_version=4)
    text = "\n".join(c.source for c in copy.cells)
    code = "\n".join(c.source for c in copy.cells if c.cell_type == "code")
    assert code.count("raise NotImplementedError()") == 2 and "{solution}" not in text
    source = nbformat.read(ROOT / "notebooks" / "03_lstm.ipynb", as_version=4)
    for line in _solution_texts(source):
        assert line not in text, f"solution text left in the student copy: {line!r}"
    assert not any(c.get("outputs") for c in copy.cells if c.cell_type == "code")
