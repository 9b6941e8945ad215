"""The weeks that queued or running runs are loading, whoever launched them (a job, a backfill, the UI)."""

from collections.abc import Collection

from dagster import AssetKey, DagsterInstance, DagsterRunStatus, PartitionKeyRange, RunsFilter, TimeWindowPartitionsDefinition

# The tags Dagster puts on a run of one partition, or of a range of partitions (a backfill's runs).
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def weeks_being_loaded(instance: DagsterInstance, assets: Collection[AssetKey], partitions: TimeWindowPartitionsDefinition) -> set[str]:
    """Partition keys of every queued or running run that materializes any of `assets` (a run with no asset
    selection, a job's, counts as all of them)."""
    weeks: set[str] = set()
    for run in instance.get_runs(RunsFilter(statuses=ACTIVE)):
        if run.asset_selection is not None and not set(assets) & run.asset_selection:
            continue
        if PARTITION_TAG in run.tags:
            weeks.add(run.tags[PARTITION_TAG])
        elif RANGE_START_TAG in run.tags:
            weeks.update(partitions.get_partition_keys_in_range(PartitionKeyRange(run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG])))
    return weeks
