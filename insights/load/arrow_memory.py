"""Handing the memory Arrow kept from a load's freed columns back to the system."""
from __future__ import annotations


def release_arrow_memory() -> None:
    """Hand the memory Arrow's allocator kept from the load's freed columns back to the system.

    Arrow's default pool (mimalloc in the wheels) keeps freed blocks for reuse; after a ten-million-deal
    load that was 400 MB the process held but nothing used (1.2 GB resident for a 0.55 GB snapshot), and
    the analyses' own memory came on top of it, and the peak inside the load was 100 MB higher.
    MemoryPool.release_unused() is pyarrow's documented way to return it; called a few times per load,
    where hundreds of MB of Arrow data have just been freed (the raw read, the full-length ids), its
    cost (well under 0.1 s) does not matter."""
    import pyarrow as pa

    try:
        pa.default_memory_pool().release_unused()
    except (AttributeError, NotImplementedError, pa.ArrowException):  # an older pyarrow, or a pool without it
        pass
