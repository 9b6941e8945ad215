"""Data-quality checks: shown in the UI, failing with numbers in their metadata.

The lake checks are asset checks of their own that read what was stored. The warehouse and ridership
checks are computed by their assets from the load itself, with the specs and results defined here.
Blocking checks stop bad data from flowing downstream; the others flag (holidays, anomalies) and pass.
"""

import statistics
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetRecordsFilter,
    AutomationCondition,
    asset_check,
)

from mta_assets.lake.io_manager import LakeWeeks
from mta_assets.lib.tables import TURNSTILE
from mta_assets.partitions import weekly_partitions
from mta_assets.warehouse.base import WeekLoad

LAKE, WAREHOUSE, RIDERSHIP = AssetKey("turnstile_lake"), AssetKey("turnstile_warehouse"), AssetKey("station_daily_ridership")
# A week's row count or a day's riders outside this band around recent weeks is flagged.
PLAUSIBLE_BAND = (0.5, 1.5)
# A few stray readings outside a file's week are flagged; more than this share blocks the week.
MAX_SHARE_OUTSIDE_WEEK = 0.01
RECENT_WEEKS = 8
READING_KEY = ["control_area", "unit", "scp", "reading_at", "description"]
# A lake week stored without its checks (its run failed on another week) is checked on the next
# automation tick, so that the warehouse, which waits for the blocking ones, can follow it.
CHECK_WHAT_IS_STORED = AutomationCondition.eager().without(AutomationCondition.in_latest_time_window())


def _result(failing: Mapping[object, object], metadata: dict, blocking: bool, **identity) -> AssetCheckResult:
    return AssetCheckResult(
        passed=not failing,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        metadata={**metadata, "failing_weeks": {str(key): value for key, value in failing.items()} or "none"},
        **identity,
    )


@asset_check(
    asset=LAKE,
    partitions_def=weekly_partitions,
    automation_condition=CHECK_WHAT_IS_STORED,
    blocking=True,
    description="The stored week has exactly the turnstile table's columns.",
)
def lake_columns(turnstile_lake: LakeWeeks) -> AssetCheckResult:
    columns = {key: lake_week.column_names() for key, lake_week in turnstile_lake.items()}
    return _result(
        {key: names for key, names in columns.items() if tuple(names) != TURNSTILE.column_names},
        {"expected": ", ".join(TURNSTILE.column_names)},
        blocking=True,
    )


def readings_outside_week(readings: pa.Table, week: date) -> int:
    """Readings not in the seven days (Saturday to Friday) before the file's Saturday."""
    start, end = datetime.combine(week - timedelta(days=7), time()), datetime.combine(week, time())
    reading_at = readings["reading_at"]
    return pc.sum(pc.or_(pc.less(reading_at, start), pc.greater_equal(reading_at, end))).as_py() or 0


@asset_check(
    asset=LAKE,
    partitions_def=weekly_partitions,
    automation_condition=CHECK_WHAT_IS_STORED,
    blocking=True,
    description="Every reading falls in the seven days the file covers; a few strays warn, "
    f"more than {MAX_SHARE_OUTSIDE_WEEK:.0%} block the week.",
)
def lake_readings_in_week(turnstile_lake: LakeWeeks) -> AssetCheckResult:
    outside, rows = {}, {}
    for key, lake_week in turnstile_lake.items():
        readings = lake_week.read_table(["reading_at"])
        rows[key], outside[key] = readings.num_rows, readings_outside_week(readings, lake_week.week)
    return _result(
        {key: f"{count:,} of {rows[key]:,} readings outside the week" for key, count in outside.items() if count},
        {"readings_outside": sum(outside.values())},
        blocking=any(count > MAX_SHARE_OUTSIDE_WEEK * rows[key] for key, count in outside.items()),
    )


@asset_check(
    asset=LAKE,
    partitions_def=weekly_partitions,
    automation_condition=CHECK_WHAT_IS_STORED,
    description="No reading (turnstile, time, kind) appears twice.",
)
def lake_no_duplicate_readings(turnstile_lake: LakeWeeks) -> AssetCheckResult:
    duplicates = {}
    for key, lake_week in turnstile_lake.items():
        readings = lake_week.read_table(READING_KEY)
        duplicates[key] = readings.num_rows - readings.group_by(READING_KEY).aggregate([]).num_rows
    return _result(
        {key: f"{count:,} duplicate readings" for key, count in duplicates.items() if count},
        {"duplicates": sum(duplicates.values())},
        blocking=False,
    )


def _earlier_row_counts(context: AssetCheckExecutionContext, first_key: str) -> dict[str, int]:
    """Row counts of the weeks before `first_key`, from their lake materializations."""
    keys = weekly_partitions.get_partition_keys()
    position = keys.index(first_key)
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=LAKE, asset_partitions=keys[max(0, position - RECENT_WEEKS) : position]),
        limit=4 * RECENT_WEEKS,
    ).records
    counts = {}
    for record in records:  # newest first: the first seen of a week is its latest
        materialization = record.asset_materialization
        if materialization.partition not in counts and "dagster/row_count" in materialization.metadata:
            counts[materialization.partition] = materialization.metadata["dagster/row_count"].value
    return counts


@asset_check(
    asset=LAKE,
    partitions_def=weekly_partitions,
    automation_condition=CHECK_WHAT_IS_STORED,
    description=f"Rows within {PLAUSIBLE_BAND} x the median of the {RECENT_WEEKS} weeks before.",
)
def lake_row_count_plausible(context: AssetCheckExecutionContext, turnstile_lake: LakeWeeks) -> AssetCheckResult:
    rows = {key: lake_week.row_count() for key, lake_week in turnstile_lake.items()}
    known_rows = {**_earlier_row_counts(context, min(rows)), **rows}
    implausible = {}
    for key, count in rows.items():
        before = sorted(k for k in known_rows if k < key)[-RECENT_WEEKS:]
        if before:
            median = statistics.median(known_rows[k] for k in before)
            ratio = count / median
            if not PLAUSIBLE_BAND[0] <= ratio <= PLAUSIBLE_BAND[1]:
                implausible[key] = f"{count:,} rows, {ratio:.2f} x the median {median:,.0f} of {len(before)} weeks before"
    return _result(implausible, {"rows": rows}, blocking=False)


WAREHOUSE_CHECKS = [
    AssetCheckSpec("warehouse_matches_lake", asset=WAREHOUSE, blocking=True, description="The warehouse week has exactly the lake week's rows."),
]
RIDERSHIP_CHECKS = [
    AssetCheckSpec("ridership_not_negative", asset=RIDERSHIP, blocking=True, description="No station-day has negative entries or exits."),
    AssetCheckSpec("ridership_day_totals_plausible", asset=RIDERSHIP, description="System-wide day totals within a band of the same weekday in the previous weeks; flags holidays."),
]


def warehouse_result(lake_weeks: LakeWeeks, loads: Mapping[str, WeekLoad]) -> AssetCheckResult:
    lake_rows = {key: lake_week.row_count() for key, lake_week in lake_weeks.items()}
    mismatched = {
        key: f"warehouse {loads[key].rows:,} rows, lake {lake_rows[key]:,}"
        for key in lake_weeks
        if loads[key].rows != lake_rows[key]
    }
    return _result(mismatched, {"lake_rows": lake_rows}, blocking=True, check_name="warehouse_matches_lake", asset_key=WAREHOUSE)


def ridership_results(
    negative_rows: Mapping[date, int], day_totals: Mapping[date, int], earlier_day_totals: Mapping[date, int]
) -> list[AssetCheckResult]:
    """`day_totals`: system entries per service date of the run; `earlier_day_totals`: of earlier weeks."""
    flagged = {}
    for day, entries in sorted(day_totals.items()):
        same_weekday = [earlier_day_totals[day - timedelta(weeks=n)] for n in range(1, 5) if day - timedelta(weeks=n) in earlier_day_totals]
        if same_weekday:
            median = statistics.median(same_weekday)
            ratio = entries / median if median else float("inf")
            if not PLAUSIBLE_BAND[0] <= ratio <= PLAUSIBLE_BAND[1]:
                flagged[day] = f"{entries:,} entries, {ratio:.2f} x the median {median:,.0f} of the same weekday"
    return [
        _result(
            {week: f"{count} station-days below zero" for week, count in negative_rows.items() if count},
            {"negative_station_days": sum(negative_rows.values())},
            blocking=True,
            check_name="ridership_not_negative",
            asset_key=RIDERSHIP,
        ),
        _result(
            flagged,
            {"day_entries": {str(day): total for day, total in sorted(day_totals.items())}},
            blocking=False,
            check_name="ridership_day_totals_plausible",
            asset_key=RIDERSHIP,
        ),
    ]
