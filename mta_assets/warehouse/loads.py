"""Loading recorded lake weeks into the warehouse, and the check that they arrived whole.

The lake object is read once, by the load; the check compares the warehouse's weeks, queried after the
load committed, with the rows and count-column sums recorded when each object was stored.
"""

from datetime import date

from dagster import AssetCheckResult, AssetCheckSpec, AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from mta_assets.lake.facts import WeekContent
from mta_assets.lake.resource import RecordedWeeks
from mta_assets.lib.check_results import weeks_result
from mta_assets.lib.metadata import dates_covered
from mta_assets.lib.tables import Table
from mta_assets.warehouse.base import Warehouse, load_table


def warehouse_checks(asset: AssetKey) -> list[AssetCheckSpec]:
    """The checks of a warehouse asset that loads lake weeks, computed from its load."""
    return [
        AssetCheckSpec(
            "warehouse_matches_lake",
            asset=asset,
            blocking=True,
            description="After the load commits, the warehouse week has the lake object's rows and the same sum of "
            "every count column, as recorded when the object was stored.",
        ),
    ]


def load_lake_weeks(context: AssetExecutionContext, recorded: RecordedWeeks, warehouse: Warehouse) -> MaterializeResult:
    """Replace the run's weeks in the warehouse with their lake objects, and check the rows arrived."""
    loads = warehouse.replace_weeks(recorded.lake_weeks())
    for (key, week), load in zip(recorded.items(), loads):
        context.log.info(f"Week {key}: {load.rows:,} rows in {load.table} (replaced {load.replaced_rows:,})")
        context.add_asset_metadata(
            {
                "dagster/row_count": load.rows,
                "dagster/table_name": load.table,
                "replaced_rows": load.replaced_rows,
                "loaded_from": MetadataValue.path(week.lake_week.uri),
                "dates_covered": dates_covered(load.first_reading, load.last_reading),
            },
            partition_key=key,
        )
    return MaterializeResult(check_results=[warehouse_result(context.asset_key, recorded, warehouse)])


def warehouse_contents(warehouse: Warehouse, table: Table, weeks: list[date]) -> dict[date, WeekContent]:
    """Each week's rows and count-column sums as the warehouse holds them now (a week it lacks: 0 rows)."""
    columns = table.count_columns
    found = {week: WeekContent(rows, dict(zip(columns, totals))) for week, (rows, totals) in warehouse.week_sums(table, weeks, columns).items()}
    return {week: found.get(week, WeekContent(0, dict.fromkeys(columns, 0))) for week in weeks}


def warehouse_result(asset: AssetKey, recorded: RecordedWeeks, warehouse: Warehouse) -> AssetCheckResult:
    """The warehouse's weeks, queried after their load committed, against their lake objects as recorded."""
    table = load_table(recorded.lake_weeks())
    held = warehouse_contents(warehouse, table, [week.lake_week.week for week in recorded.values()])
    mismatched = {
        key: "warehouse " + ", ".join(found) + " as in the lake"
        for key, week in recorded.items()
        if (found := week.content.differences(held[week.lake_week.week]))
    }
    return weeks_result(
        mismatched,
        {"lake_rows": {key: week.content.rows for key, week in recorded.items()}},
        blocking=True,
        check_name="warehouse_matches_lake",
        asset_key=asset,
    )
