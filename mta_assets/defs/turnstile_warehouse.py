"""turnstile_warehouse: the lake week loaded into the warehouse table `turnstile`, replacing that week."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from mta_assets.asset_keys import TURNSTILE_LAKE, TURNSTILE_WAREHOUSE
from mta_assets.lake.resource import LakeResource
from mta_assets.lake.week import TURNSTILE_OBJECTS
from mta_assets.asset_defaults import weekly_asset
from mta_assets.automation_conditions import FOLLOWS_THE_LAKE
from mta_assets.lib.metadata import same_columns
from mta_assets.lib.tables import TURNSTILE
from mta_assets.warehouse import Warehouse
from mta_assets.warehouse.loads import load_lake_weeks, warehouse_checks

@asset(
    **weekly_asset("warehouse"),
    deps=[TURNSTILE_LAKE],
    description="The lake week's readings in the warehouse table `turnstile` (DuckDB mta.turnstile or "
    "BigQuery, partitioned by week_ending). Re-materializing a week replaces exactly that week in one "
    "transaction.",
    metadata={
        "dagster/column_schema": TURNSTILE.table_schema,
        "dagster/column_lineage": same_columns(TURNSTILE, TURNSTILE_LAKE),
    },
    check_specs=warehouse_checks(TURNSTILE_WAREHOUSE),
    automation_condition=FOLLOWS_THE_LAKE,
)
def turnstile_warehouse(context: AssetExecutionContext, lake: LakeResource, warehouse: Warehouse) -> MaterializeResult:
    recorded = lake.recorded_weeks(context.instance, TURNSTILE_OBJECTS, context.partition_keys)
    return load_lake_weeks(context, recorded, warehouse)
