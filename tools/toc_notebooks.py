"""Print the notebooks listed in _toc.yml, in reading order (used by the Makefile and tests).

Reads the toc with a few lines of plain text parsing so that it runs before .venv exists.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def toc_files() -> list[str]:
    """Every `file:` / `root:` entry of _toc.yml, without extension, in order."""
    text = (ROOT / "_toc.yml").read_text()
    return re.findall(r"^\s*(?:-\s*)?(?:file|root):\s*(\S+)\s*$", text, flags=re.M)


def toc_notebooks() -> list[str]:
    return [f + ".ipynb" for f in toc_files() if (ROOT / (f + ".ipynb")).exists()]


if __name__ == "__main__":
    print(" ".join(toc_notebooks()))
