"""End to end with the daemon: a lake week materialized by hand pulls its warehouse week, unasked."""

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from mta_assets_tests.lib.dagster_dev import dagster_dev, materialized_count
from mta_assets_tests.lib.turnstile_files import week_file

pytestmark = pytest.mark.slow


def test_a_lake_materialization_pulls_the_warehouse_week_after_it(mirror, tmp_path):
    data = week_file(date(2023, 6, 3), turnstile_count=50)
    mirror.files["turnstile_230603.txt"] = data
    settings = {"MTA_SOURCE_URL": mirror.url}
    with dagster_dev(tmp_path, settings) as url:
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
        deadline = time.monotonic() + 180
        while materialized_count(url, "turnstile_warehouse") == 0:
            assert time.monotonic() < deadline, "the warehouse week was not materialized by the automation sensor"
            time.sleep(1)
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.execute("SELECT count(*) FROM mta.turnstile WHERE week_ending = DATE '2023-06-03'").fetchone()[0]
    assert rows == data.count(b"\n") - 1
