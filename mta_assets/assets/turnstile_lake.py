"""turnstile_lake: each week's MTA file, checked and typed, as one object in the lake."""

import tempfile
from pathlib import Path

from dagster import AssetExecutionContext, Failure, MetadataValue, asset

from mta_assets.lib.metadata import dates_covered, preview, reading_range
from mta_assets.lib.turnstile_table import TABLE_SCHEMA
from mta_assets.parsing import NotATurnstileFile, ParsedWeek, TooManyRejectedLines, parse_turnstile_file
from mta_assets.partitions import WeekOutOfRange, week_of, weekly_partitions
from mta_assets.source import MtaTurnstileSource, SourceError, SourceUnavailable


@asset(
    partitions_def=weekly_partitions,
    io_manager_key="lake_io_manager",
    group_name="lake",
    description="The MTA's weekly turnstile file (turnstile_YYMMDD.txt), parsed into typed rows and stored "
    "in the lake as one parquet or csv.gz object per Saturday.",
    metadata={"dagster/column_schema": TABLE_SCHEMA},
)
def turnstile_lake(context: AssetExecutionContext, source: MtaTurnstileSource) -> ParsedWeek:
    try:
        week = week_of(context.partition_key)
        with tempfile.TemporaryDirectory(prefix="mta-download-") as directory:
            download = source.download(week, Path(directory))
            parsed = parse_turnstile_file(download.path, week, source.max_rejected_share)
    except (WeekOutOfRange, SourceError, NotATurnstileFile, TooManyRejectedLines) as error:
        # Only an unreachable source is worth retrying; a missing or corrupt file will not change by itself.
        raise Failure(
            description=str(error),
            allow_retries=isinstance(error, SourceUnavailable),
        ) from error
    first, last = reading_range(parsed.table)
    context.add_output_metadata(
        {
            "dagster/row_count": parsed.table.num_rows,
            "source_url": MetadataValue.url(download.url),
            "bytes_downloaded": download.bytes,
            "dates_covered": dates_covered(first, last),
            "rejected_lines": len(parsed.rejected_lines),
            "blank_lines": parsed.blank_lines,
            "preview": preview(parsed.table),
        }
    )
    return parsed
