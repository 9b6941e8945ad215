"""The run queue of the local and production instances: Dagster's queued run coordinator, with the runs
that load hourly ridership weeks queued behind the others.

Dagster dequeues runs by their `dagster/priority` tag, then first-in first-out. Launched together, a
backfill of the turnstile history (720 weeks, about half a second each) and one of the hourly history
(about 520 weeks of 606,305 rows, several seconds each) would share the run slots, and the turnstile
history, on which the station ridership since 2010 rests, would land only near the end of both. An hourly
run goes behind them instead (priority -1). The automation's runs keep the default priority: they queue
first-in first-out with the turnstile runs, ahead of the runs that load hourly weeks. A run launched with its own priority
keeps it.
"""

from collections.abc import Collection

from dagster import AssetKey, DagsterInstance
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import PRIORITY_TAG

from mta_assets.asset_keys import HOURLY_RIDERSHIP_LAKE

HOURLY_PRIORITY = -1


def run_asset_keys(instance: DagsterInstance, run: DagsterRun) -> Collection[AssetKey]:
    """The assets a run materializes: its asset selection, or for a run of a whole job (a schedule's or a
    sensor's), the assets its execution plan's steps output."""
    if run.asset_selection is not None:
        return run.asset_selection
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id) if run.execution_plan_snapshot_id else None
    return {
        output.properties.asset_key
        for step in (plan.steps if plan else ())
        for output in step.outputs
        if output.properties and output.properties.asset_key
    }


class SourceOrderedRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator that queues a run loading hourly ridership weeks behind the others."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        if PRIORITY_TAG not in run.tags and HOURLY_RIDERSHIP_LAKE in run_asset_keys(self._instance, run):
            self._instance.add_run_tags(run.run_id, {PRIORITY_TAG: str(HOURLY_PRIORITY)})
            run = self._instance.get_run_by_id(run.run_id) or run
        return super().submit_run(context._replace(dagster_run=run))
