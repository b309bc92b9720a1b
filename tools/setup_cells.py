"""Write the book's setup cell as the first code cell of every chapter notebook.

The cell is generated from _config.yml (the repository URL and branch live there and only
there). In Colab it pip-installs `rnnbook` from the repository; elsewhere it does nothing.
The environment variable RNNBOOK_REPO overrides the URL (the tests use it to install from
a local clone without internet).

    python tools/setup_cells.py            # rewrite the first code cell of every notebook
    python tools/setup_cells.py --check    # exit 1 if any notebook's first code cell differs
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
TAGS = ["remove-cell"]  # the site does not show it; the downloaded notebook has it


def repository() -> tuple[str, str]:
    """The repository URL and branch from _config.yml."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def setup_source() -> str:
    """The source of the setup cell, generated from _config.yml."""
    url, branch = repository()
    return f'''\
# Setup: the same first cell in every chapter (generated from _config.yml by tools/setup_cells.py).
# In Google Colab it installs the book's library, rnnbook, from the repository;
# elsewhere it does nothing.
import os
import subprocess
import sys

if "google.colab" in sys.modules:
    repo = os.environ.get("RNNBOOK_REPO", "{url}")
    spec = f"rnnbook @ git+{{repo}}@{branch}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", spec], check=True)'''


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def first_code_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def is_current(path: Path) -> bool:
    cell = first_code_cell(nbformat.read(path, as_version=4))
    return cell is not None and cell.source == setup_source()


def write(path: Path) -> bool:
    """Make the first code cell the setup cell (inserting one if needed); True if changed."""
    nb = nbformat.read(path, as_version=4)
    cell = first_code_cell(nb)
    if cell is not None and cell.source.startswith("# Setup: the same first cell"):
        if cell.source == setup_source() and cell.metadata.get("tags") == TAGS:
            return False
        cell.source = setup_source()
    else:
        cell = nbformat.v4.new_code_cell(setup_source())
        index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        nb.cells.insert(index, cell)
    cell.metadata["tags"] = TAGS
    cell.outputs = []
    nbformat.validator.normalize(nb)
    nbformat.write(nb, path)
    return True


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = [p.name for p in notebooks() if not is_current(p)]
        for name in stale:
            print(f"{name}: first code cell is not the setup cell; run `make setup-cells`")
        return 1 if stale else 0
    for path in notebooks():
        if write(path):
            print(f"updated setup cell: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
