"""Hourly ridership: NY Open Data's "MTA Subway Hourly Ridership" datasets, a week at a time, into the lake
and the warehouse, under the same Saturday keys as the turnstile weeks."""

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetMaterialization,
    AssetSpec,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    ObserveResult,
    asset,
    multi_asset_check,
    multi_observable_source_asset,
)

from mta_assets.asset_defaults import OWNER, weekly_asset
from mta_assets.hourly.completeness import hourly_lake_result
from mta_assets.asset_keys import HOURLY_RIDERSHIP_LAKE, HOURLY_RIDERSHIP_WAREHOUSE, hourly_dataset
from mta_assets.automation_conditions import FOLLOWS_THE_LAKE
from mta_assets.hourly.source import HOURLY_DATASETS, HourlyRidershipSource
from mta_assets.lake.facts import WeekFacts
from mta_assets.lake.resource import LakeResource
from mta_assets.lake.store_weeks import WeekFailed, WeekRead, store_weeks
from mta_assets.lake.week import HOURLY_OBJECTS
from mta_assets.lib.check_results import require_weeks
from mta_assets.lib.metadata import dates_covered, lineage, same_columns
from mta_assets.lib.tables import HOURLY_RIDERSHIP
from mta_assets.partitions import HOURLY_WEEKS, WeekOutOfRange, hourly_partitions
from mta_assets.lib.week_source import SourceError
from mta_assets.warehouse import Warehouse
from mta_assets.warehouse.loads import load_lake_weeks, warehouse_checks

GROUP = "hourly_ridership"


DATASET_KEYS = [hourly_dataset(dataset.id) for dataset in HOURLY_DATASETS]
# Each column from the datasets' field of the same name; the week from the hour; dataset_id from none.
HOURLY_LINEAGE = lineage(
    {
        **{
            column: [(key, column) for key in DATASET_KEYS]
            for column in HOURLY_RIDERSHIP.column_names
            if column not in ("dataset_id", "week_ending")
        },
        "week_ending": [(key, "transit_timestamp") for key in DATASET_KEYS],
    }
)


# The datasets themselves, the start of the lineage: observed (a dataset's data version is its
# rowsUpdatedAt), never materialized here.
@multi_observable_source_asset(
    specs=[
        AssetSpec(
            hourly_dataset(dataset.id),
            group_name=GROUP,
            description=f"NY Open Data's MTA Subway Hourly Ridership from {dataset.first_day} "
            f"{f'to {dataset.last_day}' if dataset.last_day else 'on'} ({dataset.id}; MTA_OPEN_DATA_URL): "
            "entries per station complex, hour, payment method and fare class. Observed: its data version is "
            "the dataset's rowsUpdatedAt.",
            kinds={"socrata"},
            owners=[OWNER],
            skippable=True,
        )
        for dataset in HOURLY_DATASETS
    ],
    can_subset=True,
    name="observe_hourly_ridership_datasets",
    description="Asks NY Open Data when each hourly ridership dataset's rows last changed.",
)
def hourly_ridership_datasets(context, hourly_source: HourlyRidershipSource) -> Iterator[ObserveResult]:
    for dataset in HOURLY_DATASETS:
        if hourly_dataset(dataset.id) in context.selected_asset_keys:
            yield observation(hourly_source, dataset.id)


def observation(hourly_source: HourlyRidershipSource, dataset_id: str) -> ObserveResult:
    """The dataset's data version (rowsUpdatedAt), as its observation records it."""
    version = hourly_source.dataset_version(dataset_id)
    return ObserveResult(
        asset_key=hourly_dataset(dataset_id),
        data_version=DataVersion(str(version.rows_updated_at)),
        metadata={
            "dataset_id": dataset_id,
            "name": version.name,
            "rows_updated_at": MetadataValue.timestamp(float(version.rows_updated_at)),
        },
    )


def read_hourly_week(hourly_source: HourlyRidershipSource, key: str, directory: Path) -> WeekRead:
    """One week of hourly ridership into a parquet file in `directory`, with its facts, metadata and a log line."""
    try:
        week = hourly_source.read_week(HOURLY_WEEKS.week_of(key), directory)
    except (WeekOutOfRange, SourceError) as error:
        raise WeekFailed(str(error)) from error
    metadata = {
        "ridership": week.ridership,
        "open_data_datasets": ", ".join(week.dataset_ids),
        "source_url": MetadataValue.url(week.first_page_url),
        "source_urls": MetadataValue.json(list(week.urls)),
        "pages_fetched": week.pages,
        # More than 1 when NY Open Data changed the week during a read, which was then read again.
        "source_reads": week.attempts,
        "dates_covered": dates_covered(week.first_hour, week.last_hour),
        "days": week.days,
    }
    summary = f"{week.rows:,} rows, {week.ridership:,} riders, from {', '.join(week.dataset_ids)} in {week.pages} pages"
    # The fingerprint is what the hourly sensor compares with the dataset's now to find revised weeks.
    facts = WeekFacts(station_complexes=week.station_complexes, fingerprint=week.fingerprint)
    return WeekRead(week, facts, metadata, summary)


@asset(
    **weekly_asset("lake", GROUP, hourly_partitions),
    deps=DATASET_KEYS,
    description="A week of hourly ridership (Saturday to Friday, the seven days of the turnstile file of the "
    "same Saturday) read from the dataset(s) holding its days through the SODA API once they hold every hour "
    "of it, by :id pages between two looks at the week's version (read again if it changed), checked "
    "against the dataset's own count and sums, typed, and stored in the lake as one object per Saturday, "
    "its materialization recording the week's fingerprint (rows, sums, newest :updated_at).",
    metadata={"dagster/column_schema": HOURLY_RIDERSHIP.table_schema, "dagster/column_lineage": HOURLY_LINEAGE},
)
def hourly_ridership_lake(
    context: AssetExecutionContext, hourly_source: HourlyRidershipSource, lake: LakeResource
) -> Iterator[MaterializeResult | AssetMaterialization]:
    yield from store_weeks(context, lake, HOURLY_OBJECTS, lambda key, directory: read_hourly_week(hourly_source, key, directory))


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            "hourly_lake_week_complete",
            asset=HOURLY_RIDERSHIP_LAKE,
            blocking=True,
            description="The stored week has rows in every one of its 168 hours, about as many station complexes "
            "every day as the stored weeks around it (or, with none stored, as its fullest day), and no day with "
            "less than half the rows of the week's median day. Blocks the warehouse.",
        )
    ],
    description="Reads each week of the run back from the lake, one at a time.",
)
def hourly_lake_checks(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """The completeness of the weeks a run stored, read from the objects their materializations recorded."""
    require_weeks(context, HOURLY_RIDERSHIP_LAKE)
    recorded = lake.recorded_weeks(context.instance, HOURLY_OBJECTS, context.op_execution_context.partition_keys, unchanged=False)
    result = hourly_lake_result(context.instance, recorded)
    # The warehouse step that follows is the run's peak: hand the memory the reads used back first (the
    # Arrow pool keeps freed pages otherwise; measured: 14 MB of a week's growth, docs/benchmarks.md).
    pa.default_memory_pool().release_unused()
    return result


@asset(
    **weekly_asset("warehouse", GROUP, hourly_partitions),
    description="The lake week's hourly ridership in the warehouse table `hourly_ridership` (DuckDB "
    "mta.hourly_ridership, or BigQuery partitioned by week_ending and clustered by station complex and hour). "
    "Re-materializing a week replaces exactly that week in one transaction.",
    metadata={
        "dagster/column_schema": HOURLY_RIDERSHIP.table_schema,
        "dagster/column_lineage": same_columns(HOURLY_RIDERSHIP, HOURLY_RIDERSHIP_LAKE),
    },
    deps=[HOURLY_RIDERSHIP_LAKE],
    check_specs=warehouse_checks(HOURLY_RIDERSHIP_WAREHOUSE),
    automation_condition=FOLLOWS_THE_LAKE,
)
def hourly_ridership_warehouse(context: AssetExecutionContext, lake: LakeResource, warehouse: Warehouse) -> MaterializeResult:
    recorded = lake.recorded_weeks(context.instance, HOURLY_OBJECTS, context.partition_keys)
    return load_lake_weeks(context, recorded, warehouse)
