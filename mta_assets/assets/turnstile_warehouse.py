"""turnstile_warehouse: the lake week loaded into the warehouse table `turnstile`, replacing that week."""

from dagster import AssetExecutionContext, AutomationCondition, BackfillPolicy, MaterializeResult, asset

from mta_assets.assets.turnstile_lake import OWNER, WEEKS_PER_RUN
from mta_assets.checks import WAREHOUSE_CHECKS, warehouse_result
from mta_assets.lake import LakeWeeks
from mta_assets.lib.metadata import dates_covered
from mta_assets.lib.turnstile_table import TABLE_SCHEMA
from mta_assets.partitions import weekly_partitions
from mta_assets.warehouse import Warehouse

# Dagster's eager condition, minus its restriction to the latest week: any week of the lake that is
# materialized (by the schedule, a sensor, a backfill or by hand) brings its warehouse week up to date,
# historical weeks included. Declarative automation rather than an asset sensor because it already
# knows which weeks are in progress, missing upstream, or loaded by the same run.
# A lake week whose blocking checks failed is not followed: bad data must not flow downstream.
WAREHOUSE_FOLLOWS_LAKE = (
    AutomationCondition.eager().without(AutomationCondition.in_latest_time_window())
    & AutomationCondition.all_deps_blocking_checks_passed()
)


@asset(
    partitions_def=weekly_partitions,
    group_name="warehouse",
    description="The lake week's readings in the warehouse table `turnstile` (DuckDB mta.turnstile or "
    "BigQuery, partitioned by week_ending). Re-materializing a week replaces exactly that week in one "
    "transaction.",
    metadata={"dagster/column_schema": TABLE_SCHEMA},
    owners=[OWNER],
    check_specs=WAREHOUSE_CHECKS,
    automation_condition=WAREHOUSE_FOLLOWS_LAKE,
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=WEEKS_PER_RUN),
)
def turnstile_warehouse(context: AssetExecutionContext, turnstile_lake: LakeWeeks, warehouse: Warehouse):
    loads = warehouse.replace_weeks(list(turnstile_lake.values()))
    for (key, lake_week), load in zip(turnstile_lake.items(), loads):
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
    return MaterializeResult(check_results=[warehouse_result(turnstile_lake, dict(zip(turnstile_lake, loads)))])
