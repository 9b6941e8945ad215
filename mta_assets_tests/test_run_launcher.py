"""The local run launcher's health check: a run whose process has exited is failed, zombie or gone."""

import os
import subprocess
import sys
import textwrap

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.launcher import WorkerStatus

from mta_assets.lib.leftovers import is_running
from mta_assets.run_launcher import LocalRunLauncher

# A run whose process ends in the middle of its step, as a killed `dagster asset materialize` does: the
# run stays STARTED, with the process it reported running in.
RUN_THAT_DIES = textwrap.dedent(
    """
    import os
    from dagster import DagsterInstance, asset, materialize

    @asset
    def dies_midway():
        os._exit(0)

    materialize([dies_midway], instance=DagsterInstance.get())
    """
)


@pytest.fixture
def instance(tmp_path):
    test_instance = DagsterInstance.local_temp(tempdir=str(tmp_path))
    yield test_instance
    test_instance.dispose()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="a process's state is read from /proc (Linux)")
def test_a_run_whose_process_is_a_zombie_counts_as_dead(instance, tmp_path):
    process = subprocess.Popen([sys.executable, "-c", RUN_THAT_DIES], env={**os.environ, "DAGSTER_HOME": str(tmp_path)})
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # wait for it to exit, but do not reap it
    try:
        with open(f"/proc/{process.pid}/stat") as stat:
            assert stat.read().rsplit(")", 1)[1].split()[0] == "Z"
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.STARTED
        launcher = LocalRunLauncher()
        launcher.register_instance(instance)
        health = launcher.check_run_worker_health(run)
        assert health.status == WorkerStatus.FAILED, health.msg
        assert f"process {process.pid} is gone" in health.msg
        assert not is_running(process.pid)
    finally:
        process.wait()


def test_a_live_process_counts_as_running():
    assert is_running(os.getpid())
