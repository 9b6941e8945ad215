"""What every weekly asset shares, written once: partitions, owner, backfill policy, pool and stage."""

from collections.abc import Sequence

from dagster import AssetCheckSpec, AssetKey, AssetSpec, BackfillPolicy, WeeklyPartitionsDefinition

from mta_assets.partitions import weekly_partitions

OWNER = "team:data-engineering"
# A run costs seconds to start and a week well under one to load, so backfills run up to 26 weeks (half
# a year) per run: a year is two runs side by side (two cores) instead of 52 process start-ups. Memory
# does not grow with it: a run holds one week at a time.
WEEKS_PER_RUN = 26

# Dagster pools: the steps that download from the MTA, and the steps that write the warehouse. Their
# limits belong to the instance (dagster.yaml's default_limit, `dagster instance concurrency set`, or the
# UI), not to the code: 2 connections to the source; one writer for a DuckDB file, which takes one at a
# time (a step waits its turn in Dagster's queue instead of on the file's lock), several for BigQuery.
SOURCE_POOL = "mta_source"
WAREHOUSE_POOL = "mta_warehouse"
_POOLS = {"lake": SOURCE_POOL, "warehouse": WAREHOUSE_POOL, "ridership": WAREHOUSE_POOL}
# The tag naming an asset's stage; its kinds (where the lake and the warehouse are) are given by stage when
# the definitions load (defs/resources.py), from the same settings that choose the resources.
STAGE_TAG = "mta_assets/stage"


def weekly_asset(
    stage: str, group_name: str | None = None, partitions_def: WeeklyPartitionsDefinition = weekly_partitions
) -> dict:
    """Keyword arguments for @asset: weekly partitions, the owner, the backfill policy, and the pool and
    tag of its stage ('lake', 'warehouse' or 'ridership'), in the group of that name unless given one."""
    return {
        "partitions_def": partitions_def,
        "group_name": group_name or stage,
        "owners": [OWNER],
        "backfill_policy": BackfillPolicy.multi_run(max_partitions_per_run=WEEKS_PER_RUN),
        "pool": _POOLS[stage],
        "tags": {STAGE_TAG: stage},
    }


# weekly_asset's fields that belong to the AssetSpec of a @multi_asset, not to its op.
_SPEC_FIELDS = ("group_name", "owners", "tags")


def weekly_checked_asset(
    stage: str, key: AssetKey, check_specs: Sequence[AssetCheckSpec], partitions_def: WeeklyPartitionsDefinition = weekly_partitions, **spec
) -> dict:
    """Keyword arguments for a @multi_asset of one weekly asset (`spec`: AssetSpec's) whose checks may have no result.

    A multi-asset only to be subsettable: a check output of a subsettable op is optional, so a check that had
    nothing to compare yields no result and shows as Skipped, not Passed. A plain @asset must yield every check.
    """
    defaults = weekly_asset(stage, partitions_def=partitions_def)
    return {
        **{name: value for name, value in defaults.items() if name not in _SPEC_FIELDS},
        "specs": [AssetSpec(key, **{name: defaults[name] for name in _SPEC_FIELDS}, **spec)],
        "check_specs": list(check_specs),
        "can_subset": True,
    }
