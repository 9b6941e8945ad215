"""The local instance's run queue: runs that load hourly ridership weeks go behind the others."""

import shutil
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.run_coordinator import SubmitRunContext
from dagster._core.storage.tags import PRIORITY_TAG
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from mta_assets.definitions import defs as lazy_defs
from mta_assets.run_coordinator import SourceOrderedRunCoordinator

PROJECT_INSTANCE = Path(__file__).resolve().parents[1] / "dagster_home" / "dagster.yaml"
TURNSTILE = [AssetKey("turnstile_lake"), AssetKey("turnstile_warehouse")]
HOURLY = [AssetKey("hourly_ridership_lake"), AssetKey("hourly_ridership_warehouse")]
# Where a queued run's job comes from (the queue requires one; nothing here loads it).
CODE_LOCATION = RemoteRepositoryOrigin(InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="mta_assets.definitions")), "__repository__")


@pytest.fixture
def instance(tmp_path):
    """An instance configured by the project's dagster.yaml."""
    shutil.copy(PROJECT_INSTANCE, tmp_path / "dagster.yaml")
    with DagsterInstance.from_config(str(tmp_path)) as project_instance:
        yield project_instance


def queue(instance: DagsterInstance, name: str, asset_keys=None, job_name: str = "__ASSET_JOB", tags=None) -> None:
    """A run as a backfill (an asset selection) or a sensor (a whole job) submits it."""
    definitions = lazy_defs()
    job = definitions.resolve_job_def(job_name)
    if asset_keys is not None:
        job = definitions.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(asset_keys))
    run = instance.create_run_for_job(
        job_def=job, run_id=None, asset_selection=frozenset(asset_keys) if asset_keys else None,
        tags={"name": name, **(tags or {})}, status=DagsterRunStatus.NOT_STARTED,
        remote_job_origin=RemoteJobOrigin(CODE_LOCATION, job_name),
    )  # fmt: skip
    instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None))


def test_the_project_instance_queues_with_this_coordinator(instance):
    assert isinstance(instance.run_coordinator, SourceOrderedRunCoordinator)


def test_hourly_runs_are_dequeued_after_the_turnstile_runs_queued_after_them(instance):
    queue(instance, "hourly backfill", HOURLY)
    queue(instance, "hourly sensor", job_name="hourly_ridership_job")
    queue(instance, "turnstile backfill", TURNSTILE)
    queue(instance, "turnstile sensor", job_name="turnstile_job")
    queue(instance, "ridership", [AssetKey("system_ridership")])
    queued = list(reversed(instance.get_runs()))  # oldest first, as the queue holds them
    assert all(run.status == DagsterRunStatus.QUEUED for run in queued)
    dequeued = QueuedRunCoordinatorDaemon(interval_seconds=1)._priority_sort(queued)
    assert [run.tags["name"] for run in dequeued] == [
        "turnstile backfill", "turnstile sensor", "ridership", "hourly backfill", "hourly sensor",
    ]  # fmt: skip


def test_a_run_launched_with_a_priority_keeps_it(instance):
    queue(instance, "hourly, urgent", HOURLY, tags={PRIORITY_TAG: "5"})
    (run,) = instance.get_runs()
    assert run.tags[PRIORITY_TAG] == "5"
