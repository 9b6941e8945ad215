"""Every asset's key, in one place: what definitions refer to each other by, so no definition module
imports another."""

from dagster import AssetKey

# The turnstile's sources (not materialized here: the start of the lineage), lake and warehouse.
MTA_TURNSTILE_FILE = AssetKey("mta_turnstile_file")
OPEN_DATA_TURNSTILE_USAGE = AssetKey("open_data_turnstile_usage")
TURNSTILE_LAKE = AssetKey("turnstile_lake")
TURNSTILE_WAREHOUSE = AssetKey("turnstile_warehouse")

# Ridership from the turnstile counters.
STATIONS = AssetKey("stations")
STATION_DAILY_RIDERSHIP = AssetKey("station_daily_ridership")
SYSTEM_RIDERSHIP = AssetKey("system_ridership")

# Hourly ridership: NY Open Data's datasets (observed), lake and warehouse.
HOURLY_RIDERSHIP_LAKE = AssetKey("hourly_ridership_lake")
HOURLY_RIDERSHIP_WAREHOUSE = AssetKey("hourly_ridership_warehouse")


def hourly_dataset(dataset_id: str) -> AssetKey:
    """The observed asset of an hourly ridership dataset: open_data_hourly_ridership_wujg_7c2s."""
    return AssetKey(f"open_data_hourly_ridership_{dataset_id.replace('-', '_')}")


# Both sources together.
UNIT_STATION_COMPLEX_KEY = AssetKey("unit_station_complex_key")
DAILY_RIDERSHIP = AssetKey("daily_ridership")
SYSTEM_DAILY_RIDERSHIP = AssetKey("system_daily_ridership")

# What a backfill loads from the sources; the ridership waits for it (automation_conditions.BackfillLoading).
LOADING = (TURNSTILE_LAKE, TURNSTILE_WAREHOUSE, HOURLY_RIDERSHIP_LAKE, HOURLY_RIDERSHIP_WAREHOUSE)
