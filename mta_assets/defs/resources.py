"""The resources every definition uses, chosen by the environment (see settings), and the executor."""

from dagster import Definitions, definitions, in_process_executor

from mta_assets.settings import (
    alert_webhook_from_env,
    hourly_source_from_env,
    lake_from_env,
    sources_from_env,
    warehouse_from_env,
)


@definitions
def resources() -> Definitions:
    return Definitions(
        resources={
            # The weeks' sources, in MTA_SOURCES' order; the MTA's files alone for the schedule and the
            # sensor, which ask whether a week's file is published.
            "sources": (sources := sources_from_env()),
            "source": sources.files,
            # NY Open Data's hourly ridership datasets: the hourly assets, their schedule and sensor.
            "hourly_source": hourly_source_from_env(),
            "lake": lake_from_env(),
            "warehouse": warehouse_from_env(),
            "alert_webhook": alert_webhook_from_env(),
        },
        # A run's steps are sequential anyway; one process per run instead of one per step saves
        # seconds a run, and keeps a run to a single DuckDB writer.
        executor=in_process_executor,
    )
