"""Write the student copy of every chapter into _build/student/ (`make student`).

A student copy is what `rnnbook-course assign` hands out: the chapter's exercises and the
code they need, with the solutions removed by nbgrader's own `generate_assignment`. This
makes them the same way, in a throwaway course, and copies the released notebooks.

    python tools/student.py [OUT]     # default _build/student
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import toc_notebooks

from rnnbook import course, teaching

ROOT = Path(__file__).resolve().parent.parent


def main(out: Path = ROOT / "_build" / "student") -> int:
    chapters = [ROOT / p for p in toc_notebooks.toc_notebooks()]
    stems = [p.stem for p in chapters if teaching.exercises(p)]
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rnnbook-student-") as tmp:
        folder = Path(tmp) / "course"
        if course.main(["init", str(folder)]) or course.main(["assign", str(folder), *stems]):
            return 1
        for stem in stems:
            target = out / f"{stem}.ipynb"
            shutil.copyfile(folder / "release" / stem / f"{stem}.ipynb", target)
            print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "student"))
