"""Render the chapters into the copies a reader opens outside the site (colab/).

The site turns each chapter's MyST into a page; Colab, Binder and JupyterLab show a
notebook's markdown as it is. So the launch and download buttons open these copies
(_ext/rendered_copies.py): the same cells, code and stored outputs, with the markdown
converted as the site shows it (tools/myst_markdown.py: exercise headings, solutions in
``<details>``, admonitions as quotes, numbered equations, citations and cross-references
as text and links to the site), and:

- the cells the site folds (``hide-input``, ``hide-cell``, ...) folded here too
  (``jupyter.source_hidden`` / ``outputs_hidden``, and ``cellView: form`` for Colab);
- each nbgrader solution cell folded, with a note above it. It keeps its code and runs, so
  the notebook runs top to bottom without an error and each check passes; a reader who
  wants to try writes their own function in a new cell and runs the check again (the
  alternative, an empty template, would stop "Run all" at the first check);
- each figure followed by its numbered caption;
- the first code cell replaced by the pinned setup cell (``setup_cells.pinned_source``).

The pin is the last commit that changed notebooks/, lib/ or pyproject.toml (``git log -1
-- notebooks lib pyproject.toml``), recorded in each copy's ``metadata.rnnbook.commit``.
Rendering refuses while lib/ or pyproject.toml differ from it, so the library a copy
installs is the one its chapter's outputs are checked against. A later commit that leaves
them alone does not make the copies stale; a changed chapter or library does (``--check``).

    python tools/render.py                    # write colab/<chapter>.ipynb for the toc
    python tools/render.py --check            # exit 1 if a copy is missing or stale
    python tools/render.py --out DIR --allow-dirty [chapters]   # preview copies elsewhere
"""

from __future__ import annotations

import argparse
import copy
import json
import posixpath
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import setup_cells
import yaml
from myst_markdown import COPIES, Book, Doc, RenderError, parser, site_url
from pybtex.database import BibliographyData, parse_file

__all__ = ["Book", "RenderError", "load_book", "problems", "render", "render_notebook"]

ROOT = Path(__file__).resolve().parent.parent
PIN_PATHS = ("notebooks", "lib", "pyproject.toml")
LIBRARY_PATHS = ("lib", "pyproject.toml")
FOLD = {
    "hide-input": (True, False),
    "remove-input": (True, False),
    "hide-output": (False, True),
    "remove-output": (False, True),
    "hide-cell": (True, True),
    "remove-cell": (True, True),
}


def read_notebook(path: Path):
    """A notebook as stored, with a fixed id for a cell that has none (nbformat's own read
    would make up a random one, and the copies must come out the same every time)."""
    text = path.read_text()
    if json.loads(text).get("nbformat") == 4:
        nb = nbformat.v4.nbjson.reads(text)  # joins the lines; does not add ids
    else:
        nb = nbformat.reads(text, as_version=4)
    nb.nbformat_minor = max(nb.get("nbformat_minor", 0), 5)
    for index, cell in enumerate(nb.cells):
        cell.setdefault("id", f"cell-{index}")
    return nb


def load_book(root: Path = ROOT) -> Book:
    """Every page of the toc (notebooks and markdown pages), with the bibliography."""
    conf = yaml.safe_load((root / "_config.yml").read_text())
    docs = {}
    for entry in toc_files(root):
        if (root / f"{entry}.ipynb").exists():
            docs[entry] = read_notebook(root / f"{entry}.ipynb").cells
        elif (root / f"{entry}.md").exists():
            docs[entry] = [nbformat.v4.new_markdown_cell((root / f"{entry}.md").read_text())]
    bib = BibliographyData()
    for name in conf.get("bibtex_bibfiles", []):
        for key, entry in parse_file(str(root / name)).entries.items():
            bib.add_entry(key, entry)
    extensions = conf.get("parse", {}).get("myst_enable_extensions", [])
    style = (conf.get("sphinx", {}).get("config") or {}).get("bibtex_default_style", "alpha")
    sys.path.insert(0, str(root / "_ext"))
    import bibliography  # the book's own pybtex styles, as the site build registers them

    bibliography.register()
    return Book(docs, site=site_url(conf), bib=bib, md=parser(extensions), bib_style=style)


# --- notebooks ---------------------------------------------------------------------------


def fold(cell, source: bool, outputs: bool) -> None:
    """Fold a cell in Jupyter (``jupyter`` metadata) and its code in Colab (``cellView``)."""
    jupyter = cell.metadata.setdefault("jupyter", {})
    if source:
        jupyter["source_hidden"] = True
        cell.metadata["cellView"] = "form"
    if outputs:
        jupyter["outputs_hidden"] = True


def solution_note(cell) -> str:
    names = re.findall(r"^def (\w+)", cell.source, flags=re.M)
    what = " and ".join(f"`{n}`" for n in names) or "your answer"
    return (
        "*The next cell holds a solution, folded: click it to unfold it. It runs with the "
        f"rest of the notebook. To try the exercise yourself, write {what} in a new cell "
        "below it, run that cell, then run the check: it tests the definition that ran last.*"
    )


def render_notebook(book: Book, docname: str, nb, commit: str):
    """The reader's copy of one chapter (a new notebook; ``nb`` is left as it was)."""
    doc = Doc(book, docname, scan=False)
    copy_nb = copy.deepcopy(nb)
    cells = []
    setup_done = False
    for cell in copy_nb.cells:
        cell_id = cell["id"]
        if cell.cell_type == "markdown":
            cell.source = doc.convert(cell.source)
            cells.append(cell)
            continue
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        doc.flush_targets()
        tags = cell.metadata.get("tags", [])
        if not setup_done:
            setup_done = True
            cell.source = setup_cells.pinned_source(commit)
            cell.outputs, cell.execution_count = [], None
            fold(cell, True, False)  # its first line says what it does; its output, what it did
        else:
            for tag in tags:
                if tag in FOLD:
                    fold(cell, *FOLD[tag])
        if cell.metadata.get("nbgrader", {}).get("solution"):
            fold(cell, True, False)
            note = nbformat.v4.new_markdown_cell(solution_note(cell), id=f"{cell_id}-note")
            cells.append(note)
        cells.append(cell)
        captions = doc.figures(cell)
        for k, caption in enumerate(captions):
            cells.append(nbformat.v4.new_markdown_cell(caption, id=f"{cell_id}-caption-{k}"))
    copy_nb.cells = cells
    copy_nb.metadata["colab"] = {"provenance": [], "toc_visible": True}
    copy_nb.metadata["rnnbook"] = {"commit": commit, "source": f"{docname}.ipynb"}
    return copy_nb


def rendered_text(book: Book, docname: str, commit: str, root: Path = ROOT) -> str:
    nb = read_notebook(root / f"{docname}.ipynb")
    return nbformat.writes(render_notebook(book, docname, nb, commit)) + "\n"


# --- the pin -----------------------------------------------------------------------------


def git(*args: str, root: Path = ROOT) -> str:
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RenderError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def book_commit(root: Path = ROOT) -> str:
    """The commit the copies pin: the last one that changed the chapters or the library."""
    commit = git("log", "-1", "--format=%H", "--", *PIN_PATHS, root=root)
    if not commit:
        raise RenderError("no commit holds the chapters yet: commit them, then render")
    return commit


def library_changes(commit: str, root: Path = ROOT) -> list[str]:
    """Files of lib/ and pyproject.toml that differ between ``commit`` and the work tree."""
    changed = git("diff", "--name-only", commit, "--", *LIBRARY_PATHS, root=root).split()
    new = git("ls-files", "--others", "--exclude-standard", "--", *LIBRARY_PATHS, root=root)
    return changed + new.split()


def toc_files(root: Path = ROOT) -> list[str]:
    """The toc's entries in order (the same reading as tools/toc_notebooks.py)."""
    text = (root / "_toc.yml").read_text()
    return re.findall(r"^\s*(?:-\s*)?(?:file|root):\s*(\S+)\s*$", text, flags=re.M)


def has_history(root: Path = ROOT) -> bool:
    """False for an export without .git or for a shallow clone: no pin can be checked."""
    if not (root / ".git").exists():
        return False
    return git("rev-parse", "--is-shallow-repository", root=root) != "true"


def chapters(root: Path = ROOT) -> list[str]:
    """The docnames of the toc's notebooks, e.g. ``notebooks/05_gru``."""
    return [entry for entry in toc_files(root) if (root / f"{entry}.ipynb").exists()]


def copy_path(docname: str, out: Path) -> Path:
    return out / f"{posixpath.basename(docname)}.ipynb"


def problems(root: Path = ROOT, book: Book | None = None) -> list[str]:
    """Why colab/ is not what `make render` would write now (empty when it is current)."""
    out, found = root / COPIES, []
    wanted = {copy_path(d, out): d for d in chapters(root)}
    for extra in sorted(set(out.glob("*.ipynb")) - set(wanted)):
        found.append(f"{extra.relative_to(root)} is no chapter of the toc any more")
    book = book or load_book(root)
    commits = set()
    for path, docname in wanted.items():
        if not path.exists():
            found.append(f"{path.relative_to(root)} is missing")
            continue
        text = path.read_text()
        commit = nbformat.reads(text, as_version=4).metadata.get("rnnbook", {}).get("commit", "")
        commits.add(commit)
        try:
            expected = rendered_text(book, docname, commit, root)
        except ValueError as error:
            found.append(f"{path.relative_to(root)}: {error}")
            continue
        if text != expected:
            found.append(f"{path.relative_to(root)} differs from {docname}.ipynb rendered now")
    for commit in sorted(commits) if has_history(root) else []:
        try:
            git("merge-base", "--is-ancestor", commit, "HEAD", root=root)
            changed = library_changes(commit, root)
        except RenderError:
            found.append(f"the copies pin {commit[:12]}, which is not in this branch's history")
            continue
        if changed:
            found.append(f"the library changed since the pinned {commit[:12]}: {changed[:3]}")
    return found


def render(
    root: Path = ROOT,
    out: Path | None = None,
    docs: list[str] | None = None,
    commit: str | None = None,
    allow_dirty: bool = False,
) -> tuple[str, list[Path]]:
    """Write the copies of ``docs`` (default: every chapter) into ``out`` (default: colab/,
    where copies of chapters no longer in the toc are removed); return the pin and what
    changed. Refuses while lib/ or pyproject.toml differ from the pinned commit."""
    commit = commit or book_commit(root)
    changed = library_changes(commit, root)
    if changed and not allow_dirty:
        raise RenderError(
            f"{', '.join(changed[:5])} differ from the pinned commit {commit[:12]}: "
            "commit them first, then `make render`, then commit colab/"
        )
    book = load_book(root)
    target = out or root / COPIES
    target.mkdir(parents=True, exist_ok=True)
    touched = []
    for docname in docs or chapters(root):
        path = copy_path(docname, target)
        text = rendered_text(book, docname, commit, root)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            touched.append(path)
    if out is None and docs is None:
        for extra in sorted(set(target.glob("*.ipynb")) - set(touched)):
            if extra.stem not in {posixpath.basename(d) for d in chapters(root)}:
                extra.unlink()
                touched.append(extra)
    return commit, touched


def main(argv: list[str]) -> int:
    parser_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser_.add_argument("--check", action="store_true", help="exit 1 if colab/ is stale")
    parser_.add_argument("--out", type=Path, help="write the copies here, not into colab/")
    parser_.add_argument("--commit", help="pin this commit (default: the book's last change)")
    parser_.add_argument(
        "--allow-dirty", action="store_true", help="render although lib/ has changes"
    )
    parser_.add_argument("chapters", nargs="*", help="docnames, e.g. notebooks/05_gru")
    args = parser_.parse_args(argv)
    try:
        if args.check:
            found = problems()
            for problem in found:
                print(problem)
            if found:
                print("run `make render` (after committing the chapters and the library)")
            return 1 if found else 0
        docs = [c.removesuffix(".ipynb") for c in args.chapters] or None
        commit, touched = render(ROOT, args.out, docs, args.commit, args.allow_dirty)
    except RenderError as error:
        print(f"render: {error}", file=sys.stderr)
        return 1
    for path in touched:
        print(f"{'rendered' if path.exists() else 'removed'} {path}")
    print(f"the copies pin commit {commit}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
