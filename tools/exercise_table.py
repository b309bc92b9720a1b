"""Print the tables of book/for-instructors.md (exercises, and time per chapter) from the notebooks.

    python tools/exercise_table.py           # print both tables
    python tools/exercise_table.py --write   # replace them in book/for-instructors.md

The tables sit between `<!-- exercise-table -->` / `<!-- end -->` and `<!-- time-table -->` /
`<!-- end -->` markers; tests/test_teaching.py fails when they differ from the notebooks.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import toc_notebooks

from rnnbook.teaching import exercise_table, time_table

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "for-instructors.md"


def tables() -> dict[str, str]:
    paths = [ROOT / p for p in toc_notebooks.toc_notebooks()]
    return {"exercise-table": exercise_table(paths), "time-table": time_table(paths)}


def page_tables(text: str) -> dict[str, str]:
    return {
        name: m.group(1).strip()
        for name in ("exercise-table", "time-table")
        if (m := re.search(rf"<!-- {name} -->\n(.*?)<!-- end -->", text, re.S))
    }


def write() -> None:
    text = PAGE.read_text()
    for name, table in tables().items():
        text = re.sub(
            rf"<!-- {name} -->\n.*?<!-- end -->",
            lambda _m, n=name, t=table: f"<!-- {n} -->\n{t}\n<!-- end -->",
            text,
            flags=re.S,
        )
    PAGE.write_text(text)


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    else:
        for table in tables().values():
            print(table, end="\n\n")
