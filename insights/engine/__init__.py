"""The engine path: cells and the data report counted by the database the deals live in (DuckDB over
Parquet and CSV files, PostgreSQL or DuckDB through SQLAlchemy), equal to what the in-memory path counts.

    engine = DealEngine.of_file("deals.parquet")             # or DealEngine.of_sql(url, table="crm.deals")
    engine.report                                            # the DataReport /health reads
    engine.cells([Window.of(period), Window.of(compare)])    # the Cells /why reads
"""
from .engine import DEFAULT_TIMEOUT, DealEngine, Window
from .where import EngineUnsupported

__all__ = ["DEFAULT_TIMEOUT", "DealEngine", "EngineUnsupported", "Window"]
