"""turnstile_lake: each week's MTA file, checked and typed, as one object in the lake."""

import os
import tempfile
from pathlib import Path

from dagster import AssetExecutionContext, Backoff, BackfillPolicy, Jitter, MetadataValue, RetryPolicy, asset

from mta_assets.lake import WeekBatch, WeekFailed
from mta_assets.lib.metadata import dates_covered, preview, reading_range
from mta_assets.lib.turnstile_table import TABLE_SCHEMA
from mta_assets.parsing import NotATurnstileFile, ParsedWeek, TooManyRejectedLines, parse_turnstile_file
from mta_assets.partitions import WeekOutOfRange, week_of, weekly_partitions
from mta_assets.source import MtaTurnstileSource, SourceError, SourceUnavailable

# Downloads from the MTA go through this Dagster pool; its limit (2 in dagster.yaml) caps the connections
# a backfill opens however many runs it starts.
SOURCE_POOL = "mta_source"
# A run costs seconds to start and a week about half a second to load, so backfills run up to 26 weeks
# (half a year) per run: a year is two runs side by side (two cores) instead of 52 process start-ups.
# Memory does not grow with it: a run holds one week at a time.
WEEKS_PER_RUN = 26
# A step that fails for a reason worth retrying (the source down) runs again after this delay, doubling.
RETRY_DELAY_SECONDS = float(os.environ.get("MTA_RETRY_DELAY_SECONDS") or 30)


def fetch_week(source: MtaTurnstileSource, key: str) -> tuple[ParsedWeek, dict]:
    """Download and parse one week; WeekFailed names the week and says whether retrying can help."""
    try:
        week = week_of(key)
        with tempfile.TemporaryDirectory(prefix="mta-download-") as directory:
            download = source.download(week, Path(directory))
            parsed = parse_turnstile_file(download.path, week, source.max_rejected_share)
    except (WeekOutOfRange, SourceError, NotATurnstileFile, TooManyRejectedLines) as error:
        # Only an unreachable source is worth retrying; a missing or corrupt file will not change by itself.
        raise WeekFailed(str(error), retryable=isinstance(error, SourceUnavailable)) from error
    first, last = reading_range(parsed.table)
    return parsed, {
        "dagster/row_count": parsed.table.num_rows,
        "source_url": MetadataValue.url(download.url),
        "bytes_downloaded": download.bytes,
        "dates_covered": dates_covered(first, last),
        "rejected_lines": len(parsed.rejected_lines),
        "blank_lines": parsed.blank_lines,
        "preview": preview(parsed.table),
    }


@asset(
    partitions_def=weekly_partitions,
    io_manager_key="lake_io_manager",
    group_name="lake",
    description="The MTA's weekly turnstile file (turnstile_YYMMDD.txt), parsed into typed rows and stored "
    "in the lake as one parquet or csv.gz object per Saturday.",
    metadata={"dagster/column_schema": TABLE_SCHEMA},
    pool=SOURCE_POOL,
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=WEEKS_PER_RUN),
    retry_policy=RetryPolicy(max_retries=3, delay=RETRY_DELAY_SECONDS, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS),
)
def turnstile_lake(context: AssetExecutionContext, source: MtaTurnstileSource) -> WeekBatch:
    # Weeks are fetched lazily, one at a time, as the lake IO manager stores them.
    return WeekBatch(keys=context.partition_keys, produce=lambda key: fetch_week(source, key))
