"""The resources every definition uses, chosen by the environment (see settings), and the executor; and
the assets' kinds, which follow the same settings."""

import warnings

from dagster import AssetSpec, Definitions, PreviewWarning, definitions, in_process_executor

from mta_assets.asset_defaults import STAGE_TAG
from mta_assets.settings import (
    alert_webhook_from_env,
    asset_kinds,
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
            "mta_files": sources.files,
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


def with_configured_kinds(defs: Definitions) -> Definitions:
    """Each staged asset with the kinds of where its stage is (a local or GCS lake, parquet or csv, DuckDB
    or BigQuery), shown in the UI."""
    kinds = asset_kinds()

    def add_kinds(spec: AssetSpec) -> AssetSpec:
        stage = spec.tags.get(STAGE_TAG)
        return spec.merge_attributes(kinds=kinds[stage]) if stage else spec

    # map_asset_specs is stable, but Dagster 1.13 implements it with a preview function that warns on every load.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        return defs.map_asset_specs(func=add_kinds)
