"""Shared fixtures: seeded deal data with a known truth, loaded through the real loader."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as the bot sets it: small matrices, no thread overhead

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from insights.load import from_table  # noqa: E402
from insights.synthetic import DealSpec, demo_spec, generate_deals  # noqa: E402


def snapshot_of(spec: DealSpec):
    return from_table(generate_deals(spec), source=f"synthetic seed {spec.seed}")


@pytest.fixture(scope="session")
def demo():
    """The bundled demo's story: APAC's win rate falls from about 43% to 21% in 2024Q2."""
    return snapshot_of(demo_spec())


@pytest.fixture(scope="session")
def noise():
    """No effect anywhere: every deal wins with probability 0.45."""
    return snapshot_of(DealSpec(n_deals=7_000, seed=11))
