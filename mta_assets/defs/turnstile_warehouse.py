"""turnstile_warehouse: the lake week loaded into the warehouse table `turnstile`, replacing that week."""

from dagster import AssetExecutionContext, AssetKey, AutomationCondition, MaterializeResult, asset

from mta_assets.lake.resource import LakeResource
from mta_assets.asset_defaults import weekly_asset
from mta_assets.lib.metadata import same_columns
from mta_assets.lib.tables import TURNSTILE
from mta_assets.warehouse import Warehouse
from mta_assets.warehouse.loads import load_lake_weeks, warehouse_checks

# Dagster's eager condition, minus its restriction to the latest week: any week of the lake that is
# materialized (by the schedule, a sensor, a backfill or by hand) brings its warehouse week up to date,
# historical weeks included. Declarative automation rather than an asset sensor because it already
# knows which weeks are in progress, missing upstream, or loaded by the same run.
# Nor does it follow while the lake's blocking check has failed. Dagster 1.13 records that check per run,
# not per week (see checks.py), so this holds back every pending week, not just the bad one; the parser
# refuses the other kind of bad week (another week's file) before it is stored. Weeks this condition misses
# (the good weeks of a run that failed one) are loaded by warehouse_reconciliation_sensor.
FOLLOWS_UPSTREAM = (
    AutomationCondition.eager().without(AutomationCondition.in_latest_time_window())
    & AutomationCondition.all_deps_blocking_checks_passed()
)


@asset(
    **weekly_asset("warehouse"),
    deps=[AssetKey("turnstile_lake")],
    description="The lake week's readings in the warehouse table `turnstile` (DuckDB mta.turnstile or "
    "BigQuery, partitioned by week_ending). Re-materializing a week replaces exactly that week in one "
    "transaction.",
    metadata={
        "dagster/column_schema": TURNSTILE.table_schema,
        "dagster/column_lineage": same_columns(TURNSTILE, AssetKey("turnstile_lake")),
    },
    check_specs=warehouse_checks(AssetKey("turnstile_warehouse")),
    automation_condition=FOLLOWS_UPSTREAM,
)
def turnstile_warehouse(context: AssetExecutionContext, lake: LakeResource, warehouse: Warehouse) -> MaterializeResult:
    recorded = lake.recorded_weeks(context.instance, AssetKey("turnstile_lake"), context.partition_keys)
    return load_lake_weeks(context, recorded, warehouse)
