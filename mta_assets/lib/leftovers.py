"""Files and folders named after the process that writes them, so that what a killed run left is found.

A run killed with SIGKILL cannot clean up. Its scratch names carry its PID (`<prefix><pid>...`); the
next writer of the same kind removes those whose process is gone, so nothing accumulates.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def is_running(pid: int) -> bool:
    """Whether the process exists and has not exited: a zombie (exited, not yet reaped by its parent) has
    exited, though signals still reach its PID."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    return process_state(pid) not in ("Z", "X")


def process_state(pid: int) -> str | None:
    """The process's state letter from /proc/<pid>/stat (R, S, D, Z...); None where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None  # no /proc on this system (macOS), or the process ended since the signal check
    return stat.rsplit(")", 1)[1].split()[0]  # after the command name, which may hold spaces and parentheses


def owned_prefix(prefix: str) -> str:
    """The name prefix of this process's scratch files: `prefix` then the PID then a dot."""
    return f"{prefix}{os.getpid()}."


def remove_leftovers(directory: Path, prefix: str) -> list[Path]:
    """Remove the entries `<prefix><pid>.…` in `directory` whose process no longer runs; returns them."""
    removed = []
    if not directory.is_dir():
        return removed
    for entry in directory.iterdir():
        pid_text = entry.name[len(prefix):].split(".", 1)[0] if entry.name.startswith(prefix) else ""
        if not pid_text.isdigit() or is_running(int(pid_text)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


@contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A temporary folder of this process, after removing the ones of `prefix` that killed runs left."""
    root = Path(tempfile.gettempdir())
    remove_leftovers(root, prefix)
    with tempfile.TemporaryDirectory(prefix=owned_prefix(prefix)) as directory:
        yield Path(directory)
