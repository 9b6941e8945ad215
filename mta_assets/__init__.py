import ctypes
import os
import sys

# Arrow allocates from the C library's malloc, the heap DuckDB allocates from too: what one step frees, the
# next reuses, instead of each allocator keeping its own high water (Arrow's mimalloc held 30 MB more after
# a week, 80 MB more after 26, and the warehouse step then peaked on top: docs/benchmarks.md). Arrow reads
# this when it first allocates, which is after this package is imported in a run worker.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

MMAP_THRESHOLD_BYTES = 512 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h


def _fix_glibc_mmap_threshold() -> None:
    """Every block of MMAP_THRESHOLD_BYTES or more mapped on its own, and unmapped when freed.

    glibc raises the threshold to the size of each mapped block freed (up to 32 MB), so after the first pages
    a page's column buffers (0.2-2 MB) come from the heap, where a freed one stays resident unless it is on
    top: an hourly week's lake step then rose 106-112 MB instead of about 40 (benchmarks.hourly, growth of the
    run 105-115 MB; one malloc arena instead of one a thread: no better). Setting the threshold turns the
    raising off. Measured on the same machine: fixed at 128, 256 or 512 KiB the hourly week grows 76-82 MB
    (1 MiB: 102-103); a smaller threshold maps more blocks one by one, and parsing a turnstile week cost about
    15-25% more CPU at 128 and 256 KiB, within the noise at 512 KiB. Only glibc raises it; elsewhere nothing
    is done.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "gnu_get_libc_version"):  # not glibc
        return
    if not libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        raise OSError(f"glibc's mallopt refused M_MMAP_THRESHOLD={MMAP_THRESHOLD_BYTES} (mta_assets/__init__.py)")


_fix_glibc_mmap_threshold()
