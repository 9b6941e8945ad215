"""A killed run heals under `dg dev` as the README starts it: marked failed, its pool slot freed, its files gone."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from loopback.dagster_dev import dagster_dev, launch_asset_backfill, wait_for_backfill
from loopback.http_mirror import Misbehaviour
from loopback.turnstile_files import week_file
from mta_assets.run_launcher import run_process_id

pytestmark = pytest.mark.slow
STUCK = ["2023-05-27", "2023-06-03"]
LATER = "2023-06-10"
# Run monitoring polls every 30 s and frees a failed run's slots 30 s later (dagster_home/dagster.yaml).
HEALING_SECONDS = 150


def file_name(key: str) -> str:
    return f"turnstile_{date.fromisoformat(key):%y%m%d}.txt"


def wait_until(condition, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)
    return value


def test_two_killed_runs_do_not_block_a_third_beyond_the_healing_time(mirror, tmp_path):
    for key in [*STUCK, LATER]:
        mirror.files[file_name(key)] = week_file(date.fromisoformat(key), turnstile_count=20)
    for key in STUCK:  # the server keeps asking to come back later: the runs sit in their downloads
        mirror.misbehaviours[file_name(key)] = Misbehaviour(status=503, retry_after="300")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    settings = {"MTA_SOURCE_URL": mirror.url, "TMPDIR": str(scratch)}
    with dagster_dev(tmp_path, settings) as url:
        home = tmp_path / "dagster_home"
        instance = DagsterInstance.from_config(str(home))
        # One run launched from the UI (its code server watches it), one from the CLI (nothing watches it).
        launch_asset_backfill(url, ["turnstile_lake"], [STUCK[0]])
        cli = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "mta_assets.definitions",
             "--select", "turnstile_lake", "--partition", STUCK[1]],
            cwd=tmp_path,
            env={**os.environ, **settings, "DAGSTER_HOME": str(home), "MTA_LAKE_URL": str(tmp_path / "data" / "lake"),
                 "MTA_DUCKDB_PATH": str(tmp_path / "data" / "warehouse.duckdb")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Both hold their download slot, in a process that has left its scratch folder.
        stuck = wait_until(
            lambda: all(mirror.requests[file_name(key)] for key in STUCK)
            and len(runs := instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED]))) == 2
            and runs,
            "both runs to be downloading",
            180,
        )
        pids = {run.run_id: wait_until(lambda run=run: run_process_id(instance, run.run_id), "the run's process", 30) for run in stuck}
        scratch_folders = {path.name.split(".")[0] for path in scratch.iterdir() if path.name.startswith("mta-weeks-")}
        assert scratch_folders == {f"mta-weeks-{pid}" for pid in pids.values()}
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)
        cli.wait(timeout=30)
        killed_at = time.monotonic()

        backfill = launch_asset_backfill(url, ["turnstile_lake"], [LATER])
        assert wait_for_backfill(url, backfill, timeout=HEALING_SECONDS) == "COMPLETED_SUCCESS"
        healed_after = time.monotonic() - killed_at
        print(f"healed {healed_after:.0f} s after the kill")

        assert {instance.get_run_by_id(run_id).status for run_id in pids} == {DagsterRunStatus.FAILURE}
        assert instance.event_log_storage.get_concurrency_info("mta_source").claimed_slots == []
        # The later run removed the killed runs' scratch folders.
        assert not [path for path in scratch.iterdir() if path.name.startswith("mta-weeks-")]
