"""Scratch files named by their process: what a killed run left is removed by the next writer, nothing else."""

import os
import subprocess
import sys
from pathlib import Path

from mta_assets.lake.storage import LocalLakeStorage
from mta_assets.lib.leftovers import remove_leftovers, scratch_directory


def dead_pid() -> int:
    """The PID of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_only_the_entries_of_ended_processes_are_removed(tmp_path):
    dead, alive = dead_pid(), os.getpid()
    (tmp_path / f"mta-weeks-{dead}.abc").mkdir()
    (tmp_path / f"mta-weeks-{dead}.abc" / "turnstile_230603.txt").write_text("half a file")
    (tmp_path / f"mta-weeks-{alive}.def").mkdir()
    (tmp_path / "mta-weeks-notapid.ghi").mkdir()
    (tmp_path / "unrelated.txt").write_text("")
    removed = remove_leftovers(tmp_path, "mta-weeks-")
    assert [path.name for path in removed] == [f"mta-weeks-{dead}.abc"]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [f"mta-weeks-{alive}.def", "mta-weeks-notapid.ghi", "unrelated.txt"]
    )


def test_a_scratch_folder_carries_the_pid_and_clears_a_killed_runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile caches the folder; read TMPDIR again
    left = tmp_path / f"mta-weeks-{dead_pid()}.xyz"
    left.mkdir()
    with scratch_directory("mta-weeks-") as directory:
        assert directory.parent == tmp_path
        assert directory.name.startswith(f"mta-weeks-{os.getpid()}.")
        assert not left.exists()
    assert not directory.exists()


def test_publishing_a_week_removes_the_partial_copy_a_killed_run_left(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    partial = lake / f".turnstile_230603.parquet.{dead_pid()}.k1ll3d.partial"
    partial.write_bytes(b"PAR1 half")
    source = tmp_path / "week.parquet"
    source.write_bytes(b"a whole week")
    LocalLakeStorage(lake).publish(source, "turnstile_230603.parquet")
    assert sorted(path.name for path in lake.iterdir()) == ["turnstile_230603.parquet"]
    assert Path(lake / "turnstile_230603.parquet").read_bytes() == b"a whole week"
