"""Root pytest configuration, loaded for the library's tests and for nbval alike.

One BLAS and OpenMP thread for every test and every notebook kernel (the kernels inherit
this environment): the stored outputs are produced the same way by tools/execute.py, small
matmuls run faster on one thread than on a shared 2-core machine, and results do not
depend on how a library splits its work between threads.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
