"""The schedule, the publication sensor and the failure alert, evaluated against a real instance."""

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import NamedTuple
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
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster._core.storage.tags import PRIORITY_TAG

from mta_assets.lib.alert_webhook import AlertWebhook
from mta_assets.defs.alerts import run_failure_alert
from mta_assets.definitions import defs
from mta_assets.defs.automation import (
    CHECKS_PER_TICK,
    hourly_ridership_sensor,
    turnstile_publication_sensor,
    weekly_hourly_ridership_schedule,
    week_run_requests,
    weekly_turnstile_schedule,
)
from mta_assets.defs.hourly_ridership import hourly_ridership_lake
from mta_assets.defs.turnstile_lake import turnstile_lake
from mta_assets.hourly.source import HourlyRidershipSource
from mta_assets.lake.facts import latest_facts
from mta_assets.partitions import hourly_partitions, weekly_partitions
from mta_assets.run_coordinator import HOURLY_PRIORITY
from mta_assets.turnstile.files import MtaTurnstileSource
from mta_assets_tests.defs.test_hourly_ridership import HourlyProject, dataset_rows
from mta_assets_tests.defs.test_hourly_ridership import warehouse_rows as project_rows
from mta_assets_tests.lib.project import Project, failure_message
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
    with build_schedule_context(instance=instance, scheduled_execution_time=when, resources={"mta_files": source}) as context:
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


def weeks_of(request, partitions_def=weekly_partitions) -> list[str]:
    """The weeks a sensor's run request covers: its partition, or its range of partitions."""
    if request.partition_key is not None:
        return [request.partition_key]
    return list(partitions_def.get_partition_keys_in_range(request.partition_key_range))


def test_a_sensors_weeks_are_runs_of_consecutive_weeks_up_to_a_backfills_run_newest_first():
    keys = hourly_partitions.get_partition_keys()[:40]
    wanted = [*keys[0:30], *keys[32:34], keys[36]]  # 30 in a row (one run more than 26), 2, then 1
    requests = week_run_requests(reversed(wanted), hourly_partitions, lambda weeks: f"{weeks[0]}..{weeks[-1]}")
    assert [weeks_of(request, hourly_partitions) for request in requests] == [[keys[36]], keys[32:34], keys[26:30], keys[0:26]]
    assert requests[0].partition_key == keys[36] and requests[0].run_key == f"{keys[36]}..{keys[36]}"
    assert requests[3].tags == {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[25]}


def tick(instance, source, cursor=None):
    with build_sensor_context(instance=instance, cursor=cursor, resources={"mta_files": source}) as context:
        return turnstile_publication_sensor(context)


def test_the_sensor_requests_exactly_the_published_weeks_missing_from_the_lake(instance, mirror):
    recent = weekly_partitions.get_partition_keys()[-6:]  # oldest first
    for key in recent[:5]:
        publish(mirror, key)  # the newest week is not published yet
    instance.report_runless_asset_event(AssetMaterialization(asset_key=turnstile_lake.key, partition=recent[2]))
    source = MtaTurnstileSource(base_url=mirror.url)

    first = tick(instance, source)
    # Consecutive weeks in one run, as a backfill runs them; the newest first.
    assert [weeks_of(request) for request in first.run_requests] == [[recent[3], recent[4]], [recent[0], recent[1]]]
    assert len({request.run_key for request in first.run_requests}) == 2
    assert sum(mirror.requests.values()) <= CHECKS_PER_TICK

    second = tick(instance, source, first.cursor)
    assert second.run_requests == []
    assert "is published yet" in second.skip_reason.skip_message  # only the unpublished newest week is asked about

    publish(mirror, recent[5])
    third = tick(instance, source, second.cursor)
    assert [weeks_of(request) for request in third.run_requests] == [[recent[5]]]


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


def hourly_resources(soda) -> dict:
    return {"hourly_source": hourly_source_on(soda)}


def evaluate_hourly_schedule(instance, soda, when: datetime):
    with build_schedule_context(instance=instance, scheduled_execution_time=when, resources=hourly_resources(soda)) as context:
        return weekly_hourly_ridership_schedule(context)


def fingerprint_of(rows: list[dict]) -> str:
    """rows:ridership:transfers:newest :updated_at, worked out here from rows the server has stamped."""
    counts = (len(rows), sum(int(row["ridership"]) for row in rows), sum(int(row["transfers"]) for row in rows))
    return ":".join(str(count) for count in counts) + ":" + max(row[":updated_at"] for row in rows)


def test_the_hourly_schedule_on_sunday_requests_the_saturdays_week_once_the_dataset_holds_it(instance, soda, tmp_path):
    week = date(2025, 6, 7)
    rows = hourly_rows(week)
    soda.datasets[GROWING] = rows + hourly_rows(week + timedelta(weeks=1))[:5]
    soda.rows_updated_at[GROWING] = 1_749_500_000
    project = HourlyProject(soda, tmp_path, instance=instance)
    sunday = datetime(2025, 6, 8, 9, tzinfo=NEW_YORK)
    request = evaluate_hourly_schedule(instance, soda, sunday)
    assert isinstance(request, RunRequest)
    assert request.partition_key == "2025-06-07"
    assert request.run_key == f"hourly_ridership:2025-06-07:{fingerprint_of(rows)}:1749500000"

    # Once the week is stored as the dataset has it (the sensor got there first), the schedule skips it.
    run = project.run("2025-06-07")
    assert run.success, failure_message(run)
    skip = evaluate_hourly_schedule(instance, soda, sunday)
    assert isinstance(skip, SkipReason) and "stored already" in skip.skip_message


@pytest.mark.parametrize(
    ("kept", "lacks"),
    [
        (lambda at: at < "2025-06-06T20", "it lacks 4 of its 168 hours (2025-06-06 20:00 to 2025-06-06 23:00)"),
        (lambda at: not at.startswith("2025-06-03"), "it lacks 24 of its 168 hours (2025-06-03 00:00 to 2025-06-03 23:00)"),
        (lambda at: not "2025-05-31" <= at < "2025-06-07", "it lacks 168 of its 168 hours (2025-05-31 00:00 to 2025-06-06 23:00)"),
        (lambda at: at.startswith("2025-06-06T23"), "it lacks 167 of its 168 hours (2025-05-31 00:00 to 2025-06-06 22:00)"),
    ],
    ids=["last hours not yet", "a day missing", "a gap", "one hour held"],
)
def test_the_hourly_schedule_skips_a_week_the_dataset_lacks_hours_of_saying_which(instance, soda, tmp_path, kept, lacks):
    rows = hourly_rows(date(2025, 5, 31)) + hourly_rows(date(2025, 6, 7)) + hourly_rows(date(2025, 6, 14))
    soda.datasets[GROWING] = [row for row in rows if kept(row["transit_timestamp"])]
    skip = evaluate_hourly_schedule(instance, soda, datetime(2025, 6, 8, 9, tzinfo=NEW_YORK))
    assert isinstance(skip, SkipReason)
    assert skip.skip_message.startswith(
        f"Week 2025-06-07: NY Open Data's hourly ridership ({GROWING}) does not hold the whole week yet: {lacks}."
    )


class RecentHourlyWeeks(NamedTuple):
    latest: date
    first: date
    second: date
    first_rows: list[dict]
    second_rows: list[dict]
    incomplete: list[dict]  # the latest week's rows


def recent_hourly_weeks(soda) -> RecentHourlyWeeks:
    """Weeks by the project's own partitions, wherever today is, in the growing dataset: two whole weeks and
    the latest, which lacks its last two days; the older datasets hold a week each."""
    latest = date.fromisoformat(hourly_partitions.get_last_partition_key())
    first, second = latest - timedelta(weeks=2), latest - timedelta(weeks=1)
    first_rows, second_rows = hourly_rows(first), hourly_rows(second)
    incomplete = [row for row in hourly_rows(latest) if row["transit_timestamp"] < f"{latest - timedelta(days=2)}"]
    soda.datasets[GROWING] = first_rows + second_rows + incomplete
    soda.datasets["t69i-h2me"] = hourly_rows(date(2019, 6, 8))
    soda.datasets["wujg-7c2s"] = hourly_rows(date(2023, 6, 3))
    return RecentHourlyWeeks(latest, first, second, first_rows, second_rows, incomplete)


def evaluate_hourly_sensor(instance, soda, cursor=None):
    with build_sensor_context(instance=instance, cursor=cursor, resources=hourly_resources(soda)) as context:
        return hourly_ridership_sensor(context)


def test_the_hourly_sensor_requests_each_changed_week_once_and_its_run_loads_it_exactly(instance, soda, tmp_path):
    latest, first, second, first_rows, second_rows, incomplete = recent_hourly_weeks(soda)
    project = HourlyProject(soda, tmp_path, instance=instance)

    def tick(cursor):
        return evaluate_hourly_sensor(instance, soda, cursor)

    def load(result):
        for request in result.run_requests:
            run = project.run(request.partition_key, request.tags)
            assert run.success, failure_message(run)

    def requested(result) -> list[list[str]]:
        return [weeks_of(request, hourly_partitions) for request in result.run_requests]

    result = tick(None)
    assert requested(result) == [[first.isoformat(), second.isoformat()]]  # one run; the latest lacks hours: not launched
    assert len(result.asset_events) == 3  # every dataset observed
    load(result)

    # Nothing moved: nothing asked of the rows, nothing launched.
    unchanged = tick(result.cursor)
    assert isinstance(unchanged, SkipReason) and "No hourly ridership dataset changed" in unchanged.skip_message

    # Riders moved between two rows of the second week: its rows and every sum stay the same.
    soda.revise(GROWING, lambda row: row is second_rows[10], ridership=str(int(second_rows[10]["ridership"]) + 5))
    soda.revise(GROWING, lambda row: row is second_rows[20], ridership=str(int(second_rows[20]["ridership"]) - 5))
    assert sum(int(row["ridership"]) for row in second_rows) == sum(int(row["ridership"]) for row in hourly_rows(second))
    revised = tick(result.cursor)
    (request,) = revised.run_requests
    assert request.partition_key == second.isoformat() and fingerprint_of(second_rows) in request.run_key
    assert request.run_key not in result.run_requests[0].run_key.split()
    assert [event.asset_key.path[-1] for event in revised.asset_events] == ["open_data_hourly_ridership_5wq4_mkjj"]
    load(revised)
    assert project_rows(project, second) == dataset_rows(soda, second, GROWING)

    # A tick after no change asks for nothing; the stored weeks never load again.
    after_load = tick(revised.cursor)
    assert isinstance(after_load, SkipReason) and "No hourly ridership dataset changed" in after_load.skip_message

    # A correction of transfers alone in the first week: that week, once.
    soda.revise(GROWING, lambda row: row is first_rows[3], transfers=str(int(first_rows[3]["transfers"]) + 1))
    corrected = tick(revised.cursor)
    assert requested(corrected) == [[first.isoformat()]]
    load(corrected)
    assert project_rows(project, first) == dataset_rows(soda, first, GROWING)

    # A change in the incomplete week alone: the dataset moved, but no stored week changed, and the
    # incomplete week says what it lacks.
    soda.revise(GROWING, lambda row: row is incomplete[0], ridership="1")
    elsewhere = tick(corrected.cursor)
    assert isinstance(elsewhere, SensorResult) and not elsewhere.run_requests
    assert f"Week {latest}: NY Open Data's hourly ridership ({GROWING}) does not hold the whole week yet: it lacks 48 of its 168 hours" in (
        elsewhere.skip_reason.skip_message
    )

    # A week whose latest materialization records no fingerprint (stored before fingerprints were) loads again, once.
    without = replace(latest_facts(instance, hourly_ridership_lake.key, [first])[first], fingerprint=None)
    instance.report_runless_asset_event(AssetMaterialization(hourly_ridership_lake.key, partition=first.isoformat(), metadata=without.metadata()))
    soda.revise(GROWING, lambda row: row is incomplete[0], ridership="2")
    (reload,) = tick(elsewhere.cursor).run_requests
    assert reload.partition_key == first.isoformat()

    # A backfill loading the first week right now: the sensor leaves it to that run.
    instance.add_run(
        DagsterRun(
            job_name="__ASSET_JOB",
            status=DagsterRunStatus.STARTED,
            asset_selection=frozenset({AssetKey("hourly_ridership_lake")}),
            tags={"dagster/asset_partition_range_start": first.isoformat(), "dagster/asset_partition_range_end": second.isoformat()},
        )
    )
    soda.revise(GROWING, lambda row: row is incomplete[0], ridership="3")
    busy = tick(elsewhere.cursor)
    assert isinstance(busy, SensorResult) and not busy.run_requests


def test_the_hourly_sensor_skips_when_open_data_is_down(instance, tmp_path):
    class Down:
        url = f"http://127.0.0.1:{free_port()}"

    skip = evaluate_hourly_sensor(instance, Down())
    assert isinstance(skip, SkipReason) and "asking again next tick" in skip.skip_message


def test_the_runs_that_follow_the_sources_queue_behind_turnstile_backfill_runs_and_ahead_of_hourly_ones():
    """The automation's runs carry no priority of their own: Dagster's run queue dequeues them first-in
    first-out with a turnstile backfill's runs, so they do not take the warehouse's one writer from a
    backfill's loads, and ahead of the hourly runs the project's coordinator queues last."""
    run_tags = defs().resolve_sensor_def("automation_condition_sensor").run_tags
    assert PRIORITY_TAG not in run_tags
    hourly = {"dagster/backfill": "hourly", PRIORITY_TAG: str(HOURLY_PRIORITY)}
    queued = [DagsterRun(job_name="__ASSET_JOB", run_id=f"hourly-{n}", tags=hourly) for n in range(2)]
    queued += [DagsterRun(job_name="__ASSET_JOB", run_id=f"turnstile-{n}", tags={"dagster/backfill": "history"}) for n in range(2)]
    queued.append(DagsterRun(job_name="__ASSET_JOB", run_id="ridership", tags=dict(run_tags)))
    dequeued = QueuedRunCoordinatorDaemon(interval_seconds=1)._priority_sort(queued)
    assert [run.run_id for run in dequeued] == ["turnstile-0", "turnstile-1", "ridership", "hourly-0", "hourly-1"]
