"""The turnstile lake checks: what a stored week's object holds, read back once (columns, readings in the week,
duplicate readings, completeness against the weeks around it)."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from dagster import AssetCheckResult, AssetCheckSpec

from mta_assets.asset_keys import TURNSTILE_LAKE
from mta_assets.lake.week import LakeWeek
from mta_assets.lib.check_results import weeks_result
from mta_assets.lib.tables import TURNSTILE
from mta_assets.turnstile.completeness import Neighbour, WeekShape, neighbours_of, shortfalls
from mta_assets.turnstile.parsing import MAX_SHARE_OUTSIDE_WEEK, readings_outside_week

READING_KEY = ["control_area", "unit", "scp", "reading_at", "description"]

LAKE_CHECKS = [
    AssetCheckSpec("lake_columns", asset=TURNSTILE_LAKE, blocking=True, description="The stored week has exactly the turnstile table's columns."),
    AssetCheckSpec(
        "lake_readings_in_week",
        asset=TURNSTILE_LAKE,
        description="Every reading falls in the seven days the file covers. A few strays are stored and "
        f"flagged here; with more than {MAX_SHARE_OUTSIDE_WEEK:.0%} the week is refused when it is parsed.",
    ),
    AssetCheckSpec("lake_no_duplicate_readings", asset=TURNSTILE_LAKE, description="No reading (turnstile, time, kind) appears twice."),
    AssetCheckSpec(
        "lake_week_complete",
        asset=TURNSTILE_LAKE,
        description="The week holds about as many turnstiles and readings as the stored weeks around it (or, with "
        "none stored, as a complete week), with readings on all seven days. A short week is refused before it is "
        "stored; one accepted as short (MTA_ACCEPT_SHORT_WEEKS) is stored and flagged here.",
    ),
]



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
    lake = {"asset_key": TURNSTILE_LAKE}
    return [
        weeks_result(
            {key: list(found.columns) for key, found in findings.items() if found.columns != TURNSTILE.column_names},
            {"expected": ", ".join(TURNSTILE.column_names)},
            blocking=True,
            check_name="lake_columns",
            **lake,
        ),
        weeks_result(
            {key: f"{found.outside_week:,} of {found.rows:,} readings outside the week" for key, found in findings.items() if found.outside_week},
            {"readings_outside": sum(found.outside_week for found in findings.values())},
            blocking=False,
            check_name="lake_readings_in_week",
            **lake,
        ),
        weeks_result(
            {key: f"{found.duplicates:,} duplicate readings" for key, found in findings.items() if found.duplicates},
            {"duplicates": sum(found.duplicates for found in findings.values())},
            blocking=False,
            check_name="lake_no_duplicate_readings",
            **lake,
        ),
        weeks_result(
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
