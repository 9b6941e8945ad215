"""The mta_assets code location."""

from dagster import AssetSpec, Definitions, in_process_executor, map_asset_specs

from mta_assets.alerts import turnstile_failure_alert
from mta_assets.assets.ridership import station_daily_ridership, stations, system_ridership
from mta_assets.assets.turnstile_lake import mta_turnstile_file, turnstile_lake
from mta_assets.assets.turnstile_warehouse import turnstile_warehouse
from mta_assets.automation import (
    turnstile_job,
    turnstile_publication_sensor,
    warehouse_automation_sensor,
    weekly_turnstile_schedule,
)
from mta_assets.settings import (
    alert_webhook_from_env,
    asset_kinds,
    lake_io_manager_from_env,
    source_from_env,
    warehouse_from_env,
)

KINDS = asset_kinds()


def with_kinds(spec: AssetSpec) -> AssetSpec:
    """Kinds follow the configuration: a GCS or local lake, DuckDB or BigQuery."""
    return spec.merge_attributes(kinds=KINDS.get(spec.group_name, set())) if spec.key != mta_turnstile_file.key else spec


defs = Definitions(
    assets=map_asset_specs(
        with_kinds,
        [mta_turnstile_file, turnstile_lake, turnstile_warehouse, stations, station_daily_ridership, system_ridership],
    ),
    jobs=[turnstile_job],
    schedules=[weekly_turnstile_schedule],
    sensors=[turnstile_publication_sensor, warehouse_automation_sensor, turnstile_failure_alert],
    resources={
        "source": source_from_env(),
        "lake_io_manager": lake_io_manager_from_env(),
        "warehouse": warehouse_from_env(),
        "alert_webhook": alert_webhook_from_env(),
    },
    # A run's steps are sequential anyway; one process per run instead of one per step saves seconds a
    # run, and keeps a run to a single DuckDB writer.
    executor=in_process_executor,
)
