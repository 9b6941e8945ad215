"""Data-quality checks: run with their assets, shown in the UI, failing with numbers in their metadata.

Blocking checks stop bad data from flowing downstream; the others flag (holidays, anomalies) and pass.
"""

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pyarrow.compute as pc
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey

from mta_assets.lake import LakeWeek
from mta_assets.lib.turnstile_table import COLUMN_NAMES
from mta_assets.parsing import ParsedWeek
from mta_assets.warehouse.base import WeekLoad

LAKE, WAREHOUSE, RIDERSHIP = AssetKey("turnstile_lake"), AssetKey("turnstile_warehouse"), AssetKey("station_daily_ridership")
# A week's row count or a day's riders outside this band around recent weeks is flagged.
PLAUSIBLE_BAND = (0.5, 1.5)
# A few stray readings outside a file's week are flagged; more than this share blocks the week.
MAX_SHARE_OUTSIDE_WEEK = 0.01
RECENT_WEEKS = 8

LAKE_CHECKS = [
    AssetCheckSpec("lake_columns", asset=LAKE, blocking=True, description="The stored week has exactly the turnstile table's columns."),
    AssetCheckSpec(
        "lake_readings_in_week",
        asset=LAKE,
        blocking=True,
        description="Every reading falls in the seven days the file covers; a few strays warn, "
        f"more than {MAX_SHARE_OUTSIDE_WEEK:.0%} block the week.",
    ),
    AssetCheckSpec("lake_no_duplicate_readings", asset=LAKE, description="No reading (turnstile, time, kind) appears twice."),
    AssetCheckSpec("lake_row_count_plausible", asset=LAKE, description=f"Rows within {PLAUSIBLE_BAND} x the median of the {RECENT_WEEKS} weeks before."),
]
WAREHOUSE_CHECKS = [
    AssetCheckSpec("warehouse_matches_lake", asset=WAREHOUSE, blocking=True, description="The warehouse week has exactly the lake week's rows."),
]
RIDERSHIP_CHECKS = [
    AssetCheckSpec("ridership_not_negative", asset=RIDERSHIP, blocking=True, description="No station-day has negative entries or exits."),
    AssetCheckSpec("ridership_day_totals_plausible", asset=RIDERSHIP, description="System-wide day totals within a band of the same weekday in the previous weeks; flags holidays."),
]


@dataclass(frozen=True)
class WeekFindings:
    """What the lake checks need to know about a week, taken while its rows are in memory."""

    rows: int
    outside_week: int
    duplicates: int


def inspect_week(parsed: ParsedWeek) -> WeekFindings:
    table = parsed.table
    start = datetime.combine(parsed.week - timedelta(days=7), time())
    end = datetime.combine(parsed.week, time())
    reading_at = table["reading_at"]
    outside = pc.sum(pc.or_(pc.less(reading_at, start), pc.greater_equal(reading_at, end))).as_py() or 0
    keys = ["control_area", "unit", "scp", "reading_at", "description"]
    distinct = table.select(keys).group_by(keys).aggregate([]).num_rows
    return WeekFindings(rows=table.num_rows, outside_week=outside, duplicates=table.num_rows - distinct)


def _result(name: str, asset: AssetKey, failing: Mapping[object, object], metadata: dict, blocking: bool) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=name,
        asset_key=asset,
        passed=not failing,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        metadata={**metadata, "failing_weeks": {str(key): value for key, value in failing.items()} or "none"},
    )


def lake_results(
    findings: Mapping[str, WeekFindings], lake_weeks: Mapping[str, LakeWeek], earlier_rows: Mapping[str, int]
) -> list[AssetCheckResult]:
    """The lake checks for a run's weeks; `earlier_rows` holds row counts of weeks before them."""
    columns = {key: lake_week.column_names() for key, lake_week in lake_weeks.items()}
    known_rows = {**earlier_rows, **{key: found.rows for key, found in findings.items()}}
    implausible = {}
    for key, found in findings.items():
        before = sorted(k for k in known_rows if k < key)[-RECENT_WEEKS:]
        if before:
            median = statistics.median(known_rows[k] for k in before)
            ratio = found.rows / median
            if not PLAUSIBLE_BAND[0] <= ratio <= PLAUSIBLE_BAND[1]:
                implausible[key] = f"{found.rows:,} rows, {ratio:.2f} x the median {median:,.0f} of {len(before)} weeks before"
    return [
        _result(
            "lake_columns",
            LAKE,
            {key: names for key, names in columns.items() if tuple(names) != COLUMN_NAMES},
            {"expected": ", ".join(COLUMN_NAMES)},
            blocking=True,
        ),
        _result(
            "lake_readings_in_week",
            LAKE,
            {key: f"{found.outside_week:,} of {found.rows:,} readings outside the week" for key, found in findings.items() if found.outside_week},
            {"readings_outside": sum(found.outside_week for found in findings.values())},
            blocking=any(found.outside_week > MAX_SHARE_OUTSIDE_WEEK * found.rows for found in findings.values()),
        ),
        _result(
            "lake_no_duplicate_readings",
            LAKE,
            {key: f"{found.duplicates:,} duplicate readings" for key, found in findings.items() if found.duplicates},
            {"duplicates": sum(found.duplicates for found in findings.values())},
            blocking=False,
        ),
        _result(
            "lake_row_count_plausible",
            LAKE,
            implausible,
            {"rows": {key: found.rows for key, found in findings.items()}},
            blocking=False,
        ),
    ]


def warehouse_result(lake_weeks: Mapping[str, LakeWeek], loads: Mapping[str, WeekLoad]) -> AssetCheckResult:
    lake_rows = {key: lake_week.row_count() for key, lake_week in lake_weeks.items()}
    mismatched = {
        key: f"warehouse {loads[key].rows:,} rows, lake {lake_rows[key]:,}"
        for key in lake_weeks
        if loads[key].rows != lake_rows[key]
    }
    return _result("warehouse_matches_lake", WAREHOUSE, mismatched, {"lake_rows": lake_rows}, blocking=True)


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
            "ridership_not_negative",
            RIDERSHIP,
            {week: f"{count} station-days below zero" for week, count in negative_rows.items() if count},
            {"negative_station_days": sum(negative_rows.values())},
            blocking=True,
        ),
        _result(
            "ridership_day_totals_plausible",
            RIDERSHIP,
            flagged,
            {"day_entries": {str(day): total for day, total in sorted(day_totals.items())}},
            blocking=False,
        ),
    ]
