"""The book's frame: toc, config, setup cells and the Colab install path."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import setup_cells
import toc_notebooks
import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_every_toc_entry_exists():
    for entry in toc_notebooks.toc_files():
        matches = [ROOT / (entry + ext) for ext in (".md", ".ipynb")]
        assert any(p.exists() for p in matches), f"_toc.yml names {entry}, which does not exist"


def test_every_notebook_is_in_the_toc():
    listed = set(toc_notebooks.toc_notebooks())
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        name = str(path.relative_to(ROOT))
        assert name in listed, f"{name} is not in _toc.yml: add it or remove it"


def test_config_builds_from_stored_outputs():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True
    assert config["launch_buttons"]["colab_url"].startswith("https://colab.research.google.com")
    assert config["html"]["use_download_button"] is True


def test_repository_url_lives_only_in_config():
    url, _ = setup_cells.repository()
    hits = []
    for path in ROOT.rglob("*"):
        if any(part in {".git", ".venv", "_build", "node_modules"} for part in path.parts):
            continue
        if path.is_file() and path.suffix in {".py", ".md", ".yml", ".toml", ".cfg", ""}:
            if path.name != "_config.yml" and url in path.read_text(errors="ignore"):
                hits.append(str(path.relative_to(ROOT)))
    assert hits == [], f"the repository URL is repeated outside _config.yml in {hits}"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_first_code_cell_is_the_generated_setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    cell = setup_cells.first_code_cell(nb)
    assert cell is not None and cell.source == setup_cells.setup_source(), (
        f"{path.name}: the first code cell differs from the generated setup cell; "
        "run `make setup-cells`"
    )
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_setup_cell_does_nothing_outside_colab(capsys):
    assert "google.colab" not in sys.modules
    exec(compile(setup_cells.setup_source(), "setup-cell", "exec"), {})
    assert capsys.readouterr() == ("", "")


def test_setup_cell_calls_pip_with_the_configured_url_in_colab(monkeypatch):
    calls = []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv("RNNBOOK_REPO", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append(cmd))
    exec(compile(setup_cells.setup_source(), "setup-cell", "exec"), {})
    url, branch = setup_cells.repository()
    assert calls == [
        [sys.executable, "-m", "pip", "install", "-q", f"rnnbook @ git+{url}@{branch}"]
    ]


def _colab_like_site(tmp: Path) -> Path:
    """A folder that holds this environment's packages except rnnbook, as Colab preinstalls
    numpy, torch, matplotlib, ipywidgets and tqdm but not the book's library."""
    import numpy

    site = Path(numpy.__file__).resolve().parent.parent
    colab = tmp / "colab-site"
    colab.mkdir()
    for entry in site.iterdir():
        if "rnnbook" in entry.name or entry.suffix == ".pth":
            continue
        (colab / entry.name).symlink_to(entry)
    return colab


@pytest.mark.slow
def test_colab_path_installs_rnnbook_from_a_clone(tmp_path):
    """Run the setup cell, as Colab would, in a fresh venv against a local clone."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    if subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True
    ).returncode:
        pytest.skip("the repository has no commit to clone yet")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    _, branch = setup_cells.repository()
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "-B", branch], check=True)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "colab_preinstalled.pth").write_text(str(_colab_like_site(tmp_path)) + "\n")

    fake_colab = (
        "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
    )
    script = fake_colab + setup_cells.setup_source()
    # file://localhost/...: older pip rejects a git+file URL with an empty host
    env = {**os.environ, "RNNBOOK_REPO": f"file://localhost{clone}"}
    env.pop("PYTHONPATH", None)
    subprocess.run([python, "-c", script], check=True, env=env, cwd=tmp_path, timeout=600)

    probe = "import rnnbook, rnnbook.cells; print(rnnbook.__file__)"
    where = subprocess.run(
        [python, "-c", probe], check=True, capture_output=True, text=True, env=env, cwd=tmp_path
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), f"rnnbook was imported from {where}, not the new venv"


# The page a student reads (issue 17), checked in the notebooks themselves (the browser
# tests in test_site.py check the built pages).
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
FOLDED = {"hide-cell", "hide-input", "remove-cell", "remove-input"}
IMAGES = ("image/png", "image/svg+xml", "image/jpeg")


def _code_width() -> int:
    """The chapters' code width, from notebooks/ruff.toml (the site's code column)."""
    import tomllib

    return tomllib.loads((ROOT / "notebooks" / "ruff.toml").read_text())["line-length"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_keep_the_page_clean(path):
    """Solutions folded, checks folded, no nbval markers, captioned figures, code that fits."""
    nb = nbformat.read(path, as_version=4)
    width = _code_width()
    problems = []
    for k, cell in enumerate(nb.cells):
        tags = set(cell.metadata.get("tags", []))
        where = f"cell {k} ({cell.get('id', '?')})"
        if "NBVAL" in cell.source:
            problems.append(f"{where}: an NBVAL marker; use the cell tag nbval-ignore-output")
        if cell.cell_type != "code":
            continue
        grader = cell.metadata.get("nbgrader", {})
        prompt = cell.metadata.get("mystnb", {}).get("code_prompt_show")
        if grader.get("solution") and ("hide-input" not in tags or prompt != "Show solution"):
            problems.append(
                f"{where}: a code solution not folded: tag it hide-input and set "
                '"mystnb": {"code_prompt_show": "Show solution", ...}'
            )
        if not tags & FOLDED and not grader and re.search(r"^\s*assert\b", cell.source, re.M):
            problems.append(f"{where}: asserts in a cell the reader sees; move them to a hide-cell")
        if not tags & {"remove-cell", "remove-input"}:
            long = [line for line in cell.source.splitlines() if len(line) > width]
            if long:
                problems.append(f"{where}: {len(long)} lines over {width} characters: {long[0]!r}")
        drawn = any(
            mime in out.get("data", {}) for out in cell.get("outputs", []) for mime in IMAGES
        )
        figure = cell.metadata.get("mystnb", {}).get("figure", {})
        if drawn and not (figure.get("caption") and figure.get("name")):
            problems.append(
                f'{where}: an output figure without "mystnb": '
                '{"figure": {"caption": ..., "name": "fig-NN-..."}}'
            )
    assert not problems, f"{path.name}:\n" + "\n".join(problems)
