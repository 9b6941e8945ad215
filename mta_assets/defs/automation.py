"""What keeps the lake and the warehouse current: the weekly jobs, their schedules, and the sensors that
launch what the sources publish (the MTA's files until the feed ended, hourly ridership today)."""

import json
from datetime import date, datetime, time, timedelta

from dagster import (
    AssetObservation,
    AssetRecordsFilter,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)
from dagster._core.definitions.data_version import DATA_VERSION_TAG

from mta_assets.defs.hourly_ridership import dataset_key, hourly_ridership_lake, hourly_ridership_warehouse, source_totals
from mta_assets.defs.turnstile_lake import turnstile_lake
from mta_assets.defs.turnstile_warehouse import turnstile_warehouse
from mta_assets.hourly_ridership import HOURLY_DATASETS, HourlyRidershipSource
from mta_assets.lib.http import redact_url
from mta_assets.partitions import (
    HOURLY_WEEKS,
    TIMEZONE,
    file_stem,
    hourly_partitions,
    is_published,
    latest_week,
    week_of,
    weekly_partitions,
)
from mta_assets.source import MtaTurnstileSource, SourceError

# How far back the publication sensor looks for weeks that are published but not in the lake (gaps
# included), and how many weeks it asks the source about per tick.
LOOKBACK_WEEKS = 12
CHECKS_PER_TICK = 6

# One week, lake then warehouse: what the schedule, the sensor and CLI backfills launch.
turnstile_job = define_asset_job(
    "turnstile_job",
    selection=AssetSelection.assets(turnstile_lake, turnstile_warehouse),
    description="Fetch a week's MTA file into the lake and load it into the warehouse.",
)


def run_key(partition_key: str) -> str:
    return f"turnstile:{partition_key}"


@schedule(
    job=turnstile_job,
    cron_schedule="0 9 * * 0",
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Sunday 09:00 New York: the Saturday's file, if the MTA has published it.",
)
def weekly_turnstile_schedule(context: ScheduleEvaluationContext, source: MtaTurnstileSource):
    week = context.scheduled_execution_time.date() - timedelta(days=1)
    if week > latest_week():
        return SkipReason(
            f"Week {week} is after the feed's last week, {latest_week()} (MTA_TURNSTILE_LAST_WEEK): the MTA "
            f"publishes no more weekly files."
        )
    name = f"{file_stem(week)}.txt"
    try:
        published = source.is_published(week)
    except SourceError as error:
        return SkipReason(f"Could not ask whether {name} is published ({error}); the publication sensor will retry.")
    if not published:
        return SkipReason(
            f"{name} is not published yet at {redact_url(source.file_url(week))}; the publication sensor launches it when it appears."
        )
    return RunRequest(partition_key=week.isoformat(), run_key=run_key(week.isoformat()))


@sensor(
    job=turnstile_job,
    minimum_interval_seconds=3600,
    default_status=DefaultSensorStatus.RUNNING,
    description=f"Hourly: launches each published week of the last {LOOKBACK_WEEKS} that is not in the lake yet.",
)
def turnstile_publication_sensor(context: SensorEvaluationContext, source: MtaTurnstileSource):
    # Newest first, up to the feed's last week; a week the MTA never published is never asked about.
    recent = [key for key in reversed(weekly_partitions.get_partition_keys()[-LOOKBACK_WEEKS:]) if is_published(week_of(key))]
    launched = set(json.loads(context.cursor)) if context.cursor else set()
    in_lake = context.instance.get_materialized_partitions(turnstile_lake.key)
    candidates = [key for key in recent if key not in in_lake and key not in launched][:CHECKS_PER_TICK]
    requests = []
    for key in candidates:
        try:
            if source.is_published(week_of(key)):
                requests.append(RunRequest(partition_key=key, run_key=run_key(key)))
        except SourceError as error:
            if requests:
                break  # launch what was found; the rest is asked again next tick
            return SkipReason(f"The source did not answer for week {key} ({error}); asking again next tick.")
    # Only weeks still in the look-back window are remembered, so the cursor stays small.
    launched = sorted((launched | {request.partition_key for request in requests}) & set(recent))
    return SensorResult(
        run_requests=requests,
        cursor=json.dumps(launched),
        skip_reason=None
        if requests
        else SkipReason(
            f"None of {len(candidates)} weeks missing from the lake is published yet ({', '.join(candidates)})."
            if candidates
            else f"Every week of the last {LOOKBACK_WEEKS} is in the lake or launched."
        ),
    )


# One week of hourly ridership, lake then warehouse: what its schedule and sensor launch.
hourly_ridership_job = define_asset_job(
    "hourly_ridership_job",
    selection=AssetSelection.assets(hourly_ridership_lake, hourly_ridership_warehouse),
    description="Read a week of hourly ridership from NY Open Data into the lake and load it into the warehouse.",
)
# The hourly sensor's look-back for weeks never loaded; a week once loaded is watched for revisions for ever.
HOURLY_LOOKBACK_WEEKS = 12
_ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def hourly_run_key(week: date, rows: int, ridership: int) -> str:
    """One run per week and version: a revised week (other totals) loads again, an unchanged one never."""
    return f"hourly_ridership:{week}:{source_totals(rows, ridership)}"


@schedule(
    job=hourly_ridership_job,
    cron_schedule="0 9 * * 0",
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Sunday 09:00 New York: the week to the Saturday, once NY Open Data holds all of it.",
)
def weekly_hourly_ridership_schedule(context: ScheduleEvaluationContext, hourly_source: HourlyRidershipSource):
    week = context.scheduled_execution_time.date() - timedelta(days=1)
    datasets = hourly_source.dataset_ids(week)
    try:
        if not hourly_source.holds_week(week):
            newest = hourly_source.newest_hour(datasets[-1])
            return SkipReason(
                f"Week {week}: NY Open Data's hourly ridership ({', '.join(datasets)}) does not hold the whole week "
                f"yet: its newest hour is {newest or 'none'}, the week ends {week - timedelta(days=1)} 23:00. The "
                f"hourly ridership sensor launches the week once the dataset has it."
            )
        totals = hourly_source.week_totals(datasets, week, week)[week]
    except SourceError as error:
        return SkipReason(f"Could not ask NY Open Data about week {week} ({error}); the hourly ridership sensor will retry.")
    return RunRequest(partition_key=week.isoformat(), run_key=hourly_run_key(week, totals.rows, totals.ridership))


def last_hour(week: date) -> datetime:
    """The last hour of a week's hourly ridership: the Friday's 23:00."""
    return datetime.combine(week - timedelta(days=1), time(23))


def stored_versions(context: SensorEvaluationContext) -> dict[str, str]:
    """Each stored week's source totals, from its latest hourly_ridership_lake materialization."""
    versions: dict[str, str] = {}
    cursor = None
    while True:
        result = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=hourly_ridership_lake.key), limit=1000, cursor=cursor
        )
        for record in result.records:  # newest first: the first seen of a week is its latest
            materialization = record.asset_materialization
            if materialization.partition not in versions and "source_totals" in materialization.metadata:
                versions[materialization.partition] = str(materialization.metadata["source_totals"].value)
        if not result.has_more:
            return versions
        cursor = result.cursor


def active_weeks(context: SensorEvaluationContext) -> set[str]:
    """Weeks with a run of the hourly job queued or running: not launched twice (the schedule may have)."""
    runs = context.instance.get_runs(RunsFilter(job_name=hourly_ridership_job.name, statuses=_ACTIVE))
    return {run.tags["dagster/partition"] for run in runs if "dagster/partition" in run.tags}


@sensor(
    job=hourly_ridership_job,
    minimum_interval_seconds=3600,
    default_status=DefaultSensorStatus.RUNNING,
    description="Hourly: when a dataset's rowsUpdatedAt moves, launches each week that is new (of the last "
    f"{HOURLY_LOOKBACK_WEEKS}) or whose rows or ridership differ from what was stored, once per version.",
)
def hourly_ridership_sensor(context: SensorEvaluationContext, hourly_source: HourlyRidershipSource):
    acted_on = json.loads(context.cursor) if context.cursor else {}  # dataset id -> rowsUpdatedAt handled
    observations, moved = [], {}
    try:
        for dataset in HOURLY_DATASETS:
            version = hourly_source.dataset_version(dataset.id)
            if acted_on.get(dataset.id) != version.rows_updated_at:
                moved[dataset.id] = version.rows_updated_at
                observations.append(
                    AssetObservation(
                        dataset_key(dataset.id),
                        tags={DATA_VERSION_TAG: str(version.rows_updated_at)},
                        metadata={"dataset_id": dataset.id, "name": version.name},
                    )
                )
        if not moved:
            return SkipReason("No hourly ridership dataset changed (rowsUpdatedAt) since the last tick.")
        stored = stored_versions(context)
        recent = set(hourly_partitions.get_partition_keys()[-HOURLY_LOOKBACK_WEEKS:])
        # The weeks the moved datasets hold that are loaded, or recent: the ones a change can matter to.
        candidates = sorted(
            week
            for key in sorted(recent | set(stored))
            if set(hourly_source.dataset_ids(week := HOURLY_WEEKS.week_of(key))) & set(moved)
        )
        totals = hourly_source.week_totals(None, candidates[0], candidates[-1]) if candidates else {}
        # The growing dataset's newest hour bounds every dataset's: a week is whole once its last hour is in.
        newest = hourly_source.newest_hour(HOURLY_DATASETS[-1].id) if candidates else None
        whole = [week for week in candidates if week in totals and newest and last_hour(week) <= newest]
    except SourceError as error:
        return SkipReason(f"NY Open Data did not answer ({error}); asking again next tick.")
    running = active_weeks(context)
    requests = [
        RunRequest(partition_key=week.isoformat(), run_key=hourly_run_key(week, totals[week].rows, totals[week].ridership))
        for week in whole
        if stored.get(week.isoformat()) != source_totals(totals[week].rows, totals[week].ridership)
        and week.isoformat() not in running
    ]
    return SensorResult(
        run_requests=requests,
        asset_events=observations,
        cursor=json.dumps({**acted_on, **moved}),
        skip_reason=None
        if requests
        else SkipReason(f"{', '.join(moved)} changed, but no week is new or revised ({len(whole)} weeks compared)."),
    )


# Dagster's default automation sensor starts stopped; this one runs from the start, so the warehouse
# follows the lake without anyone switching it on.
warehouse_automation_sensor = AutomationConditionSensorDefinition(
    "warehouse_automation_sensor",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    # The ridership's condition (BackfillLoading) is this project's own Python, which only the code
    # location can evaluate.
    use_user_code_server=True,
    description="Evaluates the assets' automation conditions: the warehouse follows the lake.",
)
