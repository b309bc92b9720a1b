"""``rnnbook-course``: a course on the book's exercises, graded by nbgrader in a sandbox.

::

    rnnbook-course init DIR                   # a course folder, nbgrader configured
    rnnbook-course assign DIR CHAPTER...      # CHAPTER = number (1) or file stem (01_naive_rnn)
    rnnbook-course collect DIR ASSIGNMENT FILE... --student NAME
    rnnbook-course grade DIR ASSIGNMENT [--csv]

A thin layer over nbgrader. ``init`` writes ``nbgrader_config.py`` (the course id, the
preprocessors of :mod:`rnnbook.autograde`, the time and memory limits). ``assign`` writes
one nbgrader assignment per chapter, named after its file stem: the exercises and only the
code they need (:mod:`rnnbook.assignment`) in ``source/<stem>/``, and nbgrader's
``generate_assignment`` makes ``release/<stem>/``. ``collect`` puts handed-in files where
nbgrader looks (``submitted/<student>/<assignment>/``), with Colab's "Copy of ..." names
mended. ``grade`` runs nbgrader's ``autograde`` and ``generate_feedback`` and prints a score
table (``--csv``: ``student,assignment,score,max_score`` per line); it exits 0 once every
submission has a score.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["chapter_path", "main", "notebooks_folder", "submission_name"]

CONFIG = """\
# nbgrader's configuration of this course, written by `rnnbook-course init`.
# rnnbook-course runs nbgrader in this folder; the guide is book/for-instructors.md.
from rnnbook import autograde
from rnnbook.teaching import generate_assignment_preprocessors

c = get_config()
c.CourseDirectory.course_id = {course_id!r}

# Release copies: nbgrader's own preprocessors, plus one that removes the {{solution}} blocks.
c.GenerateAssignment.preprocessors = generate_assignment_preprocessors()

# Grading: each submission is rebuilt on the released notebook, run in a bubblewrap sandbox
# for the feedback, and its points come from a fresh process that calls the submitted
# functions in a sandbox of their own.
c.Autograde.sanitize_preprocessors = autograde.sanitize_preprocessors()
c.Autograde.autograde_preprocessors = autograde.autograde_preprocessors()
c.HTMLExporter.sanitize_html = True  # feedback pages show no HTML or scripts of the student's

# Limits for one submission, in seconds: running it for the feedback (a cell, the whole
# notebook), and awarding its points (an answer cell, everything).
c.SandboxedExecute.timeout = 30
c.SandboxedExecute.notebook_timeout = 120
c.AwardPoints.cell_timeout = 30
c.AwardPoints.timeout = 300
# Limits for each sandboxed process (MiB): memory, each writable scratch folder, one file.
c.SandboxLimits.memory_mb = 4096
c.SandboxLimits.scratch_mb = 256
c.SandboxLimits.file_mb = 64
"""

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
COPY_OF = re.compile(r"^(?:Copy of )+", re.I)
NUMBERED = re.compile(r"\s*\(\d+\)$")


class CourseError(Exception):
    """A mistake in the command line or the course folder; the message says which."""


# ----------------------------------------------------------------------------------------------
# Where things are
# ----------------------------------------------------------------------------------------------


def notebooks_folder() -> Path:
    """The book's chapters: ``$RNNBOOK_NOTEBOOKS``, else ``notebooks/`` of the checkout that
    rnnbook is installed from (``pip install -e``), else ``./notebooks``."""
    import rnnbook

    candidates = [os.environ.get("RNNBOOK_NOTEBOOKS", "")]
    candidates += [str(Path(rnnbook.__file__).resolve().parents[2] / "notebooks"), "notebooks"]
    for folder in candidates:
        if folder and Path(folder).is_dir() and any(Path(folder).glob("[0-9][0-9]_*.ipynb")):
            return Path(folder).resolve()
    raise CourseError(
        "cannot find the book's chapters: install rnnbook from a clone of the book "
        "(pip install -e '.[teach]') or set RNNBOOK_NOTEBOOKS to its notebooks/ folder"
    )


def chapter_path(chapter: str) -> Path:
    """The notebook of a chapter given as a number (``1``), a stem or a path."""
    if chapter.endswith(".ipynb") and Path(chapter).is_file():
        return Path(chapter).resolve()
    folder = notebooks_folder()
    if chapter.isdigit():
        found = sorted(folder.glob(f"{int(chapter):02d}_*.ipynb"))
    else:
        found = [folder / f"{chapter}.ipynb"] if (folder / f"{chapter}.ipynb").is_file() else []
    if len(found) != 1:
        stems = ", ".join(p.stem for p in sorted(folder.glob("[0-9][0-9]_*.ipynb")))
        raise CourseError(f"no chapter {chapter!r}; the chapters are: {stems}")
    return found[0]


def submission_name(filename: str, expected: list[str]) -> str:
    """The assignment notebook a handed-in file is: Colab's "Copy of X.ipynb" and a
    browser's "X (1).ipynb" are X.ipynb; with one notebook expected, any name is it."""
    stem = NUMBERED.sub("", COPY_OF.sub("", Path(filename).stem)).strip()
    if f"{stem}.ipynb" in expected:
        return f"{stem}.ipynb"
    if len(expected) == 1:
        return expected[0]
    raise CourseError(f"{filename}: not one of the assignment's notebooks ({', '.join(expected)})")


def _course(folder: str) -> Path:
    path = Path(folder).resolve()
    if not (path / "nbgrader_config.py").is_file():
        raise CourseError(f"{path} is not a course folder: run `rnnbook-course init {folder}`")
    return path


def _nbgrader(course: Path, *args: str, stream: bool = False) -> subprocess.CompletedProcess:
    """Run nbgrader in the course folder (where it reads nbgrader_config.py)."""
    command = [sys.executable, "-m", "nbgrader", *args]
    bin_dir = os.path.dirname(sys.executable)  # nbgrader runs `alembic` from there
    env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
    if not stream:
        return subprocess.run(command, cwd=course, capture_output=True, text=True, env=env)
    lines, started = [], {}
    with subprocess.Popen(
        command, cwd=course, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            m = re.search(r"Sanitizing .*?submitted[/\\]([^/\\]+)[/\\]", line)
            if m:
                started[m.group(1)] = time.monotonic()
    result = subprocess.CompletedProcess(command, proc.returncode, "".join(lines), "")
    result.started = started  # type: ignore[attr-defined]
    return result


def _failed(result: subprocess.CompletedProcess, what: str) -> CourseError:
    text = (result.stdout or "") + (result.stderr or "")
    errors = [ln for ln in text.splitlines() if "ERROR" in ln or "Error" in ln]
    return CourseError(
        f"nbgrader {what} failed:\n" + "\n".join((errors or text.splitlines())[-15:])
    )


# ----------------------------------------------------------------------------------------------
# The four commands
# ----------------------------------------------------------------------------------------------


def init(folder: str) -> int:
    path = Path(folder).resolve()
    if (path / "nbgrader_config.py").exists():
        raise CourseError(f"{path} is a course already (it has nbgrader_config.py)")
    (path / "source").mkdir(parents=True, exist_ok=True)
    course_id = re.sub(r"[^A-Za-z0-9_-]+", "-", path.name).strip("-") or "rnnbook"
    (path / "nbgrader_config.py").write_text(CONFIG.format(course_id=course_id))
    print(f"course {course_id!r} in {path}")
    print("  nbgrader_config.py: nbgrader set up for rnnbook (sandboxed grading, limits)")
    print(f"next: rnnbook-course assign {folder} 1")
    return 0


def assign(folder: str, chapters: list[str]) -> int:
    import nbformat

    from rnnbook import assignment, teaching

    course = _course(folder)
    paths = [chapter_path(c) for c in chapters]
    for path in paths:
        stem = path.stem
        nb = assignment.exercises_notebook(path)
        target = course / "source" / stem
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        nbformat.write(nb, target / f"{stem}.ipynb")
        result = _nbgrader(course, "generate_assignment", stem, "--force")
        if result.returncode != 0:
            raise _failed(result, f"generate_assignment {stem}")
        ex = teaching.exercises(path)
        code = [e for e in ex if e.autograded]
        points = sum(e.points for e in code)
        print(
            f"{stem}: {len(code)} code exercises ({points:g} points), "
            f"{len(ex) - len(code)} questions, {len(nb.cells)} cells"
        )
        print(f"  hand out release/{stem}/{stem}.ipynb")
    return 0


def collect(folder: str, name: str, files: list[str], student: str) -> int:
    import nbformat

    course = _course(folder)
    if not NAME.match(student):
        raise CourseError(f"--student {student!r}: use letters, digits, '_', '.', '-' or '@'")
    release = course / "release" / name
    expected = sorted(p.name for p in release.glob("*.ipynb"))
    if not expected:
        raise CourseError(f"no assignment {name!r}: run `rnnbook-course assign {folder} ...`")
    staged: dict[str, object] = {}
    origin: dict[str, str] = {}
    for file in files:
        path = Path(file)
        if path.is_symlink() or not path.is_file():
            raise CourseError(f"{file}: not a regular file")
        if path.suffix == ".ipynb":
            target = submission_name(path.name, expected)
            origin[target] = path.name
            try:
                staged[target] = nbformat.read(path, as_version=4)
            except Exception as e:
                raise CourseError(f"{file}: not a notebook ({type(e).__name__}: {e})") from None
        else:
            if not NAME.match(path.name):
                raise CourseError(f"{file}: file names may use letters, digits, '_', '.', '-'")
            staged[path.name] = path.read_bytes()
            origin[path.name] = path.name
    if not any(k.endswith(".ipynb") for k in staged):
        raise CourseError("no notebook among the files")
    target_dir = course / "submitted" / student / name
    shutil.rmtree(target_dir, ignore_errors=True)
    target_dir.mkdir(parents=True)
    for target, content in staged.items():
        if isinstance(content, bytes):
            (target_dir / target).write_bytes(content)
        else:
            nbformat.write(content, target_dir / target)
    for target, original in origin.items():
        renamed = f" (handed in as {original!r})" if original != target else ""
        print(f"submitted/{student}/{name}/{target}{renamed}")
    return 0


def _scores(course: Path, name: str, students: list[str]) -> dict[str, tuple[float, float] | None]:
    from nbgrader.api import Gradebook, MissingEntry

    out: dict[str, tuple[float, float] | None] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in students:
            try:
                sub = gb.find_submission(name, student)
                out[student] = (float(sub.score), float(sub.max_score))
            except MissingEntry:
                out[student] = None
    return out


def grade(folder: str, name: str, csv: bool = False) -> int:
    from rnnbook import sandbox

    course = _course(folder)
    sandbox.ensure_available()
    if sandbox.visible(course):
        raise CourseError(f"{course} is inside a folder the sandbox shows to student code; move it")
    submitted = course / "submitted"
    students = sorted(
        p.parent.name
        for p in submitted.glob(f"*/{name}")
        if p.is_dir() and NAME.match(p.parent.name)
    )
    if not (course / "release" / name).is_dir():
        raise CourseError(f"no assignment {name!r} in {course}")
    if not students:
        print(f"no submissions of {name} collected yet", file=sys.stderr)
        return 0
    start = time.monotonic()
    run = _nbgrader(course, "autograde", name, "--force", stream=True)
    graded = time.monotonic()
    feedback = _nbgrader(course, "generate_feedback", name, "--force")
    scores = _scores(course, name, students)
    notebooks = [p.name for p in (course / "release" / name).glob("*.ipynb")]
    for student in students:  # a score without an autograded notebook is nbgrader's 0, not ours
        folder = course / "autograded" / student / name
        if not all((folder / nb).is_file() for nb in notebooks):
            scores[student] = None
    if run.returncode != 0:
        print(_failed(run, "autograde"), file=sys.stderr)
    if feedback.returncode != 0:
        print(_failed(feedback, "generate_feedback"), file=sys.stderr)
    starts = getattr(run, "started", {})
    order = sorted(starts, key=starts.get)
    ends = [starts[s] for s in order[1:]] + [graded]
    seconds = {s: end - starts[s] for s, end in zip(order, ends, strict=True)}
    if csv:
        for student in students:
            score = scores[student]
            if score is not None:
                print(f"{student},{name},{score[0]:g},{score[1]:g}")
    else:
        width = max([len(s) for s in students] + [7])
        print(f"{'student':{width}}  {'score':>5}  {'max':>5}  {'seconds':>7}")
        for student in students:
            score = scores[student]
            shown = f"{score[0]:5g}  {score[1]:5g}" if score else "    -      -"
            took = f"{seconds[student]:7.1f}" if student in seconds else "      -"
            print(f"{student:{width}}  {shown}  {took}")
        feedback_dir = course / "feedback"
        print(f"feedback: {feedback_dir}/<student>/{name}/")
    n = len(students)
    each = f", {(graded - start) / n:.1f} s each" if n else ""
    summary = f"graded {n} submission{'s' * (n != 1)} in {graded - start:.0f} s{each}"
    print(summary, file=sys.stderr if csv else sys.stdout, flush=True)
    missing = [s for s in students if scores[s] is None]
    if missing:
        print(f"not graded (see nbgrader's errors above): {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


# ----------------------------------------------------------------------------------------------
# The command line
# ----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnbook-course",
        description="A course on the book's exercises, graded by nbgrader in a sandbox.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="make a course folder with nbgrader configured")
    p.add_argument("dir")
    p = sub.add_parser("assign", help="one assignment per chapter: its exercises")
    p.add_argument("dir")
    p.add_argument("chapters", nargs="+", metavar="CHAPTER", help="a number (1) or a file stem")
    p = sub.add_parser("collect", help="put a student's handed-in files where nbgrader looks")
    p.add_argument("dir")
    p.add_argument("assignment")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--student", required=True, metavar="NAME")
    p = sub.add_parser("grade", help="autograde every submission, write feedback, print scores")
    p.add_argument("dir")
    p.add_argument("assignment")
    p.add_argument("--csv", action="store_true", help="student,assignment,score,max_score")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``rnnbook-course`` command; returns its exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "init":
            return init(args.dir)
        if args.command == "assign":
            return assign(args.dir, args.chapters)
        if args.command == "collect":
            return collect(args.dir, args.assignment, args.files, args.student)
        return grade(args.dir, args.assignment, csv=args.csv)
    except CourseError as e:
        print(f"rnnbook-course: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # the sandbox is unavailable, and the like
        if type(e).__name__ != "SandboxUnavailable":
            raise
        print(f"rnnbook-course: the sandbox is unavailable: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
