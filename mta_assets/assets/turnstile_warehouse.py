"""turnstile_warehouse: the lake week loaded into the warehouse table `turnstile`, replacing that week."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from mta_assets.lake import LakeWeek
from mta_assets.lib.metadata import dates_covered
from mta_assets.lib.turnstile_table import TABLE_SCHEMA
from mta_assets.partitions import weekly_partitions
from mta_assets.warehouse import Warehouse


@asset(
    partitions_def=weekly_partitions,
    group_name="warehouse",
    description="Raw turnstile readings in the warehouse table `turnstile`, partitioned by week_ending. "
    "Re-materializing a week replaces exactly that week in one transaction.",
    metadata={"dagster/column_schema": TABLE_SCHEMA},
)
def turnstile_warehouse(
    context: AssetExecutionContext, turnstile_lake: LakeWeek, warehouse: Warehouse
) -> MaterializeResult:
    load = warehouse.replace_week(turnstile_lake)
    context.log.info(f"Week {turnstile_lake.week}: {load.rows:,} rows in {load.table} (replaced {load.replaced_rows:,})")
    return MaterializeResult(
        metadata={
            "dagster/row_count": load.rows,
            "dagster/table_name": load.table,
            "replaced_rows": load.replaced_rows,
            "lake_uri": turnstile_lake.uri,
            "dates_covered": dates_covered(load.first_reading, load.last_reading),
        }
    )
