"""Data-quality checks: shown in the UI, failing with numbers in their metadata.

The lake checks are asset checks of their own that read what was stored, a week at a time. The
warehouse and ridership checks are computed by their assets from the load itself, with the specs and
results defined here.
Blocking checks stop bad data from flowing downstream; the others flag (holidays, anomalies) and pass.
"""

import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetRecordsFilter,
    Failure,
    ResourceParam,
    multi_asset_check,
)

from mta_assets.lake.io_manager import LakeIOManager, LakeWeeks
from mta_assets.lake.week import LakeWeek
from mta_assets.lib.tables import TURNSTILE
from mta_assets.parsing import MAX_SHARE_OUTSIDE_WEEK, readings_outside_week
from mta_assets.partitions import week_of, weekly_partitions
from mta_assets.warehouse.base import WeekLoad

LAKE, RIDERSHIP = AssetKey("turnstile_lake"), AssetKey("station_daily_ridership")
# A week's row count or a day's riders outside this band around recent weeks is flagged.
PLAUSIBLE_BAND = (0.5, 1.5)
RECENT_WEEKS = 8
READING_KEY = ["control_area", "unit", "scp", "reading_at", "description"]

LAKE_CHECKS = [
    AssetCheckSpec("lake_columns", asset=LAKE, blocking=True, description="The stored week has exactly the turnstile table's columns."),
    AssetCheckSpec(
        "lake_readings_in_week",
        asset=LAKE,
        description="Every reading falls in the seven days the file covers. A few strays are stored and "
        f"flagged here; with more than {MAX_SHARE_OUTSIDE_WEEK:.0%} the week is refused when it is parsed.",
    ),
    AssetCheckSpec("lake_no_duplicate_readings", asset=LAKE, description="No reading (turnstile, time, kind) appears twice."),
    AssetCheckSpec("lake_row_count_plausible", asset=LAKE, description=f"Rows within {PLAUSIBLE_BAND} x the median of the {RECENT_WEEKS} weeks before."),
]


def _result(failing: Mapping[object, object], metadata: dict, blocking: bool, **identity) -> AssetCheckResult:
    return AssetCheckResult(
        passed=not failing,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        metadata={**metadata, "failing_weeks": {str(key): value for key, value in failing.items()} or "none"},
        **identity,
    )


@dataclass(frozen=True)
class StoredWeekFindings:
    """What the lake checks found in one stored week, read back from the lake."""

    columns: tuple[str, ...]
    rows: int
    outside_week: int
    duplicates: int


def inspect_stored_week(lake_week: LakeWeek) -> StoredWeekFindings:
    """Read the stored object's columns and the readings' key columns (not the counters) back."""
    columns = tuple(lake_week.column_names())
    if not set(READING_KEY) <= set(columns):
        return StoredWeekFindings(columns, lake_week.row_count(), 0, 0)
    readings = lake_week.read_table(READING_KEY, text_as_codes=True)
    return StoredWeekFindings(
        columns,
        readings.num_rows,
        readings_outside_week(readings["reading_at"], lake_week.week),
        readings.num_rows - readings.group_by(READING_KEY).aggregate([]).num_rows,
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


def lake_results(findings: Mapping[str, StoredWeekFindings], earlier_rows: Mapping[str, int]) -> list[AssetCheckResult]:
    """The lake checks for a run's weeks; `earlier_rows` holds row counts of weeks before them."""
    known_rows = {**earlier_rows, **{key: found.rows for key, found in findings.items()}}
    implausible = {}
    for key, found in findings.items():
        before = sorted(k for k in known_rows if k < key)[-RECENT_WEEKS:]
        if before:
            median = statistics.median(known_rows[k] for k in before)
            ratio = found.rows / median
            if not PLAUSIBLE_BAND[0] <= ratio <= PLAUSIBLE_BAND[1]:
                implausible[key] = f"{found.rows:,} rows, {ratio:.2f} x the median {median:,.0f} of {len(before)} weeks before"
    lake = {"asset_key": LAKE}
    return [
        _result(
            {key: list(found.columns) for key, found in findings.items() if found.columns != TURNSTILE.column_names},
            {"expected": ", ".join(TURNSTILE.column_names)},
            blocking=True,
            check_name="lake_columns",
            **lake,
        ),
        _result(
            {key: f"{found.outside_week:,} of {found.rows:,} readings outside the week" for key, found in findings.items() if found.outside_week},
            {"readings_outside": sum(found.outside_week for found in findings.values())},
            blocking=False,
            check_name="lake_readings_in_week",
            **lake,
        ),
        _result(
            {key: f"{found.duplicates:,} duplicate readings" for key, found in findings.items() if found.duplicates},
            {"duplicates": sum(found.duplicates for found in findings.values())},
            blocking=False,
            check_name="lake_no_duplicate_readings",
            **lake,
        ),
        _result(implausible, {"rows": {key: found.rows for key, found in findings.items()}}, blocking=False, check_name="lake_row_count_plausible", **lake),
    ]


@multi_asset_check(specs=LAKE_CHECKS, description="Reads each week of the run back from the lake, one at a time.")
def lake_checks(
    context: AssetCheckExecutionContext, lake_io_manager: ResourceParam[LakeIOManager]
) -> Iterator[AssetCheckResult]:
    """The lake checks of the weeks a run stored, read from the lake as stored.

    They run after turnstile_lake, in the same run, for the run's weeks. Dagster 1.13 records an asset
    check result per run, not per week of a multi-week run, so these are checks of the asset (not
    partitioned), naming the failing weeks in their metadata.
    """
    run = context.op_execution_context
    if not run.has_partition_key and not run.has_partition_key_range:
        raise Failure(
            description="The lake checks check the weeks of a run: materialize turnstile_lake for one or more "
            "weeks (its checks run with it) rather than running the checks on their own."
        )
    keys = sorted(run.partition_keys)
    findings = {key: inspect_stored_week(lake_io_manager.lake_week(week_of(key))) for key in keys}
    yield from lake_results(findings, _earlier_row_counts(context, keys[0]))


def warehouse_checks(asset: AssetKey) -> list[AssetCheckSpec]:
    """The checks of a warehouse asset that loads lake weeks, computed from its load."""
    return [
        AssetCheckSpec("warehouse_matches_lake", asset=asset, blocking=True, description="The warehouse week has exactly the lake week's rows."),
    ]
RIDERSHIP_CHECKS = [
    AssetCheckSpec("ridership_not_negative", asset=RIDERSHIP, blocking=True, description="No station-day has negative entries or exits."),
    AssetCheckSpec("ridership_day_totals_plausible", asset=RIDERSHIP, description="System-wide day totals within a band of the same weekday in the previous weeks; flags holidays."),
]


def warehouse_result(asset: AssetKey, lake_weeks: LakeWeeks, loads: Mapping[str, WeekLoad]) -> AssetCheckResult:
    lake_rows = {key: lake_week.row_count() for key, lake_week in lake_weeks.items()}
    mismatched = {
        key: f"warehouse {loads[key].rows:,} rows, lake {lake_rows[key]:,}"
        for key in lake_weeks
        if loads[key].rows != lake_rows[key]
    }
    return _result(mismatched, {"lake_rows": lake_rows}, blocking=True, check_name="warehouse_matches_lake", asset_key=asset)


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
