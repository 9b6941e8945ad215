"""Arrow's allocator and the memory of a run."""

import pyarrow as pa


def release_unused_memory() -> None:
    """Give back to the system what Arrow's allocator still keeps after a week's work."""
    pa.default_memory_pool().release_unused()
