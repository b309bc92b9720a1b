"""The instructors' workflow: exercise format, student copies, a real nbgrader course."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import exercise_table
import nbformat
import pytest
import toc_notebooks

from rnnbook import teaching

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = [ROOT / p for p in toc_notebooks.toc_notebooks()]
BIN = Path(sys.executable).parent
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
def test_student_copy_has_no_solution_and_runs_until_the_exercises(path):
    nb = nbformat.read(path, as_version=4)
    copy = teaching.student_copy(nb)
    text = "\n".join(c.source for c in copy.cells)
    for line in _solution_texts(nb):
        assert line not in text, f"{path.name}: solution text left in the student copy: {line!r}"
    assert not any(c.get("outputs") for c in copy.cells if c.cell_type == "code")
    # Only exercise cells may depend on a student's answer: names the solution cells define
    # are used by grade cells only, so everything else runs top to bottom.
    defined = set()
    for cell in nb.cells:
        if _nbgrader(cell).get("solution"):
            defined |= set(re.findall(r"^def (\w+)", cell.source, re.M))
            assert "raise NotImplementedError()" in next(
                c.source
                for c in copy.cells
                if _nbgrader(c).get("grade_id") == _nbgrader(cell)["grade_id"]
            )
    for cell in copy.cells:
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
        nbformat.v4.new_code_cell("print('a {solution} in code stays')"),
    ]
    nb, _ = teaching.StripSolutionBlocks().preprocess(nb, {})
    assert [c.cell_type for c in nb.cells] == ["markdown", "code"]


# --- a real nbgrader course -------------------------------------------------------------


def _course_chapter() -> Path:
    """The chapter the course test grades: the quickest one that has code exercises."""
    for name in ("01_naive_rnn", "05_gru", "03_lstm"):
        path = ROOT / "notebooks" / f"{name}.ipynb"
        if path in CHAPTERS and any(e.kind == "code" for e in teaching.exercises(path)):
            return path
    pytest.skip("no chapter with code exercises yet")


def _nbgrader_run(course: Path, *args: str) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(BIN / "nbgrader"), *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}"


def _submit(course: Path, student: str, nb, name: str) -> None:
    folder = course / "submitted" / student / "ch"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / name)


@pytest.mark.slow
def test_nbgrader_course_grades_right_wrong_and_unanswered(tmp_path):
    chapter = _course_chapter()
    course = tmp_path / "course"
    (course / "source" / "ch").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        textwrap.dedent(
            """
            from rnnbook.teaching import generate_assignment_preprocessors

            c = get_config()
            c.CourseDirectory.course_id = "rnnbook"
            c.GenerateAssignment.preprocessors = generate_assignment_preprocessors()
            c.ExecutePreprocessor.timeout = 600
            """
        )
    )
    source = nbformat.read(chapter, as_version=4)
    nbformat.write(source, course / "source" / "ch" / chapter.name)
    _nbgrader_run(course, "generate_assignment", "ch", "--force")
    release = nbformat.read(course / "release" / "ch" / chapter.name, as_version=4)

    text = "\n".join(c.source for c in release.cells)
    for line in _solution_texts(source):
        assert line not in text, f"solution text in nbgrader's release copy: {line!r}"

    answers = {
        _nbgrader(c)["grade_id"]: c.source for c in source.cells if _nbgrader(c).get("solution")
    }
    points = {
        _nbgrader(c)["grade_id"]: float(_nbgrader(c)["points"])
        for c in source.cells
        if _nbgrader(c).get("grade")
    }
    first = next(iter(answers))  # the exercise that (b) gets wrong and (c) leaves unanswered
    first_test = first.replace("-code", "-test")

    def answered(wrong: str | None = None, skip: str | None = None):
        nb = nbformat.from_dict(release)
        for cell in nb.cells:
            gid = _nbgrader(cell).get("grade_id")
            if gid in answers and gid != skip:
                cell.source = answers[gid]
                if gid == wrong:
                    cell.source = SOLUTION.sub(lambda m: m.group(1) + "return None", cell.source)
        return nb

    _submit(course, "right", answered(), chapter.name)
    _submit(course, "wrong", answered(wrong=first), chapter.name)
    _submit(course, "blank", answered(skip=first), chapter.name)
    _nbgrader_run(course, "autograde", "ch", "--force")

    from nbgrader.api import Gradebook

    total = sum(points.values())
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s: gb.find_submission("ch", s).score for s in ("right", "wrong", "blank")}
    assert scores == {
        "right": total,
        "wrong": total - points[first_test],
        "blank": total - points[first_test],
    }
