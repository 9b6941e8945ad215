"""What keeps the lake and the warehouse current: the weekly job, its schedule, the publication sensor."""

import json
from datetime import timedelta

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from mta_assets.defs.turnstile_lake import turnstile_lake
from mta_assets.defs.turnstile_warehouse import turnstile_warehouse
from mta_assets.lib.http import redact_url
from mta_assets.partitions import TIMEZONE, file_stem, is_published, latest_week, week_of, weekly_partitions
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
