"""What keeps the lake and the warehouse current: the weekly jobs, their schedules, and the sensors that
launch what the sources publish (the MTA's files until the feed ended, hourly ridership today)."""

import json
from collections.abc import Callable, Iterable
from datetime import date, timedelta

from dagster import (
    AssetObservation,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DagsterInstance,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    TimeWindowPartitionsDefinition,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from mta_assets.asset_defaults import WEEKS_PER_RUN
from mta_assets.lib.active_runs import weeks_being_loaded
from mta_assets.asset_keys import HOURLY_RIDERSHIP_LAKE, HOURLY_RIDERSHIP_WAREHOUSE, TURNSTILE_LAKE, TURNSTILE_WAREHOUSE, hourly_dataset
from mta_assets.hourly.source import HOURLY_DATASETS, HourlyRidershipSource, hour_spans
from mta_assets.lake.facts import Fingerprint, latest_facts
from mta_assets.lib.http import redact_url
from mta_assets.partitions import (
    HOURLY_WEEKS,
    TIMEZONE,
    file_stem,
    hourly_partitions,
    latest_week,
    week_of,
    weekly_partitions,
)
from mta_assets.turnstile.files import MtaTurnstileSource
from mta_assets.lib.week_source import SourceError

# How far back the publication sensor looks for weeks that are published but not in the lake (gaps
# included), and how many weeks it asks the source about per tick.
LOOKBACK_WEEKS = 12
CHECKS_PER_TICK = 6

# One week, lake then warehouse: what the schedule, the sensor and CLI backfills launch.
turnstile_job = define_asset_job(
    "turnstile_job",
    selection=AssetSelection.assets(TURNSTILE_LAKE, TURNSTILE_WAREHOUSE),
    description="Fetch a week's MTA file into the lake and load it into the warehouse.",
)


# Both weekly schedules tick the day after a week ends, running from the start.
SUNDAY_MORNING = {"cron_schedule": "0 9 * * 0", "execution_timezone": TIMEZONE, "default_status": DefaultScheduleStatus.RUNNING}


def run_key(partition_keys: list[str]) -> str:
    return f"turnstile:{partition_keys[0]}" + (f"..{partition_keys[-1]}" if len(partition_keys) > 1 else "")


def week_run_requests(
    partition_keys: Iterable[str], partitions_def: TimeWindowPartitionsDefinition, run_key_of: Callable[[list[str]], str]
) -> list[RunRequest]:
    """One run per stretch of consecutive weeks, up to WEEKS_PER_RUN of them, newest stretch first: what a
    backfill's runs are. A run costs seconds to start (a process, the definitions), a week about one to
    load, so the dozen weeks a sensor finds on a first start are one run, not twelve."""
    position = {key: n for n, key in enumerate(partitions_def.get_partition_keys())}
    stretches: list[list[str]] = []
    for key in sorted(partition_keys, key=position.__getitem__):
        if stretches and position[key] == position[stretches[-1][-1]] + 1 and len(stretches[-1]) < WEEKS_PER_RUN:
            stretches[-1].append(key)
        else:
            stretches.append([key])
    return [
        RunRequest(partition_key=keys[0], run_key=run_key_of(keys))
        if len(keys) == 1
        else RunRequest(run_key=run_key_of(keys), tags={ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]})
        for keys in reversed(stretches)
    ]



@schedule(
    job=turnstile_job,
    **SUNDAY_MORNING,
    description="Sunday 09:00 New York: the Saturday's file, if the MTA has published it.",
)
def weekly_turnstile_schedule(context: ScheduleEvaluationContext, mta_files: MtaTurnstileSource):
    week = context.scheduled_execution_time.date() - timedelta(days=1)
    if week > latest_week():
        return SkipReason(
            f"Week {week} is after the feed's last week, {latest_week()} (MTA_TURNSTILE_LAST_WEEK): the MTA "
            f"publishes no more weekly files."
        )
    name = f"{file_stem(week)}.txt"
    try:
        published = mta_files.is_published(week)
    except SourceError as error:
        return SkipReason(f"Could not ask whether {name} is published ({error}); the publication sensor will retry.")
    if not published:
        return SkipReason(
            f"{name} is not published yet at {redact_url(mta_files.file_url(week))}; the publication sensor launches it when it appears."
        )
    return RunRequest(partition_key=week.isoformat(), run_key=run_key([week.isoformat()]))


@sensor(
    job=turnstile_job,
    minimum_interval_seconds=3600,
    default_status=DefaultSensorStatus.RUNNING,
    description=f"Hourly: launches the published weeks of the last {LOOKBACK_WEEKS} that are not in the lake yet "
    "(consecutive ones in one run).",
)
def turnstile_publication_sensor(context: SensorEvaluationContext, mta_files: MtaTurnstileSource):
    # Newest first, up to the feed's last week (a week the MTA never published is no partition).
    recent = list(reversed(weekly_partitions.get_partition_keys()[-LOOKBACK_WEEKS:]))
    launched = set(json.loads(context.cursor)) if context.cursor else set()
    in_lake = context.instance.get_materialized_partitions(TURNSTILE_LAKE)
    candidates = [key for key in recent if key not in in_lake and key not in launched][:CHECKS_PER_TICK]
    published = []
    for key in candidates:
        try:
            if mta_files.is_published(week_of(key)):
                published.append(key)
        except SourceError as error:
            if published:
                break  # launch what was found; the rest is asked again next tick
            return SkipReason(f"The source did not answer for week {key} ({error}); asking again next tick.")
    requests = week_run_requests(published, weekly_partitions, run_key)
    # Only weeks still in the look-back window are remembered, so the cursor stays small.
    launched = sorted((launched | set(published)) & set(recent))
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
    selection=AssetSelection.assets(HOURLY_RIDERSHIP_LAKE, HOURLY_RIDERSHIP_WAREHOUSE),
    description="Read a week of hourly ridership from NY Open Data into the lake and load it into the warehouse.",
)
# The hourly sensor's look-back for weeks never loaded; a week once loaded is watched for revisions for ever.
HOURLY_LOOKBACK_WEEKS = 12
# What a tick may spend on NY Open Data, per question: Dagster ends a sensor's or schedule's tick after 60 s,
# so a slow or throttling NY Open Data is asked again next tick rather than waited out.
TICK_DEADLINE_SECONDS = 15
TICK_ATTEMPTS = 2


def for_a_tick(hourly_source: HourlyRidershipSource) -> HourlyRidershipSource:
    return hourly_source.model_copy(update={"deadline_seconds": TICK_DEADLINE_SECONDS, "max_attempts": TICK_ATTEMPTS})


def hourly_run_key(week: date, fingerprint: Fingerprint, rows_updated_at: int) -> str:
    """A week's fingerprint as NY Open Data has it, and its datasets' version.

    A week whose rows changed in any way loads again under a key of its own, once; a stored week with the
    same fingerprint never (the sensor and the schedule compare first); a week whose run failed is asked
    again once its dataset changes.
    """
    return f"hourly_ridership:{week}:{fingerprint.key()}:{rows_updated_at}"


def stored_fingerprints(instance: DagsterInstance, weeks: list[date]) -> dict[date, Fingerprint | None]:
    """The fingerprint the latest materialization of each stored week recorded; None where none is (stored
    before fingerprints were recorded, or garbled), so the week differs from any the dataset has and loads again."""
    return {week: facts.fingerprint for week, facts in latest_facts(instance, HOURLY_RIDERSHIP_LAKE, weeks).items()}


def not_whole(source: HourlyRidershipSource, week: date, datasets: str) -> str | None:
    """What the datasets lack of the week, said with the hours; None once they hold every hour."""
    missing = source.missing_hours(week)
    if not missing:
        return None
    return (
        f"Week {week}: NY Open Data's hourly ridership ({datasets}) does not hold the whole week yet: it lacks "
        f"{len(missing)} of its 168 hours ({hour_spans(missing)})"
    )


@schedule(
    job=hourly_ridership_job,
    **SUNDAY_MORNING,
    description="Sunday 09:00 New York: the week to the Saturday, once NY Open Data holds all of it.",
)
def weekly_hourly_ridership_schedule(context: ScheduleEvaluationContext, hourly_source: HourlyRidershipSource):
    week = context.scheduled_execution_time.date() - timedelta(days=1)
    key, source = week.isoformat(), for_a_tick(hourly_source)
    datasets = source.dataset_ids(week)
    if key in weeks_being_loaded(context.instance, [HOURLY_RIDERSHIP_LAKE], hourly_partitions):
        return SkipReason(f"Week {week} is being loaded already (a run of the sensor, a backfill or the UI).")
    try:
        if lacking := not_whole(source, week, ", ".join(datasets)):
            return SkipReason(f"{lacking}. The hourly ridership sensor launches the week once the dataset has every hour.")
        fingerprint = source.week_fingerprints(datasets, week, week)[week]
        rows_updated_at = max(source.dataset_version(dataset_id).rows_updated_at for dataset_id in datasets)
    except SourceError as error:
        return SkipReason(f"Could not ask NY Open Data about week {week} ({error}); the hourly ridership sensor will retry.")
    if stored_fingerprints(context.instance, [week]).get(week) == fingerprint:
        return SkipReason(f"Week {week} is stored already as NY Open Data has it.")
    return RunRequest(partition_key=key, run_key=hourly_run_key(week, fingerprint, rows_updated_at))


def hourly_week_requests(
    instance: DagsterInstance,
    source: HourlyRidershipSource,
    versions: dict[str, int],
    moved: set[str],
) -> tuple[list[RunRequest], list[str]]:
    """Runs for the weeks of the `moved` datasets that are whole and new (recent, not stored) or whose rows
    changed in any way since they were stored (their recorded fingerprint differs); and what each recent
    week left out lacks.

    `versions` is every dataset's rowsUpdatedAt; a week's run key carries its datasets' newest.
    """
    stored = instance.get_materialized_partitions(HOURLY_RIDERSHIP_LAKE)
    recent = set(hourly_partitions.get_partition_keys()[-HOURLY_LOOKBACK_WEEKS:])
    # The weeks the moved datasets hold that are stored, or recent: the ones a change can matter to.
    candidates = sorted(
        week for key in recent | set(stored) if set(source.dataset_ids(week := HOURLY_WEEKS.week_of(key))) & moved
    )
    if not candidates:
        return [], []
    fingerprints = source.week_fingerprints(None, candidates[0], candidates[-1])
    running = weeks_being_loaded(instance, [HOURLY_RIDERSHIP_LAKE], hourly_partitions)
    recorded = stored_fingerprints(instance, [week for week in candidates if week.isoformat() in stored])
    week_keys, lacking = {}, []
    for week in candidates:
        key, fingerprint = week.isoformat(), fingerprints.get(week)
        if fingerprint is None or key in running:
            continue
        if key in stored and recorded.get(week) == fingerprint:
            continue
        datasets = source.dataset_ids(week)
        if missing := not_whole(source, week, ", ".join(datasets)):
            lacking.append(missing)
            continue
        rows_updated_at = max(versions.get(dataset_id, 0) for dataset_id in datasets)
        week_keys[key] = hourly_run_key(week, fingerprint, rows_updated_at)
    # A run's key is its weeks' keys together: a week that changes again is in a run under another key.
    requests = week_run_requests(week_keys, hourly_partitions, lambda keys: " ".join(week_keys[key] for key in keys))
    return requests, lacking


@sensor(
    job=hourly_ridership_job,
    minimum_interval_seconds=3600,
    default_status=DefaultSensorStatus.RUNNING,
    description="Hourly: when a dataset's rowsUpdatedAt moves, launches the weeks (consecutive ones in one run) the "
    "dataset holds every hour of that are new (of the last {HOURLY_LOOKBACK_WEEKS}) or whose fingerprint (rows, sums, newest :updated_at) "
    "differs from the one the stored week's materialization recorded.",
)
def hourly_ridership_sensor(context: SensorEvaluationContext, hourly_source: HourlyRidershipSource):
    source = for_a_tick(hourly_source)
    acted_on = json.loads(context.cursor) if context.cursor else {}  # dataset id -> rowsUpdatedAt handled
    versions, names, unanswered = {}, {}, []
    for dataset in HOURLY_DATASETS:  # one dataset that does not answer holds back none of the others
        try:
            version = source.dataset_version(dataset.id)
        except SourceError as error:
            context.log.warning(str(error))
            unanswered.append(dataset.id)
            continue
        versions[dataset.id], names[dataset.id] = version.rows_updated_at, version.name
    if not versions:
        return SkipReason(f"NY Open Data did not answer for any dataset ({', '.join(unanswered)}; see the tick's log); asking again next tick.")
    moved = {dataset_id for dataset_id, version in versions.items() if acted_on.get(dataset_id) != version}
    not_asked = f" Not answering: {', '.join(unanswered)} (see the tick's log)." if unanswered else ""
    if not moved:
        return SkipReason(f"No hourly ridership dataset changed (rowsUpdatedAt) since the last tick.{not_asked}")
    try:
        requests, lacking = hourly_week_requests(context.instance, source, versions, moved)
    except SourceError as error:
        return SkipReason(f"NY Open Data did not answer ({error}); asking again next tick.")
    for lack in lacking:
        context.log.info(f"{lack}: not launched; the dataset's next change asks again.")
    return SensorResult(
        run_requests=requests,
        # The moved datasets' data versions, as their observations: the UI shows when each changed.
        asset_events=[
            AssetObservation(
                hourly_dataset(dataset_id),
                tags={DATA_VERSION_TAG: str(versions[dataset_id])},
                metadata={"dataset_id": dataset_id, "name": names[dataset_id]},
            )
            for dataset_id in sorted(moved)
        ],
        cursor=json.dumps({**acted_on, **{dataset_id: versions[dataset_id] for dataset_id in moved}}),
        skip_reason=None
        if requests
        else SkipReason(
            f"{', '.join(sorted(moved))} changed, but no whole week is new or revised."
            + "".join(f" {lack}." for lack in lacking)
            + not_asked
        ),
    )


# Dagster's default automation sensor starts stopped; this one runs from the start, so the warehouse
# follows the lake, and the ridership the warehouse, without anyone switching it on.
automation_condition_sensor = AutomationConditionSensorDefinition(
    "automation_condition_sensor",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
    # No priority of its own: its runs queue first-in first-out with the turnstile runs, ahead of the runs
    # that load hourly weeks (run_coordinator.py). At priority 1, ahead of a turnstile backfill's queued runs, the ridership's
    # steps (priority 1 in the pool too) took the warehouse's one writer before each backfill run's load: the
    # 720-week history reached the warehouse after 875 s instead of 522 (docs/benchmarks.md).
    # The ridership's condition (BackfillLoading) is this project's own Python, which only the code
    # location can evaluate.
    use_user_code_server=True,
    description="Evaluates every asset's automation condition (mta_assets/automation_conditions.py): the warehouse "
    "follows the lake, the ridership follows the warehouse.",
)
