"""`make bench`: the library's speed against PyTorch, and the book's own cost.

Prints one Markdown report and writes it to _build/bench.md and to book/bench-latest.md
(which the appendix page book/performance.md includes, so the site shows the latest run).

    python benchmarks/run.py            # everything (a few minutes)
    python benchmarks/run.py --cells    # only the cells against torch
"""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tools")]

import cells  # noqa: E402
import numpy as np  # noqa: E402
import pinning  # noqa: E402
import toc_notebooks  # noqa: E402
import torch  # noqa: E402

TARGET_RATIOS = {"LSTM": 1.5, "GRU": 1.0}  # library fwd+bwd / torch, float32, one thread
TARGET_CHAPTER_S = 90.0
TARGET_COMPARISON_S = 180.0
TARGET_BUILD_S = 60.0


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from threadpoolctl import threadpool_info

    blas = ", ".join(f"{i['internal_api']} {i['version']}" for i in threadpool_info()) or "?"
    return (
        f"{cpu}, {__import__('os').cpu_count()} cores; Python {platform.python_version()}, "
        f"NumPy {np.__version__} ({blas}), PyTorch {torch.__version__}; "
        f"measured {datetime.date.today().isoformat()}"
    )


def cells_report() -> str:
    rows, peaks = cells.run()
    ms = 1e3
    out = [
        f"### Forward+backward, T={cells.T}, B={cells.B}, I={cells.I}, H={cells.H} "
        f"(median of {cells.REPEATS})",
        "",
        "| cell | dtype | threads | library (ms) | torch (ms) | library / torch |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        out.append(
            f"| {r.cell} | {r.dtype} | {r.threads} | {r.library * ms:.1f} "
            f"| {r.torch * ms:.1f} | {r.ratio:.2f} |"
        )
    out += ["", "### LSTM : GRU cost against the 4 : 3 that counting matmuls predicts", ""]
    out += [
        "| dtype | threads | library | torch | predicted |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    by = {(r.cell, r.dtype, r.threads): r for r in rows}
    for r in rows:
        if r.cell == "LSTM":
            g = by[("GRU", r.dtype, r.threads)]
            out.append(
                f"| {r.dtype} | {r.threads} | {r.library / g.library:.2f} "
                f"| {r.torch / g.torch:.2f} | {4 / 3:.2f} |"
            )
    out += ["", "### Share of the machine's matmul throughput reached by the library's LSTM", ""]
    out += [
        "| dtype | threads | matmul peak (GFLOP/s) | library LSTM (GFLOP/s) | share |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        if r.cell == "LSTM":
            threads = 1 if r.threads == "1" else int(r.threads.split("(")[1].rstrip(")"))
            peak = peaks[f"{r.dtype}, {threads} thread(s)"]
            achieved = cells.matmul_flops(4) / r.library / 1e9
            out.append(
                f"| {r.dtype} | {r.threads} | {peak:.1f} | {achieved:.1f} | {achieved / peak:.0%} |"
            )
    out += ["", *targets(by)]
    return "\n".join(out)


def targets(by: dict) -> list[str]:
    """One line per cell of :data:`TARGET_RATIOS`: its float32 one-thread ratio to torch."""
    lines = []
    for cell, target in TARGET_RATIOS.items():
        r = by[(cell, "float32", "1")]
        verdict = "met" if r.ratio <= target else "missed"
        lines.append(
            f"Target: the library's {cell} forward+backward (T={cells.T}, B={cells.B}, "
            f"I={cells.I}, H={cells.H}) at most {target:g}x torch.nn.{cell}'s, float32, one "
            f"thread: **{r.ratio:.2f}x, {verdict}**."
        )
    return lines


def build_time(path_output: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(ROOT / ".venv/bin/jupyter-book"), "build", str(ROOT), "-W", "-n", "--keep-going",
         "--path-output", str(path_output)],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def book_report() -> str:
    # Imported here: execute pins the numerics (rnnbook.repro) for the chapters it runs, which
    # would also hold back torch in the cells' comparison above (AVX2, one thread).
    from execute import execute

    out = ["### The book's own cost", "", "| what | seconds | target |", "| --- | ---: | ---: |"]
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name in toc_notebooks.toc_notebooks():
            copy = Path(tmp) / Path(name).name
            shutil.copy(ROOT / name, copy)
            seconds = execute(copy)
            total += seconds
            target = TARGET_COMPARISON_S if "which_one" in name else TARGET_CHAPTER_S
            flag = "" if seconds <= target else " (missed)"
            out.append(f"| re-execute {name} | {seconds:.1f} | < {target:g}{flag} |")
        out.append(f"| re-execute every chapter | {total:.1f} | |")
        cold = build_time(Path(tmp) / "site")
        warm = build_time(Path(tmp) / "site")
    out.append(f"| build the site from stored outputs, cold | {cold:.1f} | < {TARGET_BUILD_S:g} |")
    out.append(f"| build the site again, nothing changed (warm) | {warm:.1f} | |")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    load = "load average {:.1f} {:.1f} {:.1f} (1, 5, 15 min)".format(*os.getloadavg())
    parts = [f"Machine: {machine()}; {load} at the start.", "", cells_report()]
    if "--cells" not in argv:
        parts += ["", book_report()]
    else:
        parts += ["", "The book's own cost was not measured in this run (`--cells`); `make bench`"]
        parts += ["measures it."]
    report = "\n".join(parts) + "\n"
    print(report)
    if "--cells" not in argv:
        pinning.main()  # the pinned environment's cost: book/pinning-latest.md
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "bench.md").write_text(report)
    (ROOT / "book" / "bench-latest.md").write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
