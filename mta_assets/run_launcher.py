"""The run launcher of the local instance: Dagster's default one, plus a health check for run monitoring.

Dagster's default launcher cannot tell run monitoring whether a run's process is alive, so a run whose
process was killed where no code server watches it (a `dagster asset materialize` run, or any run when
`dg dev` itself was killed) stays STARTED for ever and keeps its run and pool slots. On an instance whose
runs all execute on this machine (the SQLite instance of `dg dev`: SQLite cannot be shared between
machines), the process a run reported running in is checked directly.
"""

from dagster import DagsterEventType, DagsterInstance, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun

from mta_assets.lib.leftovers import is_running


def run_process_id(instance: DagsterInstance, run_id: str) -> int | None:
    """The process the run's steps execute in, as its in-process executor reported it (None until then)."""
    for event in reversed(instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)):
        metadata = event.dagster_event.engine_event_data.metadata if event.dagster_event else {}
        if event.message.startswith("Executing steps in process") and "pid" in metadata:
            return int(metadata["pid"].value)
    return None


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose runs run monitoring can check: a run whose process is gone has failed."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid = run_process_id(self._instance, run.run_id)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the run has not reported its process yet")
        if is_running(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"process {pid} is running")
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the run's process {pid} is gone (killed, or out of memory) without ending the run",
        )
