"""Jobs and automation that keep the lake and the warehouse current."""

from dagster import AssetSelection, define_asset_job

from mta_assets.assets.turnstile_lake import turnstile_lake
from mta_assets.assets.turnstile_warehouse import turnstile_warehouse

# One week, lake then warehouse: what the schedule, the sensors and CLI backfills launch.
turnstile_job = define_asset_job(
    "turnstile_job",
    selection=AssetSelection.assets(turnstile_lake, turnstile_warehouse),
    description="Fetch a week's MTA file into the lake and load it into the warehouse.",
)
