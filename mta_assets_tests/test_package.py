"""Importing mta_assets fixes glibc's mmap threshold: a large block freed is given back, not kept in the heap."""

import subprocess
import sys
import textwrap

import pytest

# A 4 MB block freed raises glibc's dynamic threshold past 1 MB; the 1 MB block then comes from the heap
# (hblkhd, the bytes in mapped blocks, stays under 1 MB) unless the threshold is fixed.
_PROBE = textwrap.dedent(
    """
    import ctypes, sys
    if {import_package}:
        import mta_assets
    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.mallinfo2.restype = Mallinfo2
    libc.free(libc.malloc(4 << 20))
    block = libc.malloc(1 << 20)
    print(libc.mallinfo2().hblkhd >= 1 << 20)
    """
)


def _large_block_mapped(import_package: bool) -> bool:
    probe = _PROBE.format(import_package=import_package)
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the threshold is glibc's")
def test_large_blocks_stay_mapped_after_a_larger_one_is_freed():
    assert not _large_block_mapped(import_package=False), "glibc no longer raises its threshold: the fix may go"
    assert _large_block_mapped(import_package=True)
