import os
from datetime import date

import pytest
from dagster._core.storage.defs_state.base import DefsStateStorage

from loopback.http_mirror import HttpMirror
from loopback.soda_server import SodaServer
from loopback.turnstile_files import week_file
from mta_assets_tests.lib.project import GENERATED_WEEK_MIN_DEVICES
from mta_assets_tests.lib.warehouses import bigquery_warehouse

# The every_log fixture (mta_assets_tests/lib/logs.py), for the tests that no secret reaches a log.
pytest_plugins = ["mta_assets_tests.lib.logs"]

WEEK = date(2023, 6, 3)

# The Dagster processes the tests start (dg dev, the CLI) read settings from the environment: the small
# generated weeks hold tens of turnstiles, so they are held to the same floor as in-process runs.
os.environ.setdefault("MTA_MIN_WEEK_DEVICES", str(GENERATED_WEEK_MIN_DEVICES))


@pytest.fixture(autouse=True)
def no_dagster_instance_left_open():
    """Fails the test that leaves a Dagster instance open, as a `build_schedule_context` or
    `build_input_context` not closed with `with` does. An open instance is the current one for every
    later definitions load (`materialize` too) until garbage collection closes it, at a moment and in a
    thread nobody chose; closed in another thread or out of order, it stays current while Dagster frees
    it, and every later load fails with "Attempted to resolve undefined DagsterInstance weakref"."""
    current_before = DefsStateStorage.get()
    yield
    assert DefsStateStorage.get() is current_before, "this test left a Dagster instance open: close the context that opened it with `with`"


@pytest.fixture
def mirror():
    """A loopback HTTP server; tests add files and misbehaviours to it."""
    server = HttpMirror().start()
    yield server
    server.stop()


@pytest.fixture
def soda():
    """A SODA-like server on loopback (NY Open Data's API); tests add datasets and misbehaviours to it."""
    server = SodaServer().start()
    yield server
    server.stop()


@pytest.fixture
def week_bytes() -> bytes:
    return week_file(WEEK, turnstile_count=40, crlf=True)


@pytest.fixture(scope="session")
def gcs_emulator(emulator_root, tmp_path_factory):
    """The Go fake-gcs-server on loopback; STORAGE_EMULATOR_HOST points the GCS client at it."""
    from loopback.emulators import fake_gcs_server

    with fake_gcs_server(emulator_root, tmp_path_factory.mktemp("gcs") / "server.log") as url:
        previous = os.environ.get("STORAGE_EMULATOR_HOST")
        os.environ["STORAGE_EMULATOR_HOST"] = url
        try:
            yield url
        finally:
            if previous is None:
                os.environ.pop("STORAGE_EMULATOR_HOST", None)
            else:
                os.environ["STORAGE_EMULATOR_HOST"] = previous


@pytest.fixture
def gcs_bucket(gcs_emulator, request):
    """A fresh bucket in the emulator, named after the test."""
    from google.cloud import storage

    name = "mta-" + "".join(c for c in request.node.name.lower() if c.isalnum())[:40]
    bucket = storage.Client().create_bucket(name)
    yield bucket.name
    bucket.delete(force=True)


@pytest.fixture(scope="session")
def emulator_root(tmp_path_factory):
    """Where the GCS emulator keeps objects (root/bucket/name) and where bqemulator resolves gs:// URIs."""
    return tmp_path_factory.mktemp("gcs-objects")


@pytest.fixture(scope="session")
def bigquery_endpoint(emulator_root, tmp_path_factory):
    """bqemulator on loopback: its API endpoint, for MTA_BQ_API_ENDPOINT."""
    from loopback.emulators import bigquery_emulator

    with bigquery_emulator(emulator_root, tmp_path_factory.mktemp("bigquery") / "server.log") as url:
        yield url


@pytest.fixture(params=["duckdb", pytest.param("bigquery", marks=pytest.mark.slow)])
def warehouse(request, tmp_path):
    """Each warehouse in turn: a DuckDB file, then (slow: it starts the emulator) a dataset on bqemulator."""
    from mta_assets.warehouse import DuckDBWarehouse

    if request.param == "duckdb":
        return DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    return bigquery_warehouse(request.getfixturevalue("bigquery_endpoint"))


EMULATOR_FIXTURES = {"gcs_emulator", "gcs_bucket", "bigquery_endpoint"}


def pytest_collection_modifyitems(items):
    """`pytest -m "not slow"` starts no emulator: a test that uses one must be marked slow."""
    unmarked = [item.nodeid for item in items if EMULATOR_FIXTURES & set(item.fixturenames) and not item.get_closest_marker("slow")]
    if unmarked:
        raise pytest.UsageError(f"these tests start an emulator but are not marked slow: {unmarked}")
