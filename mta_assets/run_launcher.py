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
    """The process the run executes in: every Dagster event records the process it came from, and the run's
    start comes from the run's own process (None until the run has started)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_START, limit=1).records
    event = records[0].event_log_entry.dagster_event if records else None
    return event.pid if event else None


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
