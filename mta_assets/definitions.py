"""The mta_assets code location."""

from dagster import Definitions, in_process_executor

from mta_assets.assets.turnstile_lake import turnstile_lake
from mta_assets.assets.turnstile_warehouse import turnstile_warehouse
from mta_assets.automation import turnstile_job
from mta_assets.settings import lake_io_manager_from_env, source_from_env, warehouse_from_env

defs = Definitions(
    assets=[turnstile_lake, turnstile_warehouse],
    jobs=[turnstile_job],
    resources={
        "source": source_from_env(),
        "lake_io_manager": lake_io_manager_from_env(),
        "warehouse": warehouse_from_env(),
    },
    # A week's steps are short and sequential; one process per run instead of one per step saves seconds
    # a run, and keeps a run to a single DuckDB writer.
    executor=in_process_executor,
)
