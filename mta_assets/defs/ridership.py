"""Ridership from the raw counters, computed inside the warehouse with SQL shared by DuckDB and BigQuery.

A ridership week exists only when its own turnstile week is in the warehouse: the automation waits for
it, and a run asked for a week without readings fails naming the week instead of storing an empty one.
"""

import base64
import io
from collections.abc import Iterator
from datetime import date, timedelta
from importlib.resources import files

from dagster import (
    AssetCheckResult,
    AssetDep,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
    multi_asset,
)

from mta_assets.defs.checks import RIDERSHIP, RIDERSHIP_CHECKS, require_the_asset, ridership_results, selected_results
from mta_assets.automation_conditions import FOLLOWS_ITS_WEEK, FOLLOWS_THE_WAREHOUSE
from mta_assets.asset_keys import TURNSTILE_WAREHOUSE
from mta_assets.asset_defaults import weekly_asset, weekly_checked_asset
from mta_assets.lib.tables import (
    DAILY_RIDERSHIP,
    HOURLY_RIDERSHIP,
    STATION_DAILY_RIDERSHIP,
    STATIONS,
    SYSTEM_DAILY_RIDERSHIP,
    SYSTEM_RIDERSHIP,
    TURNSTILE,
    Table,
)
from mta_assets.lib.metadata import lineage
from mta_assets.partitions import TURNSTILE_WEEKS
from mta_assets.ridership.upstream import STATION_DAILY_ROWS, STATION_ROWS, TURNSTILE_ROWS, run_weeks
from mta_assets.warehouse import Warehouse
from mta_assets.warehouse.base import sql_dates

# A turnstile passes at most about 40 people a minute: 9,600 in a regular 4-hour audit interval. A
# difference above this is a counter jump, not riders.
MAX_INTERVAL_COUNT = 10_000
# The first reading of a week is differenced against the previous week's last reading.
THIS_AND_PREVIOUS_WEEK = TimeWindowPartitionMapping(start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True)
WAREHOUSE = TURNSTILE_WAREHOUSE


_TABLES = (TURNSTILE, STATIONS, STATION_DAILY_RIDERSHIP, SYSTEM_RIDERSHIP, HOURLY_RIDERSHIP, DAILY_RIDERSHIP, SYSTEM_DAILY_RIDERSHIP)


def render(name: str, warehouse: Warehouse, weeks: list[date], **values) -> str:
    """One SQL file for both warehouses: table names and dates are filled in as literals."""
    tables = {table.name: warehouse.name(table.name) for table in _TABLES}
    return (files("mta_assets.ridership.sql") / f"{name}.sql").read_text().format(weeks=sql_dates(weeks), **tables, **values)


def replace_weeks(context: AssetExecutionContext, warehouse: Warehouse, table: Table, weeks: list[date], sql: str) -> None:
    """Replace the weeks of `table` with the rows of `sql`, recording each week's rows."""
    rows = warehouse.replace_weeks_with(table, weeks, sql)
    for week, count in rows.items():
        context.add_asset_metadata(
            {"dagster/row_count": count, "dagster/table_name": warehouse.name(table.name).strip("`")},
            partition_key=week.isoformat(),
        )


@asset(
    **weekly_asset("ridership"),
    deps=[TURNSTILE_WAREHOUSE],
    description="The station dimension: one row per remote unit (a station) and week, with its name, lines, "
    "division and how many booths and turnstiles reported. Keyed by unit, so different stations that share "
    "a name (23 ST) stay apart.",
    metadata={
        "dagster/column_schema": STATIONS.table_schema,
        "dagster/column_lineage": lineage(
            {
                "station_id": (WAREHOUSE, "unit"),
                "station": (WAREHOUSE, "station"),
                "line_name": (WAREHOUSE, "line_name"),
                "division": (WAREHOUSE, "division"),
                "week_ending": (WAREHOUSE, "week_ending"),
            },
        ),
    },
    automation_condition=FOLLOWS_THE_WAREHOUSE,
)
def stations(context: AssetExecutionContext, warehouse: Warehouse) -> None:
    weeks = run_weeks(context, warehouse, TURNSTILE_WEEKS, TURNSTILE_ROWS)
    replace_weeks(context, warehouse, STATIONS, weeks, render("stations", warehouse, weeks))


@multi_asset(
    **weekly_checked_asset(
        "ridership",
        RIDERSHIP,
        RIDERSHIP_CHECKS,
        deps=[AssetDep(TURNSTILE_WAREHOUSE, partition_mapping=THIS_AND_PREVIOUS_WEEK), stations],
        description="Entries and exits per station (remote unit) and service_date, from the differences between "
        "consecutive readings of each turnstile, the previous week's last reading included. Resets, backwards "
        f"counters and jumps above {MAX_INTERVAL_COUNT:,} per interval are excluded; RECOVR AUD repeats count once.",
        metadata={
            "dagster/column_schema": STATION_DAILY_RIDERSHIP.table_schema,
            "dagster/column_lineage": lineage(
                {
                    "station_id": (WAREHOUSE, "unit"),
                    "station": (stations.key, "station"),
                    "line_name": (stations.key, "line_name"),
                    "service_date": (WAREHOUSE, "reading_at"),
                    "entries": (WAREHOUSE, "entries"),
                    "exits": (WAREHOUSE, "exits"),
                    "week_ending": (WAREHOUSE, "week_ending"),
                },
            ),
        },
        automation_condition=FOLLOWS_ITS_WEEK,
    )
)
def station_daily_ridership(context: AssetExecutionContext, warehouse: Warehouse) -> Iterator[MaterializeResult | AssetCheckResult]:
    require_the_asset(context, RIDERSHIP)
    weeks = run_weeks(context, warehouse, TURNSTILE_WEEKS, TURNSTILE_ROWS, STATION_ROWS)
    sql = render(
        "station_daily_ridership",
        warehouse,
        weeks,
        first_week_before=f"DATE '{min(weeks) - timedelta(weeks=1)}'",
        last_week=f"DATE '{max(weeks)}'",
        max_interval_count=MAX_INTERVAL_COUNT,
        week_days="\n  UNION ALL ".join(
            f"SELECT DATE '{week}' AS week_ending, DATE '{week - timedelta(weeks=1)}' AS first_day" for week in weeks
        ),
    )
    replace_weeks(context, warehouse, STATION_DAILY_RIDERSHIP, weeks, sql)
    table, in_weeks = warehouse.name(STATION_DAILY_RIDERSHIP.name), sql_dates(weeks)
    intervals = {
        week: (int(total), int(excluded))
        for week, total, excluded in warehouse.query(
            f"SELECT week_ending, SUM(intervals), SUM(excluded_intervals) FROM {table} WHERE week_ending IN ({in_weeks}) GROUP BY week_ending"
        )
    }
    day_totals = dict(
        warehouse.query(f"SELECT service_date, SUM(entries) FROM {table} WHERE week_ending IN ({in_weeks}) GROUP BY service_date")
    )
    earlier = dict(
        warehouse.query(
            f"SELECT service_date, SUM(entries) FROM {table} WHERE week_ending BETWEEN "
            f"DATE '{min(weeks) - timedelta(weeks=4)}' AND DATE '{min(weeks) - timedelta(weeks=1)}' GROUP BY service_date"
        )
    )
    yield MaterializeResult(asset_key=RIDERSHIP)
    yield from selected_results(
        context,
        ridership_results(
            {week: intervals.get(week, (0, 0)) for week in weeks},
            {day: int(total) for day, total in day_totals.items()},
            {day: int(total) for day, total in earlier.items()},
        ),
    )


def chart(series: dict[str, list[tuple[date, int]]], title: str) -> MetadataValue:
    """A chart of daily series (label -> (day, riders)) as Markdown with the PNG inline, for the UI."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(10, 4), dpi=100)
    for label, points in series.items():
        if points:
            # Dots, not lines: a series with gaps (weeks not loaded, the eras) must not look continuous.
            axes.plot([day for day, _ in points], [riders / 1e6 for _, riders in points], ".", markersize=2, label=label)
    axes.set_ylabel("millions of riders")
    axes.set_ylim(bottom=0)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    if any(series.values()):  # a legend of nothing warns
        axes.legend()
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    image = base64.b64encode(buffer.getvalue()).decode()
    return MetadataValue.md(f"![{title}](data:image/png;base64,{image})")


@asset(
    **weekly_asset("ridership"),
    deps=[station_daily_ridership],
    description="System-wide entries and exits per day: 7 rows a week, small enough to chart. Each "
    "materialization carries a chart of every week loaded.",
    metadata={
        "dagster/column_schema": SYSTEM_RIDERSHIP.table_schema,
        "dagster/column_lineage": lineage(
            {
                "service_date": (station_daily_ridership.key, "service_date"),
                "entries": (station_daily_ridership.key, "entries"),
                "exits": (station_daily_ridership.key, "exits"),
                "stations": (station_daily_ridership.key, "station_id"),
                "week_ending": (station_daily_ridership.key, "week_ending"),
            },
        ),
    },
    automation_condition=FOLLOWS_THE_WAREHOUSE,
)
def system_ridership(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    weeks = run_weeks(context, warehouse, TURNSTILE_WEEKS, STATION_DAILY_ROWS)
    replace_weeks(context, warehouse, SYSTEM_RIDERSHIP, weeks, render("system_ridership", warehouse, weeks))
    rows = warehouse.query(
        f"SELECT service_date, entries, exits FROM {warehouse.name(SYSTEM_RIDERSHIP.name)} ORDER BY service_date"
    )
    series = {"entries": [(day, entries) for day, entries, _ in rows], "exits": [(day, exits) for day, _, exits in rows]}
    return MaterializeResult(metadata={"chart": chart(series, "NYC subway, system-wide riders per day (turnstile counts)")})
