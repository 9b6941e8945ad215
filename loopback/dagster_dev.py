"""`dg dev` (webserver and daemon) as the README's quick start runs it, for end-to-end tests and benchmarks."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from loopback.emulators import free_port, reset_signals

REPOSITORY = Path(__file__).resolve().parents[1]
INSTANCE_CONFIG = REPOSITORY / "dagster_home" / "dagster.yaml"


def _stop(process: subprocess.Popen) -> None:
    """Stop dg dev and every process it started (its process group), by PID."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def set_download_pool(home: Path) -> None:
    """What the README's command does before `dg dev`: 2 connections for the download pool."""
    subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "instance", "concurrency", "set", "mta_source", "2"],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        check=True,
        capture_output=True,
        timeout=120,
    )


@contextmanager
def dagster_dev(workdir: Path, env: dict[str, str], timeout: float = 120):
    """Run `dg dev` on this project with a fresh DAGSTER_HOME holding the project's dagster.yaml.

    The lake and the DuckDB file go under workdir/data unless `env` says otherwise; the output goes to
    workdir/dagster-dev.log. Yields the UI's base URL once the code location has loaded.
    """
    home = workdir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE_CONFIG.read_text())
    set_download_pool(home)
    settings = {
        "MTA_LAKE_URL": str(workdir / "data" / "lake"),
        "MTA_DUCKDB_PATH": str(workdir / "data" / "warehouse.duckdb"),
        **env,
        "DAGSTER_HOME": str(home),
    }
    port = free_port()
    log = open(workdir / "dagster-dev.log", "wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("dg")), "dev", "--target-path", str(REPOSITORY),
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=workdir,
        env={**os.environ, **settings},
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=reset_signals,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _location_loaded(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dg dev did not come up; see {workdir / 'dagster-dev.log'}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(process)
        log.close()


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = requests.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


def _location_loaded(url: str) -> bool:
    try:
        data = graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                            "locationOrLoadError { __typename } } } } }")
    except (requests.RequestException, RuntimeError):
        return False
    entries = data["workspaceOrError"]["locationEntries"]
    if any(entry["locationOrLoadError"] and entry["locationOrLoadError"]["__typename"] == "PythonError" for entry in entries):
        raise RuntimeError(f"the code location failed to load: {entries}")
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)


def launch_asset_backfill(url: str, asset_names: list[str], partition_keys: list[str]) -> str:
    """Launch a backfill the way the UI's materialize dialog does; returns its id."""
    data = graphql(
        url,
        """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
             __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        {"params": {"assetSelection": [{"path": [name]} for name in asset_names], "partitionNames": partition_keys}},
    )
    result = data["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"backfill not launched: {result}")
    return result["backfillId"]


# The statuses of a backfill that has not ended yet.
BACKFILL_GOING_ON = ("REQUESTED", "CANCELING", "FAILING")


def backfill_status(url: str, backfill_id: str) -> str:
    """The backfill's status now: one of BACKFILL_GOING_ON, or how it ended (COMPLETED_SUCCESS, ...)."""
    data = graphql(url, "query($id: String!) { partitionBackfillOrError(backfillId: $id) { "
                        "... on PartitionBackfill { status } } }", {"id": backfill_id})
    return data["partitionBackfillOrError"]["status"]


def wait_for_backfill(url: str, backfill_id: str, timeout: float) -> str:
    """Poll until the backfill ends; returns its final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = backfill_status(url, backfill_id)
        if status not in BACKFILL_GOING_ON:
            return status
        time.sleep(0.5)
    raise TimeoutError(f"backfill {backfill_id} still running after {timeout}s")


def materialized_count(url: str, asset_name: str) -> int:
    """How many partitions of the asset Dagster counts as materialized."""
    data = graphql(
        url,
        "query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode { "
        "partitionStats { numMaterialized } } } }",
        {"key": {"path": [asset_name]}},
    )
    return data["assetNodeOrError"]["partitionStats"]["numMaterialized"]


def materialized_partitions(url: str, asset_name: str) -> set[str]:
    """The partitions of a weekly asset that Dagster shows as materialized."""
    data = graphql(
        url,
        "query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode { "
        "partitionKeysByDimension { partitionKeys } "
        "assetPartitionStatuses { ... on TimePartitionStatuses { ranges { startKey endKey status } } } } } }",
        {"key": {"path": [asset_name]}},
    )
    node = data["assetNodeOrError"]
    keys = node["partitionKeysByDimension"][0]["partitionKeys"]
    materialized = set()
    for status_range in node["assetPartitionStatuses"]["ranges"]:
        if status_range["status"] == "MATERIALIZED":
            first, last = keys.index(status_range["startKey"]), keys.index(status_range["endKey"])
            materialized.update(keys[first : last + 1])
    return materialized


def backfill_run_span(url: str, backfill_id: str) -> tuple[int, float]:
    """The backfill's number of runs, and seconds from the first run's start to the last run's end."""
    data = graphql(
        url,
        "query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { "
        "runs(limit: 1000) { startTime endTime } } } }",
        {"id": backfill_id},
    )
    runs = data["partitionBackfillOrError"]["runs"]
    return len(runs), max(run["endTime"] for run in runs) - min(run["startTime"] for run in runs)
