"""The turnstile lake checks: shown in the UI, failing with numbers in their metadata.

They read the object each week's latest materialization recorded, a week at a time (the logic is in
mta_assets/turnstile/lake_checks.py). The warehouse and ridership checks are computed by their assets from
the load itself. Blocking checks stop bad data from flowing downstream; the others flag and pass.
"""

from collections.abc import Iterator

import pyarrow as pa
from dagster import AssetCheckExecutionContext, AssetCheckResult, multi_asset_check

from mta_assets.asset_keys import TURNSTILE_LAKE
from mta_assets.lake.resource import LakeResource
from mta_assets.lake.week import TURNSTILE_OBJECTS
from mta_assets.lib.check_results import require_weeks
from mta_assets.partitions import week_of
from mta_assets.turnstile.completeness import recorded_sizes
from mta_assets.turnstile.lake_checks import LAKE_CHECKS, inspect_stored_week, lake_results
from mta_assets.turnstile.sources import TurnstileSources


@multi_asset_check(specs=LAKE_CHECKS, description="Reads each week of the run back from the lake, one at a time.")
def lake_checks(context: AssetCheckExecutionContext, lake: LakeResource, sources: TurnstileSources) -> Iterator[AssetCheckResult]:
    """The lake checks of the weeks a run stored, read from the objects their materializations recorded (as
    they are now: a changed object is for the checks to catch).

    They run after turnstile_lake, in the same run, for the run's weeks. Dagster 1.13 records an asset
    check result per run, not per week of a multi-week run, so these are checks of the asset (not
    partitioned), naming the failing weeks in their metadata.
    """
    require_weeks(context, TURNSTILE_LAKE)
    recorded = lake.recorded_weeks(context.instance, TURNSTILE_OBJECTS, context.op_execution_context.partition_keys, unchanged=False)
    findings = {key: inspect_stored_week(week.lake_week) for key, week in recorded.items()}
    # The warehouse step that follows is the run's other peak: hand the memory the reads freed back first.
    pa.default_memory_pool().release_unused()
    yield from lake_results(findings, recorded_sizes(context.instance, TURNSTILE_LAKE, [week_of(key) for key in recorded]), sources.min_devices)
