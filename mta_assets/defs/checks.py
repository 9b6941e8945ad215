"""Data-quality checks: shown in the UI, failing with numbers in their metadata.

The lake checks are asset checks of their own that read what was stored, a week at a time. The
warehouse and ridership checks are computed by their assets from the load itself, with the specs and
results defined here.
Blocking checks stop bad data from flowing downstream; the others flag (holidays, anomalies) and pass.
"""

import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Failure,
    ResourceParam,
    multi_asset_check,
)

from mta_assets.turnstile.completeness import Neighbour, WeekShape, neighbours_of, recorded_sizes, shortfalls
from mta_assets.lake.io_manager import LakeIOManager, LakeWeeks
from mta_assets.lake.week import LakeWeek
from mta_assets.lib.tables import TURNSTILE, Table
from mta_assets.turnstile.parsing import MAX_SHARE_OUTSIDE_WEEK, readings_outside_week
from mta_assets.partitions import week_of
from mta_assets.turnstile.sources import TurnstileSources
from mta_assets.warehouse import Warehouse
from mta_assets.warehouse.base import load_table

LAKE, RIDERSHIP = AssetKey("turnstile_lake"), AssetKey("station_daily_ridership")
# Real weeks leave out well under 1% of intervals (a 2023 week: 1,793 backwards deltas over 67 of ~5,000
# turnstiles, of about 200,000 intervals); above this share the week's ridership is undercounted.
MAX_EXCLUDED_SHARE = 0.05
# A day's riders outside this band around the same weekday of recent weeks is flagged.
PLAUSIBLE_BAND = (0.5, 1.5)
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
    AssetCheckSpec(
        "lake_week_complete",
        asset=LAKE,
        description="The week holds about as many turnstiles and readings as the stored weeks around it (or, with "
        "none stored, as a complete week), with readings on all seven days. A short week is refused before it is "
        "stored; one accepted as short (MTA_ACCEPT_SHORT_WEEKS) is stored and flagged here.",
    ),
]


def require_the_asset(context: AssetExecutionContext, asset_key: AssetKey) -> None:
    """A subsettable asset's checks check the weeks its run computes: refuse a run of the checks alone."""
    if asset_key not in context.selected_asset_keys:
        raise Failure(
            description=f"The checks of {asset_key.to_user_string()} check the weeks a run of it computes, and run with "
            f"it: materialize {asset_key.to_user_string()} for the weeks to check."
        )


def selected_results(context: AssetExecutionContext, results: Iterable[AssetCheckResult | str]) -> Iterator[AssetCheckResult]:
    """The results of the run's selected checks; a check that had nothing to compare (given as the reason, a
    string) yields no result and so shows as Skipped, not Passed, with the reason in the log."""
    for result in results:
        if isinstance(result, str):
            context.log.info(f"Check not executed: {result}")
        elif AssetCheckKey(result.asset_key, result.check_name) in context.selected_asset_check_keys:
            yield result


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
    shape: WeekShape | None  # None when the object lacks the columns that say it


def inspect_stored_week(lake_week: LakeWeek) -> StoredWeekFindings:
    """Read the stored object's columns and the readings' key columns (not the counters) back."""
    columns = tuple(lake_week.column_names())
    if not set(READING_KEY) <= set(columns):
        return StoredWeekFindings(columns, lake_week.row_count(), 0, 0, None)
    readings = lake_week.read_table(READING_KEY, text_as_codes=True)
    return StoredWeekFindings(
        columns,
        readings.num_rows,
        readings_outside_week(readings["reading_at"], lake_week.week),
        readings.num_rows - readings.group_by(READING_KEY).aggregate([]).num_rows,
        WeekShape.of(readings, lake_week.week),
    )


def lake_results(findings: Mapping[str, StoredWeekFindings], sizes: Mapping[date, Neighbour], min_devices: int) -> list[AssetCheckResult]:
    """The lake checks for a run's weeks; `sizes` holds the recorded sizes of the weeks around them."""
    short = {}
    for key, found in findings.items():
        week = date.fromisoformat(key)
        if found.shape is None:
            short[key] = "the object has no turnstile or reading_at columns to count"
        elif shortfall := shortfalls(found.shape, neighbours_of(week, sizes), min_devices):
            short[key] = "; ".join(shortfall)
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
        _result(
            short,
            {
                "turnstiles": {key: found.shape.devices for key, found in findings.items() if found.shape},
                "readings": {key: found.rows for key, found in findings.items()},
            },
            blocking=False,
            check_name="lake_week_complete",
            **lake,
        ),
    ]


@multi_asset_check(specs=LAKE_CHECKS, description="Reads each week of the run back from the lake, one at a time.")
def lake_checks(
    context: AssetCheckExecutionContext, lake_io_manager: ResourceParam[LakeIOManager], sources: TurnstileSources
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
    yield from lake_results(findings, recorded_sizes(context.instance, LAKE, [week_of(key) for key in keys]), sources.min_devices)


def warehouse_checks(asset: AssetKey) -> list[AssetCheckSpec]:
    """The checks of a warehouse asset that loads lake weeks, computed from its load."""
    return [
        AssetCheckSpec(
            "warehouse_matches_lake",
            asset=asset,
            blocking=True,
            description="After the load commits, the warehouse week has the lake object's rows and the same sum of "
            "every count column, read anew from both.",
        ),
    ]
RIDERSHIP_CHECKS = [
    AssetCheckSpec(
        "ridership_intervals_counted",
        asset=RIDERSHIP,
        description=f"At most {MAX_EXCLUDED_SHARE:.0%} of a week's reading intervals are left out as counter resets, "
        "backwards counters or jumps: more means the week's ridership is undercounted.",
    ),
    AssetCheckSpec("ridership_day_totals_plausible", asset=RIDERSHIP, description="System-wide day totals within a band of the same weekday in the previous weeks; flags holidays."),
]


@dataclass(frozen=True)
class WeekContent:
    """A week's rows and the sum of each of its count columns: what a lost, doubled or altered row changes."""

    rows: int
    sums: Mapping[str, int]

    def differences(self, other: "WeekContent") -> list[str]:
        """How `other` differs from this, said with both numbers."""
        found = [f"{other.rows:,} rows, not {self.rows:,}"] if other.rows != self.rows else []
        return found + [f"sum({column}) {other.sums[column]:,}, not {total:,}" for column, total in self.sums.items() if other.sums[column] != total]


def count_columns(table: Table) -> list[str]:
    return [column.name for column in table.columns if column.arrow_type == pa.int64()]


def lake_content(lake_week: LakeWeek) -> WeekContent:
    """The lake object's rows and count-column sums, read from the object (the count columns only)."""
    columns = count_columns(lake_week.dataset.table)
    counts = lake_week.read_table(columns)
    return WeekContent(counts.num_rows, {column: pc.sum(counts[column]).as_py() or 0 for column in columns})


def warehouse_contents(warehouse: Warehouse, table: Table, weeks: list[date]) -> dict[date, WeekContent]:
    """Each week's rows and count-column sums as the warehouse holds them now (a week it lacks: 0 rows)."""
    columns = count_columns(table)
    found = {week: WeekContent(rows, dict(zip(columns, totals))) for week, (rows, totals) in warehouse.week_sums(table, weeks, columns).items()}
    return {week: found.get(week, WeekContent(0, dict.fromkeys(columns, 0))) for week in weeks}


def warehouse_result(asset: AssetKey, lake_weeks: LakeWeeks, warehouse: Warehouse) -> AssetCheckResult:
    """The warehouse's weeks, queried after their load committed, against their lake objects read anew."""
    lake = {key: lake_content(lake_week) for key, lake_week in lake_weeks.items()}
    table = load_table(list(lake_weeks.values()))
    held = warehouse_contents(warehouse, table, [lake_week.week for lake_week in lake_weeks.values()])
    mismatched = {
        key: "warehouse " + ", ".join(lake[key].differences(held[lake_week.week])) + " as in the lake"
        for key, lake_week in lake_weeks.items()
        if lake[key].differences(held[lake_week.week])
    }
    return _result(
        mismatched,
        {"lake_rows": {key: content.rows for key, content in lake.items()}},
        blocking=True,
        check_name="warehouse_matches_lake",
        asset_key=asset,
    )


def ridership_results(
    intervals: Mapping[date, tuple[int, int]], day_totals: Mapping[date, int], earlier_day_totals: Mapping[date, int]
) -> list[AssetCheckResult | str]:
    """`intervals`: (intervals, excluded intervals) per week of the run; `day_totals`: system entries per
    service date of the run; `earlier_day_totals`: of earlier weeks. A check with nothing to compare is
    given as the reason (see selected_results)."""
    flagged, compared = {}, []
    for day, entries in sorted(day_totals.items()):
        same_weekday = [earlier_day_totals[day - timedelta(weeks=n)] for n in range(1, 5) if day - timedelta(weeks=n) in earlier_day_totals]
        if same_weekday:
            compared.append(day)
            median = statistics.median(same_weekday)
            ratio = entries / median if median else float("inf")
            if not PLAUSIBLE_BAND[0] <= ratio <= PLAUSIBLE_BAND[1]:
                flagged[day] = f"{entries:,} entries, {ratio:.2f} x the median {median:,.0f} of the same weekday"
    excluded_share = {week: excluded / total if total else 1.0 for week, (total, excluded) in intervals.items()}
    return [
        _result(
            {
                week: f"{intervals[week][1]:,} of {intervals[week][0]:,} intervals left out ({share:.1%})"
                for week, share in excluded_share.items()
                if share > MAX_EXCLUDED_SHARE
            },
            {"excluded_share": {str(week): round(share, 4) for week, share in sorted(excluded_share.items())}},
            blocking=False,
            check_name="ridership_intervals_counted",
            asset_key=RIDERSHIP,
        ),
        _result(
            flagged,
            {"day_entries": {str(day): total for day, total in sorted(day_totals.items())}, "days_compared": len(compared)},
            blocking=False,
            check_name="ridership_day_totals_plausible",
            asset_key=RIDERSHIP,
        )
        if compared
        else "ridership_day_totals_plausible: no day of the run has the same weekday loaded in the 4 weeks before it",
    ]
