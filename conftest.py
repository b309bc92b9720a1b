"""Root pytest configuration, loaded for the library's tests and for nbval alike.

Every notebook kernel that nbval starts inherits this process's environment, so this is where
the kernels get the book's pinned numerical environment (:func:`rnnbook.repro.environment`:
one BLAS/OpenMP thread, and one code path per math library on every AVX2 processor), exactly
as `make execute` (tools/execute.py) gives it to the kernels that store the outputs.
"""

import os
import sys

from rnnbook import repro

os.environ.update(repro.environment())
# Matplotlib's font cache names font files by path, so a cache shared with another venv (a
# second checkout, a deleted clone) makes the kernels warn on stderr: keep one per venv.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(sys.prefix, "matplotlib"))
import matplotlib.font_manager  # noqa: E402, F401  (built here, never in a kernel's stderr)
