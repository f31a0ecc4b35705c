"""Run by ``mpiexec -n 2``: rank 1 raises while rank 0 waits for it in an all_reduce. The job
must end, not hang: the excepthook of ournn.distributed aborts every process."""
import time

import ournn
import ournn.distributed as dist

dist.init_process_group()
if dist.get_rank() == 1:
    time.sleep(0.5)
    raise RuntimeError("rank 1 fails on purpose")
t = ournn.ones(3)
dist.all_reduce(t)          # never completes: rank 1 is gone
print("rank 0 went past the all_reduce", flush=True)
