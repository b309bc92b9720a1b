"""What the pinned numerical environment (rnnbook.repro) buys and costs, measured.

A small probe (30 Adam steps of a torch LSTM, the library's NumPy LSTM forward and
backward, a NumPy matmul and tanh) runs in a fresh process under several environments. For
each it prints a hash of every output bit and the probe's CPU time. Changing the processor's
instruction set that MKL may use (MKL_ENABLE_INSTRUCTIONS, which is what a different CPU
does) changes the bits with the defaults and leaves them unchanged when pinned.

    python benchmarks/pinning.py    # prints a Markdown table, writes book/pinning-latest.md

`make bench` runs it too. book/reproducibility.md includes the latest table.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

from rnnbook import repro

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import hashlib, time
import numpy as np, torch
from rnnbook import cells, train
train.deterministic()
start = time.process_time()
digest = hashlib.sha256()
for _ in range(3):
    torch.manual_seed(0)
    net = torch.nn.LSTM(32, 64)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x = torch.randn(50, 16, 32)
    for _ in range(30):
        opt.zero_grad()
        out, _ = net(x)
        out.square().mean().backward()
        opt.step()
    cell = cells.LSTMCell(32, 64, seed=0)
    xs = np.random.default_rng(0).normal(size=(50, 16, 32))
    hs, _, cache = cell.forward(xs)
    grads = cell.backward(np.ones_like(hs), cache)
    a = np.random.default_rng(1).normal(size=(300, 300))
for t in (*net.parameters(), out):
    digest.update(t.detach().numpy().tobytes())
for v in (hs, *grads.values(), np.tanh(a @ a.T)):
    digest.update(np.ascontiguousarray(v).tobytes())
print(digest.hexdigest()[:12], time.process_time() - start)
"""


def run(env: dict[str, str]) -> tuple[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    digest, seconds = out.stdout.split()
    return digest, float(seconds)


def report(repeats: int = 3) -> str:
    base = {k: v for k, v in os.environ.items() if k not in repro.PINNED}
    plain = {**base, **repro.THREADS}
    pinned = repro.environment(base)
    configs = {"threads only": plain, "pinned": pinned}
    for name in repro.PINNED:
        configs[f"threads + {name}"] = {**plain, name: repro.PINNED[name]}
    for isa in ("AVX2", "AVX512"):
        configs[f"threads only, MKL_ENABLE_INSTRUCTIONS={isa}"] = {
            **plain,
            "MKL_ENABLE_INSTRUCTIONS": isa,
        }
        configs[f"pinned, MKL_ENABLE_INSTRUCTIONS={isa}"] = {
            **pinned,
            "MKL_ENABLE_INSTRUCTIONS": isa,
        }
    times: dict[str, list[float]] = {name: [] for name in configs}
    digests: dict[str, str] = {}
    for _ in range(repeats):  # interleaved, so that a busy spell hits every configuration
        for name, env in configs.items():
            digests[name], seconds = run(env)
            times[name].append(seconds)
    reference = min(times["threads only"])
    lines = [
        "| environment | output bits (hash) | CPU time / threads only |",
        "| --- | --- | ---: |",
    ]
    for name in configs:
        lines.append(f"| {name} | `{digests[name]}` | {min(times[name]) / reference:.2f} |")
    return "\n".join(lines)


def main() -> int:
    if not repro._has_avx2():
        print("the pinned environment applies to x86-64 CPUs with AVX2 only")
        return 0
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")),
        "?",
    )  # fmt: skip
    text = f"Measured on {cpu}, {datetime.date.today().isoformat()}.\n\n{report()}\n"
    print(text)
    (ROOT / "book" / "pinning-latest.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
