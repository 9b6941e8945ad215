"""The sensor that loads every week the lake holds and the warehouse lacks, or holds from an older object.

A multi-week run whose lake step fails a week publishes its good weeks and fails (lake/store_weeks.py), so its
warehouse step never runs. The warehouse's eager condition does not reliably pick those weeks up: it
waits until the lake's blocking check passes again (that run skipped it), and it ignores a lake update
made by a run that also selected the warehouse ("executed_with_root_target"), which Dagster 1.13 decides
from the asset's one latest materialization, not the week's: the week recorded last looks "loaded by its
own run" (read from Dagster's source; the likely reason 2010-10-23 stayed out in issue 17). Dagster's
operands have no "the lake's materialization is newer than the warehouse's" per week, so this sensor
compares them: two queries per lake asset for all its weeks, and the weeks waiting named in every tick.
The eager condition stays for the common case (a lake week materialized alone is loaded within seconds);
the two never load a week twice, as each leaves alone the weeks a queued or running run is loading.
"""

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    TimeWindowPartitionsDefinition,
    define_asset_job,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from mta_assets.lib.active_runs import RANGE_END_TAG, RANGE_START_TAG, weeks_being_loaded
from mta_assets.asset_defaults import WEEKS_PER_RUN
from mta_assets.asset_keys import HOURLY_RIDERSHIP_LAKE, HOURLY_RIDERSHIP_WAREHOUSE, TURNSTILE_LAKE, TURNSTILE_WAREHOUSE
from mta_assets.partitions import hourly_partitions, weekly_partitions



@dataclass(frozen=True)
class Follower:
    """A warehouse asset that loads a lake asset's weeks, and the job that loads them."""

    lake: AssetKey
    warehouse: AssetKey
    partitions: TimeWindowPartitionsDefinition
    job: UnresolvedAssetJobDefinition


# The turnstile's job runs its lake checks again, on the stored weeks: a blocking one that fails still keeps
# the week out of the warehouse, as in the lake's own run. The hourly job only loads: its lake check is not
# re-run here.
turnstile_warehouse_job = define_asset_job(
    "turnstile_warehouse_job",
    selection=AssetSelection.assets(TURNSTILE_WAREHOUSE) | AssetSelection.checks_for_assets(TURNSTILE_LAKE),
    description="Check weeks stored in the lake and load them into the warehouse (the reconciliation sensor's runs).",
)
hourly_ridership_warehouse_job = define_asset_job(
    "hourly_ridership_warehouse_job",
    selection=AssetSelection.assets(HOURLY_RIDERSHIP_WAREHOUSE),
    description="Load weeks of hourly ridership stored in the lake into the warehouse (the reconciliation sensor's runs).",
)
FOLLOWERS = (
    Follower(TURNSTILE_LAKE, TURNSTILE_WAREHOUSE, weekly_partitions, turnstile_warehouse_job),
    Follower(HOURLY_RIDERSHIP_LAKE, HOURLY_RIDERSHIP_WAREHOUSE, hourly_partitions, hourly_ridership_warehouse_job),
)


def weeks_behind(instance: DagsterInstance, follower: Follower) -> dict[str, int]:
    """Weeks whose latest lake materialization is newer than their latest warehouse one, with its storage id."""
    lake = instance.get_latest_storage_id_by_partition(follower.lake, DagsterEventType.ASSET_MATERIALIZATION)
    warehouse = instance.get_latest_storage_id_by_partition(follower.warehouse, DagsterEventType.ASSET_MATERIALIZATION)
    weeks = set(follower.partitions.get_partition_keys())  # a week no longer a partition is not loaded
    return {week: storage_id for week, storage_id in sorted(lake.items()) if storage_id > warehouse.get(week, -1) and week in weeks}


def contiguous_batches(weeks: Sequence[str], partitions: TimeWindowPartitionsDefinition) -> Iterator[list[str]]:
    """`weeks` (sorted) in runs of consecutive partitions, at most WEEKS_PER_RUN each, as a backfill runs them."""
    position = {key: index for index, key in enumerate(partitions.get_partition_keys())}
    batch: list[str] = []
    for week in weeks:
        if batch and (position[week] != position[batch[-1]] + 1 or len(batch) == WEEKS_PER_RUN):
            yield batch
            batch = []
        batch.append(week)
    if batch:
        yield batch


def warehouse_request(follower: Follower, batch: list[str], lake_ids: dict[str, int]) -> RunRequest:
    """One run loading `batch` into the warehouse, keyed by its weeks' lake materializations."""
    materializations = ",".join(f"{week}={lake_ids[week]}" for week in batch)
    digest = hashlib.sha256(materializations.encode()).hexdigest()[:16]
    return RunRequest(
        run_key=f"{follower.warehouse.to_user_string()}:{batch[0]}:{batch[-1]}:{digest}",
        job_name=follower.job.name,
        tags={RANGE_START_TAG: batch[0], RANGE_END_TAG: batch[-1]},
    )


@sensor(
    jobs=[follower.job for follower in FOLLOWERS],
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Every minute: loads each week whose lake materialization is newer than its warehouse one "
    "(a multi-week run that failed a week, a warehouse step that failed), once per lake materialization, "
    "in runs of consecutive weeks with the lake checks; the tick names the weeks waiting.",
)
def warehouse_reconciliation_sensor(context: SensorEvaluationContext) -> SensorResult:
    # Per warehouse asset, the lake materialization (storage id) each week was last requested for: a week
    # is requested once per lake materialization, and only weeks still behind are remembered.
    requested = json.loads(context.cursor) if context.cursor else {}
    cursor, requests, waiting = {}, [], []
    for follower in FOLLOWERS:
        name = follower.warehouse.to_user_string()
        behind = weeks_behind(context.instance, follower)
        if not behind:
            continue
        running = weeks_being_loaded(context.instance, [follower.lake, follower.warehouse], follower.partitions)
        asked = {week: storage_id for week, storage_id in requested.get(name, {}).items() if behind.get(week) == storage_id}
        new = [week for week in behind if week not in running and week not in asked]
        for batch in contiguous_batches(new, follower.partitions):
            requests.append(warehouse_request(follower, batch, behind))
        cursor[name] = {**asked, **{week: behind[week] for week in new}}
        waiting.append(
            f"{name}: {len(behind)} week(s) behind {follower.lake.to_user_string()} ({', '.join(behind)}); "
            f"{len(new)} requested now, {len(set(behind) & running)} being loaded by a run, "
            f"{len(asked)} requested before for the same lake materialization"
        )
    for line in waiting:
        context.log.info(line)
    return SensorResult(
        run_requests=requests,
        cursor=json.dumps(cursor, sort_keys=True),
        skip_reason=None if requests else ("; ".join(waiting) if waiting else "Every lake week is in the warehouse."),
    )
