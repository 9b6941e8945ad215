"""turnstile_lake: each week's MTA file, checked and typed, stored in the lake as one object per Saturday."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from dagster import AssetExecutionContext, AssetMaterialization, AssetSpec, MaterializeResult, MetadataValue, asset

from mta_assets import asset_keys
from mta_assets.asset_defaults import OWNER, weekly_asset
from mta_assets.turnstile.completeness import (
    DEVICE,
    Neighbour,
    ShortWeek,
    WeekShape,
    neighbours_of,
    recorded_sizes,
    refuse_if_short,
)
from mta_assets.turnstile.duplicates import TooManyDuplicateReadings
from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.facts import WeekFacts
from mta_assets.lake.resource import LakeResource
from mta_assets.lake.store_weeks import WeekFailed, WeekRead, store_weeks
from mta_assets.lake.week import TURNSTILE_OBJECTS
from mta_assets.lib.http import redact_url
from mta_assets.lib.metadata import dates_covered, lineage, preview
from mta_assets.turnstile.open_data import FIELDS as OPEN_DATA_FIELDS
from mta_assets.lib.tables import TURNSTILE
from mta_assets.partitions import WeekOutOfRange, week_of, weekly_partitions
from mta_assets.lib.week_source import SourceError
from mta_assets.turnstile.sources import FILES, TurnstileSources


def fetch_week(sources: TurnstileSources, key: str, directory: Path, sizes: dict[date, Neighbour]) -> WeekRead:
    """Read one week from the first source that has it into a parquet file in `directory`, with its facts and metadata.

    A week far smaller than the weeks around it (`sizes`: stored weeks and the run's earlier ones) or than
    a complete week is refused; its own size joins `sizes`.
    """
    try:
        week = sources.read_week(week_of(key), directory)
        parsed = week.parsed
        shape = WeekShape.of(LakeFormat.PARQUET.read_table(parsed.path, [*DEVICE, "reading_at"], text_as_codes=True), parsed.week)
        accepted = key in sources.accept_short_weeks
        what = redact_url(week.urls[0]) if week.source == FILES else f"NY Open Data's {', '.join(week.datasets)}"
        shortfall = refuse_if_short(parsed.week, what, shape, neighbours_of(parsed.week, sizes), sources.min_devices, accepted)
    except (WeekOutOfRange, SourceError, TooManyDuplicateReadings, ShortWeek) as error:
        raise WeekFailed(str(error)) from error
    sizes[parsed.week] = Neighbour(shape.devices, parsed.rows)
    metadata = {
        "source": week.source,
        "source_url": MetadataValue.url(week.urls[0]),
        "source_urls": MetadataValue.json(list(week.urls)),
        "dates_covered": dates_covered(parsed.first_reading, parsed.last_reading),
        "rejected_lines": len(parsed.rejected_lines),
        "blank_lines": parsed.blank_lines,
        "duplicate_readings_removed": parsed.duplicate_readings_removed,
        "readings_without_station": parsed.readings_without_station,
        "preview": preview(parsed.preview),
    }
    if week.datasets:
        metadata["open_data_datasets"] = ", ".join(week.datasets)
    if week.bytes_downloaded is not None:
        metadata["bytes_downloaded"] = week.bytes_downloaded
    summary = (
        (f"accepted as short (MTA_ACCEPT_SHORT_WEEKS) although it holds {'; '.join(shortfall)}; " if shortfall else "")
        + f"{parsed.rows:,} rows parsed, {len(parsed.rejected_lines):,} lines rejected, "
        f"{parsed.duplicate_readings_removed:,} exact duplicate readings removed"
    )
    facts = WeekFacts(turnstiles=shape.devices, short_week_accepted="; ".join(shortfall) or None)
    return WeekRead(parsed, facts, metadata, summary)


# The MTA's files themselves: not materialized here, the start of the lineage.
mta_turnstile_file = AssetSpec(
    asset_keys.MTA_TURNSTILE_FILE,
    partitions_def=weekly_partitions,
    group_name="lake",
    description="The MTA's weekly turnstile file turnstile_YYMMDD.txt (MTA_SOURCE_URL), one per Saturday: "
    "cumulative entry and exit counters of every turnstile, read about every 4 hours.",
    kinds={"csv"},
    owners=[OWNER],
)


# NY Open Data's yearly Turnstile Usage Data datasets: the same readings, the second source of a week.
open_data_turnstile_usage = AssetSpec(
    asset_keys.OPEN_DATA_TURNSTILE_USAGE,
    partitions_def=weekly_partitions,
    group_name="lake",
    description="NY Open Data's yearly Turnstile Usage Data datasets (2014-2022, MTA_OPEN_DATA_URL), read "
    "through the SODA API: the same readings as the MTA's files, for the weeks the files source lacks.",
    kinds={"csv"},
    owners=[OWNER],
)


# Each column from the MTA file's header field and NY Open Data's field it is read from.
TURNSTILE_LINEAGE = lineage(
    {
        **{
            column.name: [
                (asset_keys.MTA_TURNSTILE_FILE, column.source),
                (asset_keys.OPEN_DATA_TURNSTILE_USAGE, OPEN_DATA_FIELDS[column.name][0]),
            ]
            for column in TURNSTILE.columns
            if column.source
        },
        "reading_at": [
            (asset_keys.MTA_TURNSTILE_FILE, "DATE"),
            (asset_keys.MTA_TURNSTILE_FILE, "TIME"),
            (asset_keys.OPEN_DATA_TURNSTILE_USAGE, "date"),
            (asset_keys.OPEN_DATA_TURNSTILE_USAGE, "time"),
        ],
    }
)


@asset(
    **weekly_asset("lake"),
    deps=[mta_turnstile_file, open_data_turnstile_usage],
    description="A week's turnstile readings from the first source that has them (MTA_SOURCES: the MTA's "
    "file, then NY Open Data), checked, parsed into typed rows (snake_case columns, one reading_at "
    "timestamp) and stored in the lake as one parquet or csv.gz object per Saturday, with the lines that "
    "could not be parsed beside it.",
    metadata={"dagster/column_schema": TURNSTILE.table_schema, "dagster/column_lineage": TURNSTILE_LINEAGE},
)
def turnstile_lake(
    context: AssetExecutionContext, sources: TurnstileSources, lake: LakeResource
) -> Iterator[MaterializeResult | AssetMaterialization]:
    """Fetches and parses the run's weeks one at a time onto local disk, each stored in the lake at once (lake/store_weeks.py)."""
    sizes = recorded_sizes(context.instance, context.asset_key, [week_of(key) for key in context.partition_keys])
    yield from store_weeks(context, lake, TURNSTILE_OBJECTS, lambda key, directory: fetch_week(sources, key, directory, sizes))
