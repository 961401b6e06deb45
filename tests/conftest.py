"""Shared fixtures: seeded deal data with a known truth, loaded through the real loader."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # as the bot sets it: small matrices, no thread overhead
# the engine counts each test's data afresh (its on-disk cache is tested by test_engine_cache.py, in folders
# of its own)
os.environ.setdefault("DEALS_ENGINE_CACHE", "off")

ROOT = Path(__file__).resolve().parent.parent
# the project, the stand-ins (tests/standins) and the measurement scripts the tests share (tests/measure)
for _path in (ROOT, ROOT / "tests" / "standins", ROOT / "tests" / "measure"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import contextlib  # noqa: E402
import uuid  # noqa: E402

from sqlalchemy import create_engine, text  # noqa: E402

from insights.load import from_table  # noqa: E402
from insights.synthetic import DealSpec, demo_spec, generate_deals  # noqa: E402


def snapshot_of(spec: DealSpec):
    return from_table(generate_deals(spec), source=f"synthetic seed {spec.seed}")


@pytest.fixture(scope="session")
def demo():
    """The bundled demo's story: APAC's win rate falls from about 43% to 21% in 2024Q2."""
    return snapshot_of(demo_spec())


@pytest.fixture(scope="session")
def demo_csv(tmp_path_factory):
    """The demo deals written to a CSV and read back: what a source of the same deals must answer like."""
    from insights.load import load_deals
    from insights.synthetic import write_csv

    path = tmp_path_factory.mktemp("demo_csv") / "deals.csv"
    write_csv(generate_deals(demo_spec()), path)
    return load_deals(path)


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """A SQLite state store of the module's own (DATABASE_URL) for the app the module starts."""
    return f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.sqlite'}"


def reply_body(text: str) -> str:
    """A reply without its first line (which names the source)."""
    return text.split("\n", 1)[1] if "\n" in text else text


@pytest.fixture(scope="session")
def noise():
    """No effect anywhere: every deal wins with probability 0.45."""
    return snapshot_of(DealSpec(n_deals=7_000, seed=11))


POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def copy_rows(table, conn, keys, data_iter) -> None:
    """pandas `to_sql(method=copy_rows)` for PostgreSQL: the rows go in by one COPY, not as INSERTs
    (a 7,000-deal table in 0.2 s instead of 6 s). pandas has already turned NaN and NaT into NULL."""
    name = f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'
    columns = ", ".join(f'"{key}"' for key in keys)
    with conn.connection.cursor() as cursor, cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
        for row in data_iter:
            copy.write_row(row)


@contextlib.contextmanager
def postgres_schema(prefix: str = "si_test"):
    """A throwaway schema on the local PostgreSQL: (schema, admin engine, an engine whose search_path
    is the schema). Skipped where PostgreSQL is not running, except in CI, which starts it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("CI"):
            raise  # CI starts PostgreSQL: it must be there
        pytest.skip(f"PostgreSQL not reachable here: {exc}")
    engine = create_engine(POSTGRES, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield schema, admin, engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
