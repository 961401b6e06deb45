"""Sales Intelligence's front ends: the command grammar, Slack app, console and clock."""
import os

# The analyses multiply small matrices (a few thousand cells at most), where BLAS threads cost
# far more than they save and fight the web server's threads for the two cores: one thread each.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
