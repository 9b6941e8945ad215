"""turnstile_warehouse: the lake week loaded into the warehouse table `turnstile`, replacing that week."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from mta_assets.defs.checks import warehouse_checks, warehouse_result
from mta_assets.lake.io_manager import LakeWeeks
from mta_assets.asset_defaults import weekly_asset
from mta_assets.automation_conditions import FOLLOWS_THE_LAKE
from mta_assets.lib.metadata import dates_covered, same_columns
from mta_assets.lib.tables import TURNSTILE
from mta_assets.warehouse import Warehouse

@asset(
    **weekly_asset("warehouse"),
    description="The lake week's readings in the warehouse table `turnstile` (DuckDB mta.turnstile or "
    "BigQuery, partitioned by week_ending). Re-materializing a week replaces exactly that week in one "
    "transaction.",
    metadata={
        "dagster/column_schema": TURNSTILE.table_schema,
        "dagster/column_lineage": same_columns(TURNSTILE, AssetKey("turnstile_lake")),
    },
    check_specs=warehouse_checks(AssetKey("turnstile_warehouse")),
    automation_condition=FOLLOWS_THE_LAKE,
)
def turnstile_warehouse(context: AssetExecutionContext, turnstile_lake: LakeWeeks, warehouse: Warehouse) -> MaterializeResult:
    return load_lake_weeks(context, turnstile_lake, warehouse)


def load_lake_weeks(context: AssetExecutionContext, lake_weeks: LakeWeeks, warehouse: Warehouse) -> MaterializeResult:
    """Replace the run's weeks in the warehouse with their lake objects, and check the rows arrived."""
    loads = warehouse.replace_weeks(list(lake_weeks.values()))
    for (key, lake_week), load in zip(lake_weeks.items(), loads):
        context.log.info(f"Week {key}: {load.rows:,} rows in {load.table} (replaced {load.replaced_rows:,})")
        context.add_asset_metadata(
            {
                "dagster/row_count": load.rows,
                "dagster/table_name": load.table,
                "replaced_rows": load.replaced_rows,
                "lake_uri": lake_week.uri,
                "dates_covered": dates_covered(load.first_reading, load.last_reading),
            },
            partition_key=key,
        )
    return MaterializeResult(check_results=[warehouse_result(context.asset_key, lake_weeks, warehouse)])
