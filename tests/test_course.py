"""rnnbook-course: the instructors' workflow, with the real nbgrader and bubblewrap.

The last test runs book/for-instructors.md's workflow (init, assign, collect, grade) on two
chapters with right, wrong and hostile submissions, and checks every score, what the course
folder holds afterwards, and that no student code ever reached the instructor. The tests
before it check the parts: the wire format, the slicing, the sandbox, the checker.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import toc_notebooks

from rnnbook import assignment, checker, course, sandbox, slicing, teaching, wire
from rnnbook.teaching import is_solution_block

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = [ROOT / p for p in toc_notebooks.toc_notebooks()]
BIN = Path(sys.executable).parent

# Skipped only where bubblewrap is not installed (.ci/run installs it); installed but
# unable to make a sandbox, the tests fail.
needs_sandbox = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
)


# ----------------------------------------------------------------------------------------------
# rnnbook.wire: what comes back from student code is plain data
# ----------------------------------------------------------------------------------------------


def test_wire_round_trips_plain_data():
    value = (
        None,
        True,
        3,
        2.5,
        float("nan"),
        float("-inf"),
        "text",
        [np.arange(6.0).reshape(2, 3), np.int64(7), np.float32(0.5)],
        {"a": np.zeros((0, 2)), 3: (np.array([True, False]),)},
    )
    back = wire.loads(wire.dumps(value))
    assert back[:4] == value[:4] and np.isnan(back[4]) and back[5] == -np.inf
    assert np.array_equal(back[7][0], value[7][0]) and back[7][0].dtype == np.float64
    assert back[7][1] == 7 and type(back[7][1]) is np.int64 and type(back[7][2]) is np.float32
    assert back[8]["a"].shape == (0, 2) and back[8][3][0].dtype == np.bool_


def test_wire_reads_no_code_and_no_objects():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    line = wire.dumps(Evil())  # the sandbox side describes it instead of pickling it
    back = wire.loads(line)
    assert isinstance(back, wire.Foreign) and type(back).__name__ == "Evil"
    assert type(back).__module__ == __name__
    pickled = wire.dumps(Evil(), allow_pickle=True)  # only the grader -> sandbox direction
    with pytest.raises(ValueError, match="unknown tag"):
        wire.loads(pickled)
    for forged in (
        b'{"$nd": "O8", "shape": [1], "b64": "AAAAAAAAAAA="}',
        b'{"$nd": "<f8", "shape": [2], "b64": "AAAAAAAAAAA="}',
        b'{"$x": 1}',
        b"[" * 100000 + b"]" * 100000,
        b"not json",
    ):
        with pytest.raises(ValueError):
            wire.loads(forged)
    assert (
        wire.loads(b'{"$f": ["torch", "Tensor", "tensor([1.])"]}').__class__.__module__ == "torch"
    )


# ----------------------------------------------------------------------------------------------
# rnnbook.slicing and rnnbook.assignment: the exercises and only what they need
# ----------------------------------------------------------------------------------------------


def test_free_and_bound_names():
    cell = "for t in range(3):\n    total += f(t, np)\ny = [k for k in ks]\n"
    cell += "def g(a):\n    return a + b"
    assert slicing.free_names(cell) == {"total", "f", "np", "ks", "b"}
    assert slicing.bound_names(cell) == {"t", "total", "y", "g"}
    assert slicing.free_names("%matplotlib inline\ny = h(1)") == {"h"}
    assert slicing.free_names("def (") == set()


def test_slice_keeps_what_is_read_and_cuts_imports():
    cells = [
        "import numpy as np, os\nfrom rnnbook import cells, plots, tasks\nimport torch",
        "W = np.ones((2, 2))\nfig = plots.figure()\nnp.set_printoptions(precision=3)",
        "x = tasks.memory_example()\nW[0, 0] = 2.0\ntrained = torch.train(W)",
        "def f(v):\n    return W @ v + x.sum()\n\n\nprint(f(1))",
    ]
    kept = slicing.slice_statements(cells, {"f"})
    assert kept == [
        "import numpy as np",
        "from rnnbook import tasks",
        "W = np.ones((2, 2))",
        "x = tasks.memory_example()",
        "W[0, 0] = 2.0",
        "def f(v):\n    return W @ v + x.sum()",
    ]
    with_np = slicing.slice_statements(cells, {"f", "np"})  # np is changed in place too
    assert with_np == [*kept[:3], "np.set_printoptions(precision=3)", *kept[3:]]
    context = slicing.context_for(cells, ["y = f(2)\nprint(y)"])
    namespace: dict = {}
    exec(context, namespace)  # it runs on its own
    assert "torch" not in context and "plots" not in context


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_makes_an_assignment_whose_answers_pass(path):
    if not any(e.autograded for e in teaching.exercises(path)):
        pytest.skip(f"{path.stem} has no code exercises yet")
    nb = assignment.exercises_notebook(path)
    nbformat.validate(nb)
    kinds = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    assert all(k.get("locked") or k.get("solution") or not k for k in kinds)
    assert sum(bool(k.get("grade")) for k in kinds) >= 2
    shown = [c for c in nb.cells if c.cell_type == "markdown" and not is_solution_block(c)]
    text = "\n".join(c.source for c in shown)
    assert "{exercise}" not in text and "{solution}" not in text and ":label:" not in text
    assert text.count("### Exercise: ") == len(teaching.exercises(path))
    assert "train_runs" not in "\n".join(c.source for c in nb.cells)  # no training
    namespace: dict = {"__name__": "__main__"}
    for cell in nb.cells:  # the instructor's copy runs top to bottom, every check passing
        if cell.cell_type == "code":
            exec(slicing.python_source(cell.source), namespace)


def test_plain_markdown_of_the_book():
    md = (
        "(ex-target)=\n````{exercise} A title\n:label: ex-01-x\nSee {eq}`eq-a`, {ref}`the "
        "section <sec-a>` and {cite}`elman1990finding`.\n````\n"
    )
    out = assignment.plain_markdown(md, {"eq-a": "h = W x"})
    assert out.startswith("### Exercise: A title\n\nSee (eq-a), the section and (elman1990")
    assert "$$\nh = W x\n$$" in out and ":label:" not in out and "(ex-target)=" not in out


# ----------------------------------------------------------------------------------------------
# rnnbook.course: names of handed-in files, chapters
# ----------------------------------------------------------------------------------------------


def test_handed_in_names():
    one = ["01_naive_rnn.ipynb"]
    assert course.submission_name("Copy of 01_naive_rnn.ipynb", one) == one[0]
    assert course.submission_name("Copy of Copy of 01_naive_rnn (2).ipynb", one) == one[0]
    assert course.submission_name("homework.ipynb", one) == one[0]
    two = ["a.ipynb", "b.ipynb"]
    assert course.submission_name("Copy of b (1).ipynb", two) == "b.ipynb"
    with pytest.raises(course.CourseError, match="not one of"):
        course.submission_name("c.ipynb", two)


def test_collect_refuses_what_is_not_a_submission(tmp_path, capsys):
    folder = tmp_path / "course"
    assert course.main(["init", str(folder)]) == 0
    (folder / "release" / "a").mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), folder / "release" / "a" / "a.ipynb")
    good, bad = tmp_path / "Copy of a (1).ipynb", tmp_path / "x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), good)
    bad.write_text("{not json")
    cases = [
        (["collect", str(folder), "a", str(bad), "--student", "s"], "not a notebook"),
        (["collect", str(folder), "a", str(good), "--student", "../s"], "--student '../s'"),
        (["collect", str(folder), "b", str(good), "--student", "s"], "no assignment 'b'"),
        (["collect", str(tmp_path), "a", str(good), "--student", "s"], "not a course folder"),
        (["init", str(folder)], "is a course already"),
        (["assign", str(folder), "99"], "no chapter '99'"),
    ]
    for argv, message in cases:
        assert course.main(argv) == 2
        assert message in capsys.readouterr().err
    assert not (folder / "submitted").exists()
    assert course.main(["collect", str(folder), "a", str(good), "--student", "s"]) == 0
    assert "handed in as 'Copy of a (1).ipynb'" in capsys.readouterr().out
    assert _files(folder / "submitted") == {"s/a/a.ipynb"}


def test_chapters_by_number_or_stem():
    assert course.chapter_path("1").name == "01_naive_rnn.ipynb"
    assert course.chapter_path("03_lstm").name == "03_lstm.ipynb"
    with pytest.raises(course.CourseError, match="the chapters are: 01_naive_rnn"):
        course.chapter_path("99")


# ----------------------------------------------------------------------------------------------
# rnnbook.sandbox: what student code can see and do
# ----------------------------------------------------------------------------------------------


@needs_sandbox
def test_sandbox_sees_only_python_and_its_own_files(tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_text("secret")
    mine = tmp_path / "mine.txt"
    mine.write_text("mine")
    probe = textwrap.dedent(
        f"""
        import os, socket
        found = {{}}
        found["secret"] = os.path.exists({str(secret)!r})
        found["mine"] = open("mine.txt").read()
        found["home"] = sorted(os.listdir("."))
        for path in ("/x", "mine.txt", "/tmp/x", "/home/student/x"):
            try:
                open(path, "a").write("x")
                found[path] = "written"
            except OSError as e:
                found[path] = type(e).__name__
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=2)
            found["net"] = "open"
        except OSError:
            found["net"] = "none"
        found["pid"], found["uid"] = os.getpid(), os.getuid()
        print(repr(found))
        """
    )
    argv = sandbox.command([sys.executable, "-I", "-c", probe], files={"mine.txt": mine})
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    found = eval(out.stdout)  # noqa: S307 (our own probe's output)
    assert found["secret"] is False and found["mine"] == "mine" and found["net"] == "none"
    assert found["/x"] == "OSError" and found["mine.txt"] == "OSError"
    assert found["/tmp/x"] == "written" and found["/home/student/x"] == "written"
    assert found["pid"] < 10 and found["uid"] == 1000
    assert not (tmp_path / "x").exists() and mine.read_text() == "mine"
    assert not sandbox.visible(tmp_path) and sandbox.visible(sys.executable)
    with pytest.raises(ValueError, match="plain file name"):
        sandbox.command(["/bin/true"], files={"../x": mine})


@needs_sandbox
def test_sandbox_limits_memory():
    hog = "import numpy as np\ntry:\n    np.ones(2**31)\nexcept MemoryError:\n    print('no')"
    limits = sandbox.Limits(memory_mb=1024)
    argv = sandbox.command([sys.executable, "-I", "-c", hog], limits=limits)
    assert subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout == "no\n"
    with pytest.raises(ValueError, match="memory_mb"):
        sandbox.Limits(memory_mb=0)


# ----------------------------------------------------------------------------------------------
# rnnbook.checker: the points come from a fresh process
# ----------------------------------------------------------------------------------------------

RNN_TEMPLATE = "def rnn_step(x, h, W_ih, W_hh, b_ih, b_hh):\n    raise NotImplementedError()"
RNN_RIGHT = (
    "def rnn_step(x, h, W_ih, W_hh, b_ih, b_hh):\n"
    "    return np.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)"
)


def _job(answer: str) -> dict:
    return {
        "context": ["import numpy as np\nfrom rnnbook import exercises, plots"],
        "solutions": [{"id": "a", "source": answer, "template": RNN_TEMPLATE}],
        "tests": [{"id": "t", "source": "exercises.check_rnn_step(rnn_step).assert_ok()"}],
        "limits": {},
        "cell_timeout": 10,
    }


@needs_sandbox
@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        (RNN_RIGHT, True, "rnn_step is correct"),
        (RNN_TEMPLATE, False, "not answered yet"),
        ("import sys\ndef rnn_step(*a):\n    sys.exit(3)", False, "rnn_step raised SystemExit"),
        ("import os\ndef rnn_step(*a):\n    os._exit(0)", False, "rnn_step raised ProcessEnded"),
        ("import os\nos._exit(0)", False, "ended the Python process"),
        ("def rnn_step(x, h, W_ih, W_hh, b_ih, b_hh)\n", False, "SyntaxError"),
        (
            "import rnnbook.exercises as e\ne.Verdict.assert_ok = lambda self: None\n"
            "exercises = None\nnp.abs = lambda v: 0 * v\n" + RNN_TEMPLATE,
            False,
            "not answered yet",
        ),
        (
            "import sys\ndef rnn_step(*a):\n    f = sys._getframe(1)\n    while f is not None:\n"
            "        if 'expected' in f.f_locals:\n            return f.f_locals['expected']\n"
            "        f = f.f_back",
            False,
            "wrong type",
        ),
    ],
    ids=["right", "blank", "sys.exit", "os._exit", "exit at top", "syntax", "patches", "stack"],
)
def test_checker_verdicts(answer, passed, says):
    result = checker.grade(_job(answer))["tests"]["t"]
    text = json.dumps(result["outputs"])
    assert result["passed"] is passed and says in text, text
    assert [o["output_type"] for o in result["outputs"]] == (
        ["display_data"] if passed else ["error"]
    )


def _chapter_job(nb) -> dict:
    """The checker's job for an assignment notebook answered with its own solutions."""
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    code = [(c, m) for c, m in zip(nb.cells, meta, strict=True) if c.cell_type == "code"]
    return {
        "context": [c.source for c, m in code if not m.get("solution") and not m.get("grade")],
        "solutions": [
            {"id": m["grade_id"], "source": c.source, "template": c.source}
            for c, m in code
            if m.get("solution")
        ],
        "tests": [{"id": m["grade_id"], "source": c.source} for c, m in code if m.get("grade")],
        "limits": {},
        "cell_timeout": 60,
    }


@needs_sandbox
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_checker_passes_every_chapters_own_solutions(path):
    """Each chapter's checks work through the sandbox: arguments and results cross it."""
    if not any(e.autograded for e in teaching.exercises(path)):
        pytest.skip(f"{path.stem} has no code exercises yet")
    results = checker.grade(_chapter_job(assignment.exercises_notebook(path)))["tests"]
    failed = {k: r["outputs"] for k, r in results.items() if not r["passed"]}
    assert not failed and len(results) >= 2, json.dumps(failed, indent=1)[:3000]


@needs_sandbox
def test_checker_time_limit_beats_a_loop_that_catches_everything():
    answer = (
        "def rnn_step(*a):\n    while True:\n        try:\n            pass\n"
        "        except BaseException:\n            pass"
    )
    job = _job(answer)
    job["tests"][0]["source"] = "exercises.check_rnn_step(rnn_step, time_limit=1).assert_ok()"
    start = time.monotonic()
    result = checker.grade(job)["tests"]["t"]
    assert not result["passed"] and "time limit" in json.dumps(result["outputs"])
    assert time.monotonic() - start < 30


# ----------------------------------------------------------------------------------------------
# The whole workflow, as book/for-instructors.md runs it
# ----------------------------------------------------------------------------------------------

MEM, RNN = "ex-01-memory-code", "ex-01-rnn-step-code"
STEP, COUNT = "ex-03-step-code", "ex-03-count-code"


def _hostile(course_dir: Path, marker: Path) -> dict[str, tuple[dict[str, str], list[str]]]:
    """Chapter 1's hostile submissions: answers by solution cell, and extra cells."""
    c = str(course_dir)
    reads = textwrap.dedent(
        f"""
        import glob, json
        found = glob.glob("../../../source/*/*.ipynb") + glob.glob({c!r} + "/source/*/*.ipynb")
        others = glob.glob("../../../submitted/*/*/*") + glob.glob({c!r} + "/submitted/*/*/*")
        print("solutions:", found, "others:", others)
        for path in found:  # were it readable, its solutions would score full marks
            for cell in json.load(open(path))["cells"]:
                if "BEGIN SOLUTION" in "".join(cell["source"]):
                    exec("".join(cell["source"]))
        """
    )
    gradebook = textwrap.dedent(
        f"""
        import sqlite3
        for path in ("../../../gradebook.db", {c!r} + "/gradebook.db"):
            try:
                db = sqlite3.connect(path)
                db.execute("update source_cell set source = 'pass', checksum = 'x'")
                db.execute("update grade_cells set max_score = 100")
                db.commit()
                print("rewrote", path)
            except Exception as e:
                print(path, type(e).__name__, e)
        """
    )
    config = textwrap.dedent(
        f"""
        payload = "\\nopen({str(marker)!r}, 'w').write('student code ran')\\n"
        for path in ("../../../nbgrader_config.py", {c!r} + "/nbgrader_config.py"):
            try:
                open(path, "a").write(payload)
                print("appended to", path)
            except OSError as e:
                print(path, type(e).__name__)
        """
    )
    plants = textwrap.dedent(
        f"""
        import os
        for name in os.listdir("."):
            try:
                os.remove(name)
            except OSError as e:
                print(name, type(e).__name__)
        for folder in (".", "../../../feedback/plants/01_naive_rnn", {c!r} + "/feedback"):
            try:
                open(folder + "/planted.html", "w").write("<script>alert(1)</script>")
            except OSError as e:
                print(folder, type(e).__name__)
        """
    )
    patch = "import rnnbook.exercises\nrnnbook.exercises.Verdict.assert_ok = lambda self: None\n"
    rebind = (
        "import types\nexercises = types.SimpleNamespace(\n    check_memory_example=lambda f: "
        "types.SimpleNamespace(assert_ok=lambda: None),\n    check_rnn_step=lambda f: "
        "types.SimpleNamespace(assert_ok=lambda: None),\n)\n"
    )
    wrong_mem = "def memory_example_outputs(x):\n    return np.zeros((x.shape[0], x.shape[1], 2))\n"
    wrong_rnn = "def rnn_step(x, h, W_ih, W_hh, b_ih, b_hh):\n    return 0 * h\n"
    loop = "    while True:\n        try:\n            pass\n"
    loop += "        except BaseException:\n            pass\n"
    return {
        "patches_verdict": ({}, [patch]),
        "rebinds_exercises": ({MEM: rebind + wrong_mem, RNN: rebind + wrong_rnn}, [rebind]),
        "patches_np_abs": (
            {MEM: "np.abs = lambda v: 0 * v\n" + wrong_mem, RNN: wrong_rnn},
            ["import numpy\nnumpy.abs = lambda v: 0 * v"],
        ),
        "reads_solutions": ({MEM: reads}, [reads]),
        "rewrites_gradebook": ({MEM: gradebook}, [gradebook]),
        "appends_to_config": ({MEM: config}, [config]),
        "plants": ({MEM: plants}, [plants]),
        "catches_base": ({RNN: "def rnn_step(*args):\n" + loop}, []),
        "os_exit": ({RNN: "import os\ndef rnn_step(*args):\n    os._exit(0)\n"}, []),
        "sys_exit": ({RNN: "import sys\ndef rnn_step(*args):\n    sys.exit()\n"}, []),
        "kills_kernel": ({MEM: "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"}, []),
        "memory_hog": ({RNN: "def rnn_step(*args):\n    return np.ones(2**33)\n"}, []),
        "stack_peek": (
            {
                RNN: "import sys\ndef rnn_step(*args):\n    f = sys._getframe(1)\n"
                "    while f is not None and 'expected' not in f.f_locals:\n        f = f.f_back\n"
                "    return f.f_locals['expected'] if f else None\n"
            },
            [],
        ),
    }


def _ordinary(answers: dict[str, str]) -> dict[str, tuple[dict[str, str], list[str], float]]:
    """Chapter 1's ordinary submissions and their scores (out of 4)."""
    right_mem, right_rnn = answers[MEM], answers[RNN]
    warns = (
        "import os, sys, warnings\nwarnings.warn('a warning', RuntimeWarning)\n"
        "print('on stderr', file=sys.stderr)\n"
    )
    noisy_rnn = right_rnn.replace(
        "    ### BEGIN SOLUTION\n",
        "    ### BEGIN SOLUTION\n    warnings.warn('careful')\n    print('x', file=sys.stderr)\n"
        "    os.write(2, b'raw stderr\\n')\n",
    )
    return {
        "right": ({MEM: right_mem, RNN: right_rnn}, [], 4),
        "blank": ({}, [], 0),
        "half": ({RNN: right_rnn}, [], 2),
        "wrong": (
            {
                MEM: "def memory_example_outputs(x):\n    return x\n",
                RNN: "def rnn_step(x, h, W_ih, W_hh, b_ih, b_hh):\n"
                "    return x @ W_ih.T + b_ih + h @ W_hh.T + b_hh\n",
            },
            [],
            0,
        ),
        "raises": ({RNN: "def rnn_step(*args):\n    return 1 / 0\n"}, [], 0),
        "wrong_shape": (
            {
                RNN: "def rnn_step(x, h, W_ih, W_hh, b_ih, b_hh):\n"
                "    return np.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).T\n"
            },
            [],
            0,
        ),
        "nan": ({RNN: "def rnn_step(x, h, *args):\n    return np.full_like(h, np.nan)\n"}, [], 0),
        "loops": ({RNN: "def rnn_step(*args):\n    while True:\n        pass\n"}, [], 0),
        "warns": ({MEM: warns + right_mem, RNN: warns + noisy_rnn}, [warns], 4),
        "zz_blank_after": ({}, [], 0),  # graded after rewrites_gradebook: still 0
    }


def _submission(release, answers: dict[str, str], extra: list[str]):
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    for k, source in enumerate(extra):
        nb.cells.insert(3 + k, nbformat.v4.new_code_cell(source))
    return nb


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    script = BIN / "rnnbook-course"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "rnnbook.course"]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([*command, *args], capture_output=True, text=True, env=env)
    if check:
        assert result.returncode == 0, f"rnnbook-course {args[0]}:\n{result.stderr[-3000:]}"
    return result


def _collect(course_dir: Path, name: str, file: Path, student: str) -> None:
    """``rnnbook-course collect``, in this process (a new Python per student is slow)."""
    assert course.main(["collect", str(course_dir), name, str(file), "--student", student]) == 0


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _gradebook_cells(course_dir: Path) -> list:
    with sqlite3.connect(course_dir / "gradebook.db") as db:
        cells = db.execute("select name, source, checksum from source_cell order by name")
        points = db.execute(
            "select b.name, g.max_score from grade_cells g join base_cell b on b.id = g.id "
            "order by b.name"
        )
        return [*cells.fetchall(), *points.fetchall()]


def _scores(csv: str) -> dict[str, tuple[float, float]]:
    rows = [line.split(",") for line in csv.strip().splitlines()]
    return {s: (float(score), float(top)) for s, _, score, top in rows}


@needs_sandbox
@pytest.mark.slow
def test_the_documented_workflow_grades_every_kind_of_submission(tmp_path):
    course_dir, marker, handed = tmp_path / "course", tmp_path / "pwned", tmp_path / "handed-in"
    handed.mkdir()
    _run("init", str(course_dir))
    _run("assign", str(course_dir), "1", "03_lstm")
    for stem in ("01_naive_rnn", "03_lstm"):
        assert _files(course_dir / "source" / stem) == {f"{stem}.ipynb"}
        assert _files(course_dir / "release" / stem) == {f"{stem}.ipynb"}
        source = nbformat.read(course_dir / "source" / stem / f"{stem}.ipynb", as_version=4)
        release = (course_dir / "release" / stem / f"{stem}.ipynb").read_text()
        for cell in source.cells:
            solution = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            for line in solution.group(1).splitlines() if solution else []:
                assert len(line.strip()) < 12 or line.strip() not in release, line
            if "{solution}" in cell.source:
                assert cell.source.splitlines()[-2] not in release  # no {solution} blocks

    source = nbformat.read(course_dir / "source/01_naive_rnn/01_naive_rnn.ipynb", as_version=4)
    release = nbformat.read(course_dir / "release/01_naive_rnn/01_naive_rnn.ipynb", as_version=4)
    answers = {
        c.metadata.nbgrader.grade_id: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    kinds = {name: (a, x, 0.0) for name, (a, x) in _hostile(course_dir, marker).items()}
    kinds |= _ordinary(answers)
    forged = _submission(release, {}, [])
    forged.cells = [c for c in forged.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    forged.cells.append(nbformat.v4.new_code_cell("pass"))
    forged.cells[-1].metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "ex-01-rnn-step-test",
        "points": 100,
        "locked": False,
        "solution": False,
        "schema_version": 3,
    }
    for student, (ans, extra, _) in kinds.items():
        name = "Copy of 01_naive_rnn.ipynb" if student == "right" else f"{student}.ipynb"
        nbformat.write(_submission(release, ans, extra), handed / name)
        _collect(course_dir, "01_naive_rnn", handed / name, student)
    # right answers in cells without nbgrader's metadata (an editor dropped it), or in a new
    # cell under the untouched template: still the student's answers
    stripped = _submission(release, answers, [])
    for cell in stripped.cells:
        cell.metadata = {}
    below = _submission(release, {}, [])
    at = next(i for i, c in enumerate(below.cells) if "def rnn_step" in c.source)
    below.cells.insert(at + 1, nbformat.v4.new_code_cell(answers[RNN]))
    for student, nb in (("metadata_lost", stripped), ("answer_below", below)):
        nbformat.write(nb, handed / f"{student}.ipynb")
        _collect(course_dir, "01_naive_rnn", handed / f"{student}.ipynb", student)
    kinds["metadata_lost"], kinds["answer_below"] = ({}, [], 4.0), ({}, [], 2.0)
    nbformat.write(forged, handed / "forged.ipynb")
    _collect(course_dir, "01_naive_rnn", handed / "forged.ipynb", "forges_cells")
    kinds["forges_cells"] = ({}, [], 0.0)
    config = (course_dir / "nbgrader_config.py").read_bytes()
    cells_before = _gradebook_cells(course_dir)

    start = time.monotonic()
    graded = _run("grade", str(course_dir), "01_naive_rnn", "--csv")
    seconds = time.monotonic() - start
    scores = _scores(graded.stdout)
    assert scores == {s: (float(k[2]), 4.0) for s, k in kinds.items()}, graded.stderr[-3000:]
    assert seconds / len(kinds) < 30, f"{seconds / len(kinds):.1f} s per submission"

    # chapter 3: the second chapter
    lstm = nbformat.read(course_dir / "source/03_lstm/03_lstm.ipynb", as_version=4)
    lstm_release = nbformat.read(course_dir / "release/03_lstm/03_lstm.ipynb", as_version=4)
    right = {
        c.metadata.nbgrader.grade_id: c.source
        for c in lstm.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    ifog = right[STEP].replace("a_i, a_f, a_g, a_o =", "a_i, a_f, a_o, a_g =")
    naive = "def lstm_num_parameters(input_size, hidden_size, variant):\n    return 0\n"
    noisy = {k: "import warnings\nwarnings.warn('w')\n" + v for k, v in right.items()}
    chapter3 = {
        "right": (right, 4.0),
        "blank": ({}, 0.0),
        "wrong": ({STEP: ifog, COUNT: naive}, 0.0),
    }
    chapter3["warns"] = (noisy, 4.0)
    for student, (ans, _) in chapter3.items():
        nbformat.write(_submission(lstm_release, ans, []), handed / f"{student}-3.ipynb")
        _collect(course_dir, "03_lstm", handed / f"{student}-3.ipynb", student)
    table = _run("grade", str(course_dir), "03_lstm").stdout  # the table this time
    rows = re.findall(r"^(\w+)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+$", table, re.M)
    assert {s: (float(a), float(b)) for s, a, b in rows} == {
        s: (v[1], 4.0) for s, v in chapter3.items()
    }, table
    assert re.search(r"^graded 4 submissions in \d+ s, [\d.]+ s each$", table, re.M), table

    # nothing of the students' ran in the instructor's commands, before or after
    assert not marker.exists()
    assert (course_dir / "nbgrader_config.py").read_bytes() == config
    assert _gradebook_cells(course_dir) == cells_before

    # the course folder holds what nbgrader writes, and nothing else
    students = {"01_naive_rnn": set(kinds), "03_lstm": set(chapter3)}
    expected = {"nbgrader_config.py", "gradebook.db"}
    for stem, names in students.items():
        expected |= {f"source/{stem}/{stem}.ipynb", f"release/{stem}/{stem}.ipynb"}
        for folder, ext in (("submitted", "ipynb"), ("autograded", "ipynb"), ("feedback", "html")):
            expected |= {f"{folder}/{s}/{stem}/{stem}.{ext}" for s in names}
    assert _files(course_dir) == expected

    # readable feedback: the verdict beside its score
    page = (course_dir / "feedback/warns/01_naive_rnn/01_naive_rnn.html").read_text()
    assert "rnn_step is correct" in page and "Score: 4.0 / 4.0" in page
    page = (course_dir / "feedback/os_exit/01_naive_rnn/01_naive_rnn.html").read_text()
    assert "rnn_step raised ProcessEnded" in page and "os._exit()" in page
    page = (course_dir / "feedback/kills_kernel/01_naive_rnn/01_naive_rnn.html").read_text()
    assert "the kernel died while running this cell" in page
    assert (
        "<script>alert"
        not in (course_dir / "feedback/plants/01_naive_rnn/01_naive_rnn.html").read_text()
    )
    print(f"\n{len(kinds)} submissions of chapter 1 graded in {seconds:.0f} s")
