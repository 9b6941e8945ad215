import os

# Arrow allocates from the C library's malloc, the heap DuckDB allocates from too: what one step frees, the
# next reuses, instead of each allocator keeping its own high water (Arrow's mimalloc held 30 MB more after
# a week, 80 MB more after 26, and the warehouse step then peaked on top: docs/benchmarks.md). Arrow reads
# this when it first allocates, which is after this package is imported in a run worker.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
