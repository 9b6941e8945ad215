import ctypes
import os
import sys

# Arrow allocates from the C library's malloc, the heap DuckDB allocates from too: what one step frees, the
# next reuses, instead of each allocator keeping its own high water (Arrow's mimalloc held 30 MB more after
# a week, 80 MB more after 26, and the warehouse step then peaked on top: docs/benchmarks.md). Arrow reads
# this when it first allocates, which is after this package is imported in a run worker.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value, kept from moving
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h


def _fix_glibc_mmap_threshold() -> None:
    """Every block of MMAP_THRESHOLD_BYTES or more mapped on its own, and unmapped when freed.

    glibc raises the threshold to the size of each mapped block freed (up to 32 MB), so after the first pages
    a page's column buffers (0.2-2 MB) come from the heap, where a freed one stays resident unless it is on
    top: an hourly week's lake step then rose 106-112 MB instead of 38-39 MB (GLIBC_TUNABLES with the fixed
    threshold, benchmarks.hourly; one malloc arena instead of one a thread: no better, a 1 MB threshold: no
    better). Setting the threshold turns the raising off. Only glibc raises it; elsewhere nothing is done.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "gnu_get_libc_version"):  # not glibc
        return
    if not libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        raise OSError(f"glibc's mallopt refused M_MMAP_THRESHOLD={MMAP_THRESHOLD_BYTES} (mta_assets/__init__.py)")


_fix_glibc_mmap_threshold()
