"""The README's `dagster asset materialize` command, run as a new user would, against loopback servers."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dagster._core.definitions.run_status_sensor_definition import RunStatusSensorCursor
from dagster._serdes import serialize_value

from mta_assets_tests.lib.warehouses import bigquery_warehouse
from loopback.turnstile_files import week_file

pytestmark = pytest.mark.slow
WEEK = date(2023, 6, 3)
COMMAND = [
    "dagster", "asset", "materialize", "-m", "mta_assets.definitions",
    "--select", "turnstile_lake,turnstile_warehouse", "--partition", "2023-06-03",
]


def materialize(cwd: Path, **settings: str) -> subprocess.CompletedProcess:
    dagster_home = cwd / "dagster_home"
    dagster_home.mkdir(exist_ok=True)
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), **settings}
    dagster = Path(sys.executable).with_name("dagster")
    return subprocess.run([str(dagster), *COMMAND[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def served_week(mirror) -> int:
    """The week's file on the mirror; returns its number of data lines."""
    data = week_file(WEEK, turnstile_count=120, crlf=True)
    mirror.files["turnstile_230603.txt"] = data
    return data.count(b"\n") - 1


def duckdb_rows(cwd: Path) -> int:
    with duckdb.connect(str(cwd / "data/warehouse.duckdb"), read_only=True) as connection:
        return connection.execute("SELECT count(*) FROM mta.turnstile WHERE week_ending = DATE '2023-06-03'").fetchone()[0]


@pytest.mark.parametrize("lake_format", ["parquet", "csv.gz"])
def test_the_cli_loads_a_week_once_into_the_embedded_defaults(mirror, served_week, tmp_path, lake_format):
    for _ in range(2):
        run = materialize(tmp_path, MTA_SOURCE_URL=mirror.url, MTA_LAKE_FORMAT=lake_format)
        assert run.returncode == 0, run.stderr[-3000:]
        assert duckdb_rows(tmp_path) == served_week
    assert sorted(path.name for path in (tmp_path / "data/lake").iterdir()) == [f"turnstile_230603.{lake_format}"]


def test_the_cli_with_the_lake_on_gcs(mirror, served_week, tmp_path, gcs_bucket):
    for _ in range(2):
        run = materialize(tmp_path, MTA_SOURCE_URL=mirror.url, MTA_LAKE_URL=f"gs://{gcs_bucket}/mta/lake")
        assert run.returncode == 0, run.stderr[-3000:]
        assert duckdb_rows(tmp_path) == served_week
    from google.cloud import storage

    assert [blob.name for blob in storage.Client().list_blobs(gcs_bucket)] == ["mta/lake/turnstile_230603.parquet"]


@pytest.mark.parametrize("lake", ["local", "gcs"])
def test_the_cli_with_the_warehouse_on_bigquery(mirror, served_week, tmp_path, bigquery_endpoint, request, lake):
    warehouse = bigquery_warehouse(bigquery_endpoint)
    settings = {
        "MTA_SOURCE_URL": mirror.url,
        "MTA_WAREHOUSE": "bigquery",
        "MTA_BQ_PROJECT": "mta-test",
        "MTA_BQ_DATASET": warehouse.dataset,
        "MTA_BQ_API_ENDPOINT": bigquery_endpoint,
    }
    if lake == "gcs":
        settings["MTA_LAKE_URL"] = f"gs://{request.getfixturevalue('gcs_bucket')}/lake"
    for _ in range(2):
        run = materialize(tmp_path, **settings)
        assert run.returncode == 0, run.stderr[-3000:]
        assert warehouse.week_row_counts([WEEK])[WEEK] == served_week


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"MTA_LAKE_FORMAT": "xlsx"}, "MTA_LAKE_FORMAT='xlsx' is not a lake format"),
        ({"MTA_LAKE_URL": "gs:/bucket"}, "MTA_LAKE_URL='gs:/bucket' is not a valid gs:// URL"),
        ({"MTA_WAREHOUSE": "bigquery"}, "MTA_WAREHOUSE=bigquery needs MTA_BQ_PROJECT and MTA_BQ_DATASET"),
        ({"MTA_SOURCE_URL": "127.0.0.1:8765"}, "MTA_SOURCE_URL='127.0.0.1:8765' is not an http(s):// or file:// URL"),
    ],
)
def test_bad_settings_stop_the_cli_before_anything_runs(mirror, served_week, tmp_path, settings, message):
    run = materialize(tmp_path, **{"MTA_SOURCE_URL": mirror.url, **settings})
    assert run.returncode != 0
    assert message in run.stderr
    assert sum(mirror.requests.values()) == 0
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("key", ["2099-01-03", "2023-06-04"])
def test_a_future_week_or_a_sunday_is_refused_by_the_cli(mirror, tmp_path, key):
    """Dagster itself refuses a key that is not a partition, before the project's code runs (README)."""
    dagster = Path(sys.executable).with_name("dagster")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "MTA_SOURCE_URL": mirror.url}
    command = [str(dagster), *COMMAND[1:-1], key]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert f"Could not find a partition with key `{key}`" in run.stderr
    assert sum(mirror.requests.values()) == 0


def test_a_failed_cli_run_is_posted_by_the_alert_sensor_of_the_same_instance(mirror, tmp_path):
    """The week is not on the mirror, so the run fails (404). `dagster sensor preview` evaluates the alert
    sensor as the daemon does, in the code location, against the same DAGSTER_HOME, from the first event."""
    run = materialize(tmp_path, MTA_SOURCE_URL=mirror.url)
    assert run.returncode != 0
    dagster = Path(sys.executable).with_name("dagster")
    from_the_start = serialize_value(RunStatusSensorCursor(record_id=0, record_timestamp=None))
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home"), "MTA_SOURCE_URL": mirror.url, "MTA_ALERT_WEBHOOK_URL": f"{mirror.url}/hook"}
    preview = subprocess.run(
        [str(dagster), "sensor", "preview", "run_failure_alert", "-m", "mta_assets.definitions", "--cursor", from_the_start],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert preview.returncode == 0, preview.stderr[-3000:]
    (body,) = [json.loads(post) for post in mirror.posts]
    assert "turnstile_lake, turnstile_warehouse, week 2023-06-03" in body["text"]
    assert "is not published (HTTP 404)" in body["text"]
