"""Ridership from the raw counters, computed inside the warehouse (mta_assets/ridership/queries.py).

A ridership week exists only when its own turnstile week is in the warehouse: the automation waits for
it, and a run asked for a week without readings fails naming the week instead of storing an empty one.
"""

from collections.abc import Iterator
from datetime import timedelta

from dagster import (
    AssetCheckResult,
    AssetDep,
    AssetExecutionContext,
    MaterializeResult,
    TimeWindowPartitionMapping,
    asset,
    multi_asset,
)

from mta_assets.lib.check_results import require_the_asset, selected_results
from mta_assets.ridership.checks import RIDERSHIP_CHECKS, ridership_results
from mta_assets.automation_conditions import FOLLOWS_ITS_WEEK, FOLLOWS_THE_WAREHOUSE
from mta_assets import asset_keys
from mta_assets.asset_defaults import weekly_asset, weekly_checked_asset
from mta_assets.lib.tables import STATION_DAILY_RIDERSHIP, STATIONS, SYSTEM_RIDERSHIP
from mta_assets.lib.metadata import lineage
from mta_assets.partitions import TURNSTILE_WEEKS
from mta_assets.ridership.chart import chart
from mta_assets.ridership.queries import MAX_INTERVAL_COUNT, day_entries, interval_totals, replace_weeks, system_ridership_days
from mta_assets.ridership.upstream import STATION_DAILY_ROWS, STATION_ROWS, TURNSTILE_ROWS, run_weeks
from mta_assets.warehouse import Warehouse

# The first reading of a week is differenced against the previous week's last reading.
THIS_AND_PREVIOUS_WEEK = TimeWindowPartitionMapping(start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True)


@asset(
    **weekly_asset("ridership"),
    deps=[asset_keys.TURNSTILE_WAREHOUSE],
    description="The station dimension: one row per remote unit (a station) and week, with its name, lines, "
    "division and how many booths and turnstiles reported. Keyed by unit, so different stations that share "
    "a name (23 ST) stay apart.",
    metadata={
        "dagster/column_schema": STATIONS.table_schema,
        "dagster/column_lineage": lineage(
            {
                "station_id": (asset_keys.TURNSTILE_WAREHOUSE, "unit"),
                "station": (asset_keys.TURNSTILE_WAREHOUSE, "station"),
                "line_name": (asset_keys.TURNSTILE_WAREHOUSE, "line_name"),
                "division": (asset_keys.TURNSTILE_WAREHOUSE, "division"),
                "week_ending": (asset_keys.TURNSTILE_WAREHOUSE, "week_ending"),
            },
        ),
    },
    automation_condition=FOLLOWS_THE_WAREHOUSE,
)
def stations(context: AssetExecutionContext, warehouse: Warehouse) -> None:
    weeks = run_weeks(context, warehouse, TURNSTILE_WEEKS, TURNSTILE_ROWS)
    replace_weeks(context, warehouse, STATIONS, weeks)


@multi_asset(
    **weekly_checked_asset(
        "ridership",
        asset_keys.STATION_DAILY_RIDERSHIP,
        RIDERSHIP_CHECKS,
        deps=[AssetDep(asset_keys.TURNSTILE_WAREHOUSE, partition_mapping=THIS_AND_PREVIOUS_WEEK), stations],
        description="Entries and exits per station (remote unit) and service_date, from the differences between "
        "consecutive readings of each turnstile, the previous week's last reading included. Resets, backwards "
        f"counters and jumps above {MAX_INTERVAL_COUNT:,} per interval are excluded; RECOVR AUD repeats count once.",
        metadata={
            "dagster/column_schema": STATION_DAILY_RIDERSHIP.table_schema,
            "dagster/column_lineage": lineage(
                {
                    "station_id": (asset_keys.TURNSTILE_WAREHOUSE, "unit"),
                    "station": (asset_keys.STATIONS, "station"),
                    "line_name": (asset_keys.STATIONS, "line_name"),
                    "service_date": (asset_keys.TURNSTILE_WAREHOUSE, "reading_at"),
                    "entries": (asset_keys.TURNSTILE_WAREHOUSE, "entries"),
                    "exits": (asset_keys.TURNSTILE_WAREHOUSE, "exits"),
                    "week_ending": (asset_keys.TURNSTILE_WAREHOUSE, "week_ending"),
                },
            ),
        },
        automation_condition=FOLLOWS_ITS_WEEK,
    )
)
def station_daily_ridership(context: AssetExecutionContext, warehouse: Warehouse) -> Iterator[MaterializeResult | AssetCheckResult]:
    require_the_asset(context, asset_keys.STATION_DAILY_RIDERSHIP)
    weeks = run_weeks(context, warehouse, TURNSTILE_WEEKS, TURNSTILE_ROWS, STATION_ROWS)
    replace_weeks(context, warehouse, STATION_DAILY_RIDERSHIP, weeks)
    four_weeks_before = [min(weeks) - timedelta(weeks=n) for n in range(4, 0, -1)]
    results = ridership_results(interval_totals(warehouse, weeks), day_entries(warehouse, weeks), day_entries(warehouse, four_weeks_before))
    yield MaterializeResult(asset_key=asset_keys.STATION_DAILY_RIDERSHIP)
    yield from selected_results(context, results)


@asset(
    **weekly_asset("ridership"),
    deps=[station_daily_ridership],
    description="System-wide entries and exits per day: 7 rows a week, small enough to chart. Each "
    "materialization carries a chart of every week loaded.",
    metadata={
        "dagster/column_schema": SYSTEM_RIDERSHIP.table_schema,
        "dagster/column_lineage": lineage(
            {
                "service_date": (asset_keys.STATION_DAILY_RIDERSHIP, "service_date"),
                "entries": (asset_keys.STATION_DAILY_RIDERSHIP, "entries"),
                "exits": (asset_keys.STATION_DAILY_RIDERSHIP, "exits"),
                "stations": (asset_keys.STATION_DAILY_RIDERSHIP, "station_id"),
                "week_ending": (asset_keys.STATION_DAILY_RIDERSHIP, "week_ending"),
            },
        ),
    },
    automation_condition=FOLLOWS_THE_WAREHOUSE,
)
def system_ridership(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    weeks = run_weeks(context, warehouse, TURNSTILE_WEEKS, STATION_DAILY_ROWS)
    replace_weeks(context, warehouse, SYSTEM_RIDERSHIP, weeks)
    rows = system_ridership_days(warehouse)
    series = {"entries": [(day, entries) for day, entries, _ in rows], "exits": [(day, exits) for day, _, exits in rows]}
    return MaterializeResult(metadata={"chart": chart(series, "NYC subway, system-wide riders per day (turnstile counts)")})
