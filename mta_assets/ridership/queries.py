"""The ridership tables computed inside the warehouse, and what the assets read back from them.

The SQL is in sql/, one file per table and per query, written once for both warehouses; each warehouse
fills in table names and values in its own dialect (Warehouse.render).
"""

from collections.abc import Callable
from datetime import date, timedelta
from importlib.resources import files

from dagster import AssetExecutionContext

from mta_assets.lib.tables import (
    DAILY_RIDERSHIP,
    HOURLY_RIDERSHIP,
    OMNY_LAUNCH,
    STATION_DAILY_RIDERSHIP,
    STATIONS,
    SYSTEM_DAILY_RIDERSHIP,
    SYSTEM_RIDERSHIP,
    TURNSTILE,
    Table,
)
from mta_assets.ridership.complex_key import unit_complexes
from mta_assets.warehouse import Warehouse

RIDERSHIP_SQL = files("mta_assets.ridership.sql")
# A turnstile passes at most about 40 people a minute: 9,600 in a regular 4-hour audit interval. A
# difference above this is a counter jump, not riders.
MAX_INTERVAL_COUNT = 10_000
# Every table a query may name, under its own name: {turnstile}, {stations}, ...
_TABLES = {
    table.name: table
    for table in (TURNSTILE, STATIONS, STATION_DAILY_RIDERSHIP, SYSTEM_RIDERSHIP, HOURLY_RIDERSHIP, DAILY_RIDERSHIP, SYSTEM_DAILY_RIDERSHIP)
}


def _station_daily_values(weeks: list[date]) -> dict:
    return {
        "first_week_before": min(weeks) - timedelta(weeks=1),
        "last_week": max(weeks),
        "max_interval_count": MAX_INTERVAL_COUNT,
        "week_days": [{"week_ending": week, "first_day": week - timedelta(weeks=1)} for week in weeks],
    }


def _daily_values(weeks: list[date]) -> dict:
    return {
        "unit_complexes": [
            {
                "unit": row.unit,
                "station_complex_id": row.station_complex_id,
                "station_complex": row.station_complex,
                "transit_mode": row.transit_mode,
            }
            for row in unit_complexes()
        ]
    }


# What a table's SQL needs besides its weeks and the tables' names.
_VALUES: dict[Table, Callable[[list[date]], dict]] = {
    STATION_DAILY_RIDERSHIP: _station_daily_values,
    DAILY_RIDERSHIP: _daily_values,
    SYSTEM_DAILY_RIDERSHIP: lambda weeks: {"omny_launch": OMNY_LAUNCH},
}


def render(warehouse: Warehouse, name: str, weeks: list[date] = (), **values) -> str:
    """The query sql/<name>.sql (for the weeks, if it takes any), in the warehouse's dialect."""
    return warehouse.render(RIDERSHIP_SQL / f"{name}.sql", weeks=weeks, **_TABLES, **values)


def replace_weeks(context: AssetExecutionContext, warehouse: Warehouse, table: Table, weeks: list[date]) -> None:
    """Replace the weeks of `table` with the rows of its SQL (sql/<table>.sql), recording each week's rows.

    The SQL is rendered for `warehouse.weeks_per_query` weeks at a time, all in the one transaction: each
    table's rows of a week depend on that week's rows upstream only (station_daily_ridership: and on the
    week before's), so the groups' rows are the rows of the whole run.
    """
    extra = _VALUES.get(table)
    ordered = sorted(weeks)
    size = warehouse.weeks_per_query or len(ordered)
    groups = [ordered[start : start + size] for start in range(0, len(ordered), size)]
    selects = [render(warehouse, table.name, group, **(extra(group) if extra else {})) for group in groups]
    rows = warehouse.replace_weeks_with(table, weeks, selects)
    for week, count in rows.items():
        context.add_asset_metadata(
            {"dagster/row_count": count, "dagster/table_name": warehouse.name(table.name).strip("`")},
            partition_key=week.isoformat(),
        )


def interval_totals(warehouse: Warehouse, weeks: list[date]) -> dict[date, tuple[int, int]]:
    """(intervals, excluded intervals) of each week of station_daily_ridership; (0, 0) for a week without."""
    found = {week: (int(total), int(excluded)) for week, total, excluded in warehouse.query(render(warehouse, "intervals_by_week", weeks))}
    return {week: found.get(week, (0, 0)) for week in weeks}


def day_entries(warehouse: Warehouse, weeks: list[date]) -> dict[date, int]:
    """System-wide entries per service day of the weeks, from station_daily_ridership."""
    return {day: int(total) for day, total in warehouse.query(render(warehouse, "entries_by_day", weeks))}


def unit_entries(warehouse: Warehouse, weeks: list[date]) -> list[tuple[date, str, int | None]]:
    """(week, unit, entries) of the weeks, from station_daily_ridership."""
    return warehouse.query(render(warehouse, "entries_by_unit", weeks))


def system_ridership_days(warehouse: Warehouse) -> list[tuple[date, int, int]]:
    """(day, entries, exits) of every day of system_ridership, in order."""
    return warehouse.query(render(warehouse, "system_ridership_days"))


def system_daily_ridership_days(warehouse: Warehouse) -> list[tuple[date, int | None, str]]:
    """(day, entries, source) of every day of system_daily_ridership, in order."""
    return warehouse.query(render(warehouse, "system_daily_ridership_days"))


def sources_by_day(warehouse: Warehouse, weeks: list[date]) -> list[tuple[date, int | None, int | None]]:
    """(day, turnstile entries, hourly MetroCard entries) of each day of the weeks in system_daily_ridership."""
    return warehouse.query(render(warehouse, "sources_by_day", weeks))
