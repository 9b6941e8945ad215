"""The ridership while a backfill loads its sources: it follows the weeks landed so far on the follow-up
clock (every 5 minutes), not at every tick, and at once again when no backfill is loading."""

import time
from datetime import datetime, timedelta, timezone

from dagster import AssetKey, Definitions, evaluate_automation_conditions
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

from mta_assets.defs.turnstile_lake_checks import lake_checks
from mta_assets.defs.ridership import station_daily_ridership, stations, system_ridership
from mta_assets.defs.turnstile_lake import turnstile_lake
from mta_assets.defs.turnstile_warehouse import turnstile_warehouse
from mta_assets_tests.lib.project import Project

WEEK_BEFORE, LOADED, STILL_LOADING = "2023-05-27", "2023-06-03", "2023-06-10"
ASSETS = [turnstile_lake, lake_checks, turnstile_warehouse, stations, station_daily_ridership, system_ridership]


# The ticks evaluated after the first: a minute after the next follow-up tick (*/5 * * * *), then one more
# minute (no follow-up tick between), then past the follow-up tick after that. Later than now, so every
# event the tests record comes before them; the same minutes of a 5-minute cycle whenever the test runs.
_NOW = datetime.now(timezone.utc)
AFTER_A_FOLLOW_UP = _NOW.replace(second=0, microsecond=0) + timedelta(minutes=5 - _NOW.minute % 5 + 1)
NO_FOLLOW_UP_SINCE = AFTER_A_FOLLOW_UP + timedelta(minutes=1)
AFTER_THE_NEXT_FOLLOW_UP = AFTER_A_FOLLOW_UP + timedelta(minutes=5)


def stations_requested(project: Project, cursor=None, at: datetime | None = None):
    """The weeks of `stations` the automation requests on a tick at `at` (now if None), and the cursor for
    the next tick.

    The other ridership assets are asked the same: `stations` is the first of them, and none may go ahead
    of it while a backfill loads.
    """
    result = evaluate_automation_conditions(
        Definitions(assets=ASSETS, resources=project.resources()), project.instance, cursor=cursor, evaluation_time=at
    )
    requested = set(result.get_requested_partitions(stations.key))
    for follower in (station_daily_ridership, system_ridership):
        assert set(result.get_requested_partitions(follower.key)) <= requested, follower.key
    return requested, result.cursor


def loaded_week_on_a_clock(mirror, tmp_path) -> tuple[Project, object]:
    """A project whose lake and warehouse hold LOADED, loaded after a first tick (a minute after a follow-up
    tick) saw none of it."""
    project = Project(mirror, tmp_path, weeks=(LOADED,))
    _, cursor = stations_requested(project, at=AFTER_A_FOLLOW_UP)
    assert project.run(LOADED).success
    return project, cursor


def backfill_of(project: Project, asset: AssetKey, key: str) -> PartitionBackfill:
    instance = project.instance
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=f"loading-{key}",
        asset_graph=Definitions(assets=ASSETS, resources=project.resources()).resolve_asset_graph(),
        partition_names=[key],
        asset_selection=[asset],
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill


def test_ridership_follows_a_loaded_week_when_no_backfill_is_loading(mirror, tmp_path):
    project, cursor = loaded_week_on_a_clock(mirror, tmp_path)
    assert stations_requested(project, cursor, NO_FOLLOW_UP_SINCE)[0] == {LOADED}


def test_while_a_backfill_loads_another_week_the_ridership_follows_on_the_follow_up_tick(mirror, tmp_path):
    project, cursor = loaded_week_on_a_clock(mirror, tmp_path)
    backfill_of(project, turnstile_warehouse.key, STILL_LOADING)
    requested, cursor = stations_requested(project, cursor, NO_FOLLOW_UP_SINCE)
    assert requested == set()
    assert stations_requested(project, cursor, AFTER_THE_NEXT_FOLLOW_UP)[0] == {LOADED}


def test_once_the_backfill_is_done_the_ridership_follows_at_once(mirror, tmp_path):
    project, cursor = loaded_week_on_a_clock(mirror, tmp_path)
    backfill = backfill_of(project, turnstile_warehouse.key, STILL_LOADING)
    requested, cursor = stations_requested(project, cursor, NO_FOLLOW_UP_SINCE)
    assert requested == set()
    project.instance.update_backfill(backfill.with_status(BulkActionStatus.COMPLETED_SUCCESS))
    assert stations_requested(project, cursor, NO_FOLLOW_UP_SINCE + timedelta(seconds=15))[0] == {LOADED}


def test_a_backfill_of_the_lake_alone_holds_the_ridership_to_the_clock_too(mirror, tmp_path):
    project, cursor = loaded_week_on_a_clock(mirror, tmp_path)
    backfill_of(project, turnstile_lake.key, STILL_LOADING)
    assert stations_requested(project, cursor, NO_FOLLOW_UP_SINCE)[0] == set()


def test_a_week_waits_for_the_week_before_while_a_backfill_loads_it(mirror, tmp_path):
    """station_daily_ridership computes a week without the week before (its first readings then have nothing
    to difference against), but not while that week is on its way: it would be computed twice."""
    project, cursor = loaded_week_on_a_clock(mirror, tmp_path)
    backfill = backfill_of(project, turnstile_warehouse.key, WEEK_BEFORE)

    def daily_requested(at: datetime) -> set[str]:
        result = evaluate_automation_conditions(
            Definitions(assets=ASSETS, resources=project.resources()), project.instance, cursor=cursor, evaluation_time=at
        )
        return set(result.get_requested_partitions(station_daily_ridership.key))

    assert daily_requested(AFTER_THE_NEXT_FOLLOW_UP) == set()
    project.instance.update_backfill(backfill.with_status(BulkActionStatus.COMPLETED_SUCCESS))
    assert daily_requested(AFTER_THE_NEXT_FOLLOW_UP + timedelta(seconds=15)) == {LOADED}
