"""turnstile_lake: each week's MTA file, checked and typed, as one object in the lake."""

import os
import tempfile
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetRecordsFilter,
    AssetSpec,
    Backoff,
    BackfillPolicy,
    Jitter,
    MetadataValue,
    Output,
    RetryPolicy,
    asset,
)

from mta_assets.checks import LAKE_CHECKS, RECENT_WEEKS, WeekFindings, inspect_week, lake_results
from mta_assets.lake import WeekBatch, WeekFailed
from mta_assets.lib.metadata import dates_covered, preview, reading_range
from mta_assets.lib.turnstile_table import TABLE_SCHEMA
from mta_assets.parsing import NotATurnstileFile, ParsedWeek, TooManyRejectedLines, parse_turnstile_file
from mta_assets.partitions import WeekOutOfRange, week_of, weekly_partitions
from mta_assets.source import MtaTurnstileSource, SourceError, SourceUnavailable

# Downloads from the MTA go through this Dagster pool; its limit (2 in dagster.yaml) caps the connections
# a backfill opens however many runs it starts.
SOURCE_POOL = "mta_source"
OWNER = "team:data-engineering"
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


# The MTA's files themselves: not materialized here, the start of the lineage.
mta_turnstile_file = AssetSpec(
    "mta_turnstile_file",
    partitions_def=weekly_partitions,
    group_name="lake",
    description="The MTA's weekly turnstile file turnstile_YYMMDD.txt (MTA_SOURCE_URL), one per Saturday: "
    "cumulative entry and exit counters of every turnstile, read about every 4 hours.",
    kinds={"csv"},
    owners=[OWNER],
)


def _earlier_row_counts(context: AssetExecutionContext, first_key: str) -> dict[str, int]:
    """Row counts of the weeks before the run, from their lake materializations."""
    keys = weekly_partitions.get_partition_keys()
    position = keys.index(first_key)
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=context.asset_key, asset_partitions=keys[max(0, position - RECENT_WEEKS) : position]),
        limit=4 * RECENT_WEEKS,
    ).records
    counts = {}
    for record in records:  # newest first: the first seen of a week is its latest
        materialization = record.asset_materialization
        if materialization.partition not in counts and "dagster/row_count" in materialization.metadata:
            counts[materialization.partition] = materialization.metadata["dagster/row_count"].value
    return counts


@asset(
    partitions_def=weekly_partitions,
    io_manager_key="lake_io_manager",
    group_name="lake",
    deps=[mta_turnstile_file],
    description="The MTA's weekly turnstile file, checked, parsed into typed rows (snake_case columns, one "
    "reading_at timestamp) and stored in the lake as one parquet or csv.gz object per Saturday, with the "
    "lines that could not be parsed beside it.",
    metadata={"dagster/column_schema": TABLE_SCHEMA},
    owners=[OWNER],
    check_specs=LAKE_CHECKS,
    pool=SOURCE_POOL,
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=WEEKS_PER_RUN),
    retry_policy=RetryPolicy(max_retries=3, delay=RETRY_DELAY_SECONDS, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS),
)
def turnstile_lake(context: AssetExecutionContext, source: MtaTurnstileSource):
    findings: dict[str, WeekFindings] = {}

    def produce(key: str) -> tuple[ParsedWeek, dict]:
        parsed, metadata = fetch_week(source, key)
        findings[key] = inspect_week(parsed)
        return parsed, metadata

    # Weeks are fetched lazily, one at a time, as the lake IO manager stores them; the checks run on
    # what was stored once the output is handled.
    batch = WeekBatch(keys=context.partition_keys, produce=produce)
    yield Output(batch)
    yield from lake_results(findings, batch.stored, _earlier_row_counts(context, context.partition_keys[0]))
