"""The schedule, the publication sensor and the failure alert, evaluated against a real instance."""

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterRun,
    DagsterRunStatus,
    SensorResult,
    DagsterEventType,
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    asset,
    materialize,
)
from dagster._core.definitions.sensor_definition import SensorEvaluationContext
from dagster._core.execution.build_resources import wrap_resources_for_execution
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from mta_assets.alert_webhook import AlertWebhook
from mta_assets.defs.alerts import run_failure_alert
from mta_assets.definitions import defs
from mta_assets.defs.automation import (
    CHECKS_PER_TICK,
    hourly_ridership_sensor,
    turnstile_publication_sensor,
    weekly_hourly_ridership_schedule,
    weekly_turnstile_schedule,
)
from mta_assets.defs.turnstile_lake import turnstile_lake
from mta_assets.hourly_ridership import HourlyRidershipSource
from mta_assets.partitions import hourly_partitions, weekly_partitions
from mta_assets.source import MtaTurnstileSource
from mta_assets_tests.lib.project import Project
from loopback.emulators import free_port
from loopback.http_mirror import Misbehaviour
from loopback.soda_server import hourly_rows
from loopback.turnstile_files import week_file

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def instance(tmp_path):
    """A persistent instance in a temporary DAGSTER_HOME, closed after the test."""
    (tmp_path / "dagster_home").mkdir()
    with DagsterInstance.local_temp(tempdir=str(tmp_path / "dagster_home")) as test_instance:
        yield test_instance


def publish(mirror, key: str) -> None:
    week = date.fromisoformat(key)
    mirror.files[f"turnstile_{week:%y%m%d}.txt"] = week_file(week, turnstile_count=3)


# Each context is closed with `with`: a schedule's context opens an instance of its own from the
# instance's ref, and one left open stays Dagster's current instance after the test (see conftest.py).


def evaluate_schedule(instance, source, when: datetime):
    with build_schedule_context(instance=instance, scheduled_execution_time=when, resources={"source": source}) as context:
        return weekly_turnstile_schedule(context)


def test_the_schedule_on_sunday_morning_requests_the_saturday(instance, mirror):
    publish(mirror, "2023-06-03")
    request = evaluate_schedule(instance, MtaTurnstileSource(base_url=mirror.url), datetime(2023, 6, 4, 9, tzinfo=NEW_YORK))
    assert isinstance(request, RunRequest)
    assert request.partition_key == "2023-06-03"
    assert mirror.requests["turnstile_230603.txt"] == 1  # one HEAD, no download


def test_the_schedule_skips_with_the_file_named_when_it_is_not_published(instance, mirror):
    result = evaluate_schedule(instance, MtaTurnstileSource(base_url=mirror.url), datetime(2023, 6, 4, 9, tzinfo=NEW_YORK))
    assert isinstance(result, SkipReason)
    assert "turnstile_230603.txt is not published yet" in result.skip_message


def test_the_schedule_skips_when_the_source_is_down(instance):
    source = MtaTurnstileSource(base_url=f"http://127.0.0.1:{free_port()}", connect_timeout_seconds=1)
    result = evaluate_schedule(instance, source, datetime(2023, 6, 4, 9, tzinfo=NEW_YORK))
    assert isinstance(result, SkipReason)
    assert "Could not ask whether turnstile_230603.txt is published" in result.skip_message


def tick(instance, source, cursor=None):
    with build_sensor_context(instance=instance, cursor=cursor, resources={"source": source}) as context:
        return turnstile_publication_sensor(context)


def test_the_sensor_requests_exactly_the_published_weeks_missing_from_the_lake(instance, mirror):
    recent = weekly_partitions.get_partition_keys()[-6:]  # oldest first
    for key in recent[:5]:
        publish(mirror, key)  # the newest week is not published yet
    instance.report_runless_asset_event(AssetMaterialization(asset_key=turnstile_lake.key, partition=recent[2]))
    source = MtaTurnstileSource(base_url=mirror.url)

    first = tick(instance, source)
    assert [request.partition_key for request in first.run_requests] == [recent[4], recent[3], recent[1], recent[0]]
    assert len({request.run_key for request in first.run_requests}) == 4
    assert sum(mirror.requests.values()) <= CHECKS_PER_TICK

    second = tick(instance, source, first.cursor)
    assert second.run_requests == []
    assert "is published yet" in second.skip_reason.skip_message  # only the unpublished newest week is asked about

    publish(mirror, recent[5])
    third = tick(instance, source, second.cursor)
    assert [request.partition_key for request in third.run_requests] == [recent[5]]


def test_the_sensor_falls_back_to_a_ranged_get_where_head_is_not_served(instance, mirror):
    newest = weekly_partitions.get_last_partition_key()
    publish(mirror, newest)
    mirror.misbehaviours[f"turnstile_{date.fromisoformat(newest):%y%m%d}.txt"] = Misbehaviour(head_status=405)
    result = tick(instance, MtaTurnstileSource(base_url=mirror.url))
    assert [request.partition_key for request in result.run_requests] == [newest]


def test_the_sensor_works_against_a_file_mirror(instance, tmp_path):
    newest = weekly_partitions.get_last_partition_key()
    week = date.fromisoformat(newest)
    (tmp_path / f"turnstile_{week:%y%m%d}.txt").write_bytes(week_file(week, turnstile_count=3))
    result = tick(instance, MtaTurnstileSource(base_url=tmp_path.as_uri()))
    assert [request.partition_key for request in result.run_requests] == [newest]


def test_the_sensor_skips_with_a_reason_when_the_source_is_down(instance):
    source = MtaTurnstileSource(base_url=f"http://127.0.0.1:{free_port()}", connect_timeout_seconds=1)
    result = tick(instance, source)
    assert isinstance(result, SkipReason)
    assert f"The source did not answer for week {weekly_partitions.get_last_partition_key()}" in result.skip_message


def failed_run(instance: DagsterInstance, mirror, tmp_path):
    project = Project(mirror, tmp_path, weeks=())
    project.instance = instance
    result = project.run("2023-06-03")
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    (failure,) = [event for event in result.all_events if event.event_type == DagsterEventType.RUN_FAILURE]
    return run, failure


@pytest.fixture(scope="module")
def repository():
    """The code location's repository, as the daemon loads it."""
    return defs().get_repository_def()


def alert(instance, run, failure, webhook: AlertWebhook, repository) -> None:
    with build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources={"alert_webhook": webhook},
        repository_def=repository,
    ).for_run_failure() as context:
        run_failure_alert(context)


def alert_tick(instance, repository, webhook: AlertWebhook, cursor: str | None) -> str:
    """One tick of the alert sensor as the daemon evaluates it, in the code location mta_assets (Dagster's
    own match of runs to locations applies); returns the cursor for the next tick."""
    with SensorEvaluationContext(
        instance_ref=None,
        instance=instance,
        cursor=cursor,
        repository_name=repository.name,
        repository_def=repository,
        sensor_name="run_failure_alert",
        resources=wrap_resources_for_execution({"alert_webhook": webhook}),
        code_location_origin=InProcessCodeLocationOrigin(
            loadable_target_origin=LoadableTargetOrigin(module_name="mta_assets.definitions"), location_name="mta_assets"
        ),
    ) as context:
        return run_failure_alert.evaluate_tick(context).cursor


@asset
def another_locations_asset() -> None:
    raise RuntimeError("a failure of another code location")


def test_a_failed_run_executed_in_process_alerts_once_and_another_locations_run_not_at_all(instance, mirror, tmp_path, repository):
    """A run executed in-process (as `dagster asset materialize` executes it) has no remote job origin."""
    webhook = AlertWebhook(url=f"{mirror.url}/hook")
    cursor = alert_tick(instance, repository, webhook, None)  # the first tick starts after the events so far
    run, _ = failed_run(instance, mirror, tmp_path)
    assert instance.get_run_by_id(run.run_id).remote_job_origin is None
    assert not materialize([another_locations_asset], instance=instance, raise_on_error=False).success
    cursor = alert_tick(instance, repository, webhook, cursor)
    alert_tick(instance, repository, webhook, cursor)
    (body,) = [json.loads(post) for post in mirror.posts]
    assert "turnstile_lake" in body["text"] and run.run_id in body["text"]


def test_a_failed_run_reaches_the_webhook_with_the_asset_week_error_and_link(instance, mirror, tmp_path, repository):
    run, failure = failed_run(instance, mirror, tmp_path)  # 404: the week is not published
    alert(instance, run, failure, AlertWebhook(url=f"{mirror.url}/hook", ui_url="http://dagster.example:3000"), repository)
    (body,) = [json.loads(post) for post in mirror.posts]
    text = body["text"]
    assert "turnstile_lake" in text
    assert "week 2023-06-03" in text
    assert "is not published (HTTP 404)" in text
    assert f"http://dagster.example:3000/runs/{run.run_id}" in text


def test_a_webhook_that_is_down_does_not_crash_the_sensor(instance, mirror, tmp_path, repository):
    run, failure = failed_run(instance, mirror, tmp_path)
    alert(instance, run, failure, AlertWebhook(url=f"http://127.0.0.1:{free_port()}/hook", timeout_seconds=2), repository)
    mirror.misbehaviours["hook"] = Misbehaviour(status=500)
    alert(instance, run, failure, AlertWebhook(url=f"{mirror.url}/hook"), repository)
    assert len(mirror.posts) == 1


def test_without_a_webhook_the_alert_is_only_logged(instance, mirror, tmp_path, caplog, repository):
    run, failure = failed_run(instance, mirror, tmp_path)
    alert(instance, run, failure, AlertWebhook(), repository)
    assert mirror.posts == []
    assert "MTA_ALERT_WEBHOOK_URL is not set" in caplog.text


def test_the_schedule_stops_at_the_feeds_last_week_without_asking_the_source(instance, mirror):
    result = evaluate_schedule(instance, MtaTurnstileSource(base_url=mirror.url), datetime(2024, 3, 3, 9, tzinfo=NEW_YORK))
    assert isinstance(result, SkipReason)
    assert "Week 2024-03-02 is after the feed's last week, 2024-02-17 (MTA_TURNSTILE_LAST_WEEK)" in result.skip_message
    assert sum(mirror.requests.values()) == 0


# Hourly ridership: the schedule and the sensor, against a SODA server on loopback.

GROWING = "5wq4-mkjj"


def hourly_source_on(soda) -> HourlyRidershipSource:
    return HourlyRidershipSource(base_url=soda.url, backoff_seconds=0, max_attempts=2)


def evaluate_hourly_schedule(instance, soda, when: datetime):
    with build_schedule_context(instance=instance, scheduled_execution_time=when, resources={"hourly_source": hourly_source_on(soda)}) as context:
        return weekly_hourly_ridership_schedule(context)


def totals_of(rows: list[dict]) -> str:
    return f"{len(rows)}:{sum(int(row['ridership']) for row in rows)}"


def test_the_hourly_schedule_on_sunday_requests_the_saturdays_week_once_the_dataset_holds_it(instance, soda):
    week = date(2025, 6, 7)
    soda.datasets[GROWING] = hourly_rows(week) + hourly_rows(week + timedelta(weeks=1))[:5]
    soda.rows_updated_at[GROWING] = 1_749_500_000
    sunday = datetime(2025, 6, 8, 9, tzinfo=NEW_YORK)
    request = evaluate_hourly_schedule(instance, soda, sunday)
    assert isinstance(request, RunRequest)
    assert request.partition_key == "2025-06-07"
    assert request.run_key == f"hourly_ridership:2025-06-07:{totals_of(hourly_rows(week))}:1749500000"

    # Once the week is stored as the dataset has it (the sensor got there first), the schedule skips it.
    instance.report_runless_asset_event(
        AssetMaterialization("hourly_ridership_lake", partition="2025-06-07", metadata={"source_totals": totals_of(hourly_rows(week))})
    )
    skip = evaluate_hourly_schedule(instance, soda, sunday)
    assert isinstance(skip, SkipReason) and "stored already" in skip.skip_message


def test_the_hourly_schedule_skips_a_week_the_dataset_has_a_gap_for(instance, soda):
    soda.datasets[GROWING] = hourly_rows(date(2025, 5, 31)) + hourly_rows(date(2025, 6, 14))
    skip = evaluate_hourly_schedule(instance, soda, datetime(2025, 6, 8, 9, tzinfo=NEW_YORK))
    assert isinstance(skip, SkipReason) and "Week 2025-06-07" in skip.skip_message and "a gap" in skip.skip_message


def test_the_hourly_schedule_skips_with_the_newest_hour_while_the_week_is_incomplete(instance, soda):
    soda.datasets[GROWING] = [row for row in hourly_rows(date(2025, 6, 7)) if row["transit_timestamp"] < "2025-06-06T20"]
    skip = evaluate_hourly_schedule(instance, soda, datetime(2025, 6, 8, 9, tzinfo=NEW_YORK))
    assert isinstance(skip, SkipReason)
    assert "Week 2025-06-07" in skip.skip_message and "does not hold the whole week yet" in skip.skip_message
    assert "2025-06-06 19:00:00" in skip.skip_message  # the dataset's newest hour


def evaluate_hourly_sensor(instance, soda, cursor=None):
    with build_sensor_context(instance=instance, cursor=cursor, resources={"hourly_source": hourly_source_on(soda)}) as context:
        return hourly_ridership_sensor(context)


def test_the_hourly_sensor_requests_new_and_revised_weeks_once_per_version(instance, soda):
    # Weeks by the project's own partitions, wherever today is: two whole weeks and the latest, incomplete.
    latest = date.fromisoformat(hourly_partitions.get_last_partition_key())
    first, second = latest - timedelta(weeks=2), latest - timedelta(weeks=1)
    incomplete = [row for row in hourly_rows(latest) if row["transit_timestamp"] < f"{latest - timedelta(days=2)}"]
    soda.datasets[GROWING] = hourly_rows(first) + hourly_rows(second) + incomplete
    soda.datasets["t69i-h2me"] = hourly_rows(date(2019, 6, 8))
    soda.datasets["wujg-7c2s"] = hourly_rows(date(2023, 6, 3))
    soda.rows_updated_at[GROWING] = 1_750_000_000

    result = evaluate_hourly_sensor(instance, soda)
    assert sorted(request.partition_key for request in result.run_requests) == [first.isoformat(), second.isoformat()]
    versions = {event.asset_key.path[-1]: event.tags["dagster/data_version"] for event in result.asset_events}
    assert versions["open_data_hourly_ridership_5wq4_mkjj"] == "1750000000"
    assert len(versions) == 3

    # Nothing moved: nothing asked of the rows, nothing launched.
    unchanged = evaluate_hourly_sensor(instance, soda, result.cursor)
    assert isinstance(unchanged, SkipReason) and "No hourly ridership dataset changed" in unchanged.skip_message

    # The first week is stored as the dataset has it; the second is revised, and the dataset's version moves.
    instance.report_runless_asset_event(
        AssetMaterialization("hourly_ridership_lake", partition=first.isoformat(), metadata={"source_totals": totals_of(hourly_rows(first))})
    )
    soda.datasets[GROWING] = hourly_rows(first) + hourly_rows(second, seed=1) + incomplete
    soda.rows_updated_at[GROWING] = 1_750_003_600
    revised = evaluate_hourly_sensor(instance, soda, result.cursor)
    (request,) = revised.run_requests
    assert request.partition_key == second.isoformat()
    assert totals_of(hourly_rows(second, seed=1)) in request.run_key
    assert request.run_key not in {earlier.run_key for earlier in result.run_requests}
    assert [event.asset_key.path[-1] for event in revised.asset_events] == ["open_data_hourly_ridership_5wq4_mkjj"]

    # The second week's run failed (it was never stored): the next change of the dataset asks for it again,
    # under a key of its own; the stored week stays stored.
    soda.rows_updated_at[GROWING] = 1_750_007_200
    again = evaluate_hourly_sensor(instance, soda, revised.cursor)
    assert [(request.partition_key, request.run_key.endswith(":1750007200")) for request in again.run_requests] == [
        (second.isoformat(), True)
    ]

    # A backfill loading the second week right now: the sensor leaves it to that run.
    instance.add_run(
        DagsterRun(
            job_name="__ASSET_JOB",
            status=DagsterRunStatus.STARTED,
            asset_selection=frozenset({AssetKey("hourly_ridership_lake")}),
            tags={"dagster/asset_partition_range_start": first.isoformat(), "dagster/asset_partition_range_end": second.isoformat()},
        )
    )
    soda.rows_updated_at[GROWING] = 1_750_010_800
    busy = evaluate_hourly_sensor(instance, soda, again.cursor)
    assert isinstance(busy, SensorResult) and not busy.run_requests


def test_the_hourly_sensor_skips_when_open_data_is_down(instance):
    class Down:
        url = f"http://127.0.0.1:{free_port()}"

    skip = evaluate_hourly_sensor(instance, Down())
    assert isinstance(skip, SkipReason) and "asking again next tick" in skip.skip_message
