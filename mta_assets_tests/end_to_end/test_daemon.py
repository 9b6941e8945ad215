"""End to end with the daemon of `dg dev`: what the automation does, and does not do, unasked."""

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from loopback.dagster_dev import dagster_dev, launch_asset_backfill, materialized_count, materialized_partitions, wait_for_backfill
from loopback.turnstile_files import week_file

pytestmark = pytest.mark.slow
# The automation sensor looks every 15 s; this many seconds is several of its ticks.
SEVERAL_TICKS = 50


def wait_until(condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def test_a_lake_materialization_pulls_the_warehouse_week_after_it(mirror, tmp_path):
    data = week_file(date(2023, 6, 3), turnstile_count=50)
    mirror.files["turnstile_230603.txt"] = data
    with dagster_dev(tmp_path, {"MTA_SOURCE_URL": mirror.url}) as url:
        settings = {
            "MTA_SOURCE_URL": mirror.url,
            "MTA_LAKE_URL": str(tmp_path / "data" / "lake"),
            "MTA_DUCKDB_PATH": str(tmp_path / "data" / "warehouse.duckdb"),
        }
        lake_only = subprocess.run(
            [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "mta_assets.definitions",
             "--select", "turnstile_lake", "--partition", "2023-06-03"],
            cwd=tmp_path,
            env={**os.environ, **settings, "DAGSTER_HOME": str(tmp_path / "dagster_home")},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert lake_only.returncode == 0, lake_only.stderr[-3000:]
        assert materialized_count(url, "turnstile_lake") == 1
        wait_until(lambda: materialized_count(url, "turnstile_warehouse") == 1, "the warehouse week", 180)
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.execute("SELECT count(*) FROM mta.turnstile WHERE week_ending = DATE '2023-06-03'").fetchone()[0]
    assert rows == data.count(b"\n") - 1
    assert "SupersessionWarning" not in (tmp_path / "dagster-dev.log").read_text()


def test_a_backfill_of_two_weeks_gives_ridership_for_exactly_those_two_weeks(mirror, tmp_path):
    weeks = ["2023-05-27", "2023-06-03"]
    for key in weeks:
        mirror.files[f"turnstile_{date.fromisoformat(key):%y%m%d}.txt"] = week_file(date.fromisoformat(key), turnstile_count=30)
    with dagster_dev(tmp_path, {"MTA_SOURCE_URL": mirror.url}) as url:
        backfill = launch_asset_backfill(url, ["turnstile_lake", "turnstile_warehouse"], weeks)
        assert wait_for_backfill(url, backfill, timeout=240) == "COMPLETED_SUCCESS"
        wait_until(lambda: materialized_count(url, "system_ridership") == 2, "ridership of both weeks", 240)
        time.sleep(SEVERAL_TICKS)  # the automation keeps looking; 2023-06-10 has no readings and stays empty
        for asset in ("turnstile_lake", "turnstile_warehouse", "stations", "station_daily_ridership", "system_ridership"):
            assert materialized_partitions(url, asset) == set(weeks), asset
