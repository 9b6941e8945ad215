"""The production instance (deploy/dagster.yaml): a week through lake and warehouse, runs kept in Postgres."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus

from loopback.postgres import postgres_server
from loopback.turnstile_files import week_file

pytestmark = pytest.mark.slow
REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as address:
        if address is None:
            pytest.skip("Debian's postgresql is not installed (.ci/run installs it)")
        yield address


def test_a_week_runs_on_the_production_instance_with_postgres_storage(postgres, mirror, tmp_path, monkeypatch):
    data = week_file(date(2023, 6, 3), turnstile_count=30)
    mirror.files["turnstile_230603.txt"] = data
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPOSITORY / "deploy" / "dagster.yaml").read_text())
    host, port = postgres
    settings = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_HOST": host,
        "DAGSTER_POSTGRES_PORT": str(port),
        "DAGSTER_POSTGRES_DB": "dagster",
        "DAGSTER_POSTGRES_USER": "mta",
        "DAGSTER_POSTGRES_PASSWORD": "mta",
        "MTA_SOURCE_URL": mirror.url,
    }
    run = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "mta_assets.definitions",
         "--select", "turnstile_lake,turnstile_warehouse", "--partition", "2023-06-03"],
        cwd=tmp_path,
        env={**os.environ, **settings},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM mta.turnstile").fetchone()[0] == data.count(b"\n") - 1

    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    instance = DagsterInstance.get()
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        (record,) = instance.get_runs()
        assert record.status == DagsterRunStatus.SUCCESS
        assert instance.get_materialized_partitions(AssetKey("turnstile_warehouse")) == {"2023-06-03"}
    finally:
        instance.dispose()
