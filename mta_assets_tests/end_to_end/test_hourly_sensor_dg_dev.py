"""End to end with the daemon of `dg dev`: the hourly ridership sensor's ticks against a SODA server whose
rows change (issue 18), every sensor and schedule in its default state."""

import time
from collections import Counter
from datetime import date

import duckdb
import pytest
from dagster import DagsterInstance, PartitionKeyRange
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import SensorInstigatorData

from loopback.dagster_dev import dagster_dev, graphql
from loopback.soda_server import hourly_rows
from mta_assets.partitions import hourly_partitions
from mta_assets_tests.defs.test_automation import GROWING, recent_hourly_weeks
from mta_assets_tests.defs.test_hourly_ridership import WEEK_ROW, dataset_rows

pytestmark = pytest.mark.slow
SENSOR = "hourly_ridership_sensor"
SELECTOR = {"repositoryLocationName": "mta_assets", "repositoryName": "__repository__", "sensorName": SENSOR}
# Generous: a tick asks the server a few questions and a week's run reads a few thousand rows, but the
# cores may be busy with other tests.
TIMEOUT = 600
RUN_ENDED = {"SUCCESS", "FAILURE", "CANCELED"}


def wait_for(condition, what: str, timeout: float = TIMEOUT):
    """Poll `condition` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return result


def sensor_ticks(url: str) -> list[dict]:
    data = graphql(
        url,
        "query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) { ... on Sensor { "
        "sensorState { ticks(limit: 20) { tickId status runIds timestamp skipReason error { message } } } } } }",
        {"selector": SELECTOR},
    )
    return data["sensorOrError"]["sensorState"]["ticks"]


def next_tick(url: str, seen: set[str]) -> dict:
    """The sensor's one tick not among `seen` once it has ended; adds it to `seen`."""

    def ended():
        new = [tick for tick in sensor_ticks(url) if tick["tickId"] not in seen]
        return new if new and all(tick["status"] != "STARTED" for tick in new) else None

    (tick,) = wait_for(ended, f"a tick of {SENSOR}")
    seen.add(tick["tickId"])
    assert tick["status"] != "FAILURE", tick["error"]
    return tick


def wait_for_runs(url: str, run_ids: list[str]) -> list[str]:
    """The partitions of the runs, once every one has succeeded."""

    def ended():
        data = graphql(
            url,
            "query($ids: [String!]) { runsOrError(filter: {runIds: $ids}) { ... on Runs { results { "
            "runId status tags { key value } } } } }",
            {"ids": run_ids},
        )
        runs = data["runsOrError"]["results"]
        return runs if len(runs) == len(run_ids) and all(run["status"] in RUN_ENDED for run in runs) else None

    runs = wait_for(ended, f"runs {run_ids}")
    assert all(run["status"] == "SUCCESS" for run in runs), runs
    return sorted(week for run in runs for week in weeks_of(run))


def weeks_of(run: dict) -> list[str]:
    """The run's week, or the weeks of its range (consecutive weeks the sensor launched in one run)."""
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    weeks = PartitionKeyRange(tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"])
    return list(hourly_partitions.get_partition_keys_in_range(weeks))


def job_runs_per_week(url: str) -> Counter:
    data = graphql(
        url,
        '{ runsOrError(filter: {pipelineName: "hourly_ridership_job"}) { ... on Runs { results { tags { key value } } } } }',
    )
    return Counter(week for run in data["runsOrError"]["results"] for week in weeks_of(run))


def lake_materializations_per_week(url: str) -> Counter:
    data = graphql(
        url,
        '{ assetOrError(assetKey: {path: ["hourly_ridership_lake"]}) { ... on Asset { '
        "assetMaterializations { partition } } } }",
    )
    return Counter(event["partition"] for event in data["assetOrError"]["assetMaterializations"])


def tick_again(instance: DagsterInstance, after: dict) -> None:
    """Make the daemon tick the sensor again soon, without waiting out its hour.

    Stopping and starting the sensor (GraphQL's stopSensor and startSensor) does not do it: the instance's
    start_sensor keeps the state's last_tick_timestamp and last_tick_start_timestamp, from which the sensor
    daemon counts the minimum interval (dagster/_daemon/sensor.py, is_under_min_interval); under dg dev no
    tick followed a restart within two minutes. So the sensor's
    instigator state is moved back by the interval, as if the hour had passed, keeping its cursor; the
    daemon reads the state afresh each loop and ticks once.
    """

    def state_of_the_tick():
        # The daemon writes the tick's end, then the state (with the cursor): rewritten before that, the
        # state would be overwritten with the tick's time and the sensor would wait an hour.
        (state,) = [state for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR) if state.name == SENSOR]
        data = state.instigator_data
        return (state, data) if data.last_tick_timestamp and round(data.last_tick_timestamp, 6) == after["timestamp"] else None

    state, data = wait_for(state_of_the_tick, f"the state of {SENSOR} after its tick")
    interval = data.min_interval
    instance.update_instigator_state(
        state.with_data(
            SensorInstigatorData(
                last_tick_timestamp=data.last_tick_timestamp - interval,
                last_run_key=data.last_run_key,
                min_interval=interval,
                cursor=data.cursor,
                last_tick_start_timestamp=data.last_tick_start_timestamp - interval,
                last_sensor_start_timestamp=data.last_sensor_start_timestamp,
                sensor_type=data.sensor_type,
                last_tick_success_timestamp=data.last_tick_success_timestamp,
            )
        )
    )


def warehouse_rows(path, week: date) -> list[tuple]:
    """The week's rows in the DuckDB file, in dataset_rows' form."""
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(f"SELECT {WEEK_ROW} FROM mta.hourly_ridership WHERE week_ending = DATE '{week}'").fetchall()
    return sorted((f"{at:%Y-%m-%dT%H:%M:%S}.000", *rest) for at, *rest in rows)


def test_under_dg_dev_the_hourly_sensor_loads_a_revised_week_once_and_unchanged_weeks_never_again(soda, tmp_path):
    # The weeks of the in-process test of the sensor.
    latest, first, second, first_rows, second_rows, _ = recent_hourly_weeks(soda)
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    seen: set[str] = set()

    settings = {"MTA_OPEN_DATA_URL": soda.url, "MTA_SOURCE_URL": "http://127.0.0.1:9/nothing-here"}
    with dagster_dev(tmp_path, settings) as url, DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        # The daemon's first tick, as it starts: both whole weeks, consecutive, in one run; the latest is not whole.
        loading = next_tick(url, seen)
        assert loading["status"] == "SUCCESS" and len(loading["runIds"]) == 1, loading
        assert wait_for_runs(url, loading["runIds"]) == [first.isoformat(), second.isoformat()]

        # Nothing changed: the next tick requests nothing.
        tick_again(instance, loading)
        unchanged = next_tick(url, seen)
        assert unchanged["status"] == "SKIPPED" and not unchanged["runIds"], unchanged
        assert "No hourly ridership dataset changed" in unchanged["skipReason"]

        # Riders moved between two rows of the second week: its rows and every total stay the same; each
        # revision moves the dataset's rowsUpdatedAt.
        as_loaded = dataset_rows(soda, second, GROWING)
        soda.revise(GROWING, lambda row: row is second_rows[10], ridership=str(int(second_rows[10]["ridership"]) + 5))
        soda.revise(GROWING, lambda row: row is second_rows[20], ridership=str(int(second_rows[20]["ridership"]) - 5))
        assert sum(int(row["ridership"]) for row in second_rows) == sum(int(row["ridership"]) for row in hourly_rows(second))
        tick_again(instance, unchanged)
        revised = next_tick(url, seen)
        assert revised["status"] == "SUCCESS", revised
        assert wait_for_runs(url, revised["runIds"]) == [second.isoformat()]

        # After the revised week's run, no change: nothing again.
        tick_again(instance, revised)
        after_load = next_tick(url, seen)
        assert after_load["status"] == "SKIPPED" and not after_load["runIds"], after_load

        # The first week loaded once, the second once more for its revision; the latest never.
        assert job_runs_per_week(url) == {first.isoformat(): 1, second.isoformat(): 2}
        assert lake_materializations_per_week(url) == {first.isoformat(): 1, second.isoformat(): 2}

    # Read once dg dev has stopped, so that no run holds the DuckDB file.
    assert warehouse_rows(warehouse, second) == dataset_rows(soda, second, GROWING) != as_loaded
    assert warehouse_rows(warehouse, first) == dataset_rows(soda, first, GROWING)
    assert warehouse_rows(warehouse, latest) == []
