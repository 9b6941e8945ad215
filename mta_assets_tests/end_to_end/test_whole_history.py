"""Every turnstile week backfilled at once, as the UI's "select all" launches it, through `dg dev`."""

import subprocess
import sys
from datetime import date

import duckdb
import pytest

from loopback.dagster_dev import dagster_dev, graphql, launch_asset_backfill, wait_for_backfill
from loopback.emulators import free_port
from loopback.generated_feed import readings_per_week
from mta_assets.partitions import FIRST_WEEK, LAST_KNOWN_WEEK

pytestmark = pytest.mark.slow
# A few turnstiles a week: the test is about the partitions and the runs, not the volume.
TURNSTILES = 2


def partition_keys_offered(url: str, asset_name: str) -> list[str]:
    """The asset's partition keys as the UI lists them for "select all"."""
    data = graphql(
        url,
        "query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode { "
        "partitionKeysByDimension { partitionKeys } } } }",
        {"key": {"path": [asset_name]}},
    )
    return data["assetNodeOrError"]["partitionKeysByDimension"][0]["partitionKeys"]


def test_backfilling_every_turnstile_week_succeeds_with_every_published_week_in_the_warehouse_once(tmp_path):
    port = free_port()
    feed = subprocess.Popen(
        [sys.executable, "-m", "loopback.generated_feed", str(port), "--turnstiles", str(TURNSTILES),
         "--first", FIRST_WEEK.isoformat(), "--last", LAST_KNOWN_WEEK.isoformat()],
    )
    try:
        # Weeks of 2 turnstiles are complete weeks here: the floor of a week with no stored neighbour is theirs.
        settings = {"MTA_SOURCE_URL": f"http://127.0.0.1:{port}", "MTA_MIN_WEEK_DEVICES": str(TURNSTILES)}
        with dagster_dev(tmp_path, settings) as url:
            keys = partition_keys_offered(url, "turnstile_lake")
            backfill_id = launch_asset_backfill(url, ["turnstile_lake", "turnstile_warehouse"], keys)
            status = wait_for_backfill(url, backfill_id, timeout=3600)
    finally:
        feed.terminate()
        feed.wait()
    assert len(keys) == 720 and "2010-05-29" not in keys
    assert status == "COMPLETED_SUCCESS"
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as connection:
        rows = dict(connection.execute("SELECT week_ending, count(*) FROM mta.turnstile GROUP BY week_ending").fetchall())
        lake_rows = dict(
            connection.execute(
                "SELECT week_ending, count(*) FROM read_parquet(?) GROUP BY week_ending", [str(tmp_path / "data" / "lake" / "turnstile_*.parquet")]
            ).fetchall()
        )
    # Every published week, each with exactly the rows the feed served and the lake holds.
    assert rows == lake_rows == readings_per_week(TURNSTILES, LAST_KNOWN_WEEK, [date.fromisoformat(key) for key in keys])
