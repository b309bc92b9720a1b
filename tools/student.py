"""Write student copies of every chapter into _build/student/ (`make student`).

Solutions are replaced by `raise NotImplementedError()` (nbgrader's ClearSolutions), the
folded {solution} blocks are removed, and outputs are cleared. The copies run top to bottom;
only the exercise test cells fail until the student answers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import toc_notebooks

from rnnbook.teaching import student_copy

ROOT = Path(__file__).resolve().parent.parent


def main(out: Path = ROOT / "_build" / "student") -> int:
    out.mkdir(parents=True, exist_ok=True)
    for name in toc_notebooks.toc_notebooks():
        nb = student_copy(nbformat.read(ROOT / name, as_version=4))
        target = out / Path(name).name
        nbformat.write(nb, target)
        print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "student"))
