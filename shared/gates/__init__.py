"""The gate run template, its context and session; idle compute threads sleep in gate processes.

Every process that runs a gate (a KFP task, ``quality-gates check``, the Python API) imports this
package before numpy, scikit-learn or scipy load their thread pools, so this is where their idle
policy is set. By default OpenMP (scikit-learn's boosted trees) and OpenBLAS threads spin for a
while after each parallel region, waiting for the next one; on a machine or pod whose cores are
shared that spinning is most of the CPU time a gate burns (the performance gate at 100k rows:
about 40 CPU-s spinning or 16 CPU-s sleeping, same numbers). Only the idle behaviour changes:
the thread counts, and so every result, stay as they are. A value the user set wins.
"""

import os

_IDLE_THREADS_SLEEP = {
    # libgomp: threads sleep as soon as a parallel region ends instead of spinning.
    "OMP_WAIT_POLICY": "PASSIVE",
    # OpenBLAS: a worker waits 2**4 cycles before it sleeps (the default is 2**28).
    "OPENBLAS_THREAD_TIMEOUT": "4",
}

for _name, _value in _IDLE_THREADS_SLEEP.items():
    os.environ.setdefault(_name, _value)
