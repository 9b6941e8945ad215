"""Bad configuration is caught when the definitions load, with the setting named."""

import pytest
from dagster import EnvVar
from dagster_gcp import BigQueryResource, GCSResource

from mta_assets.lib.errors import ConfigurationError
from mta_assets.settings import (
    alert_webhook_from_env,
    asset_kinds,
    hourly_source_from_env,
    lake_from_env,
    open_data_from_env,
    source_from_env,
    warehouse_from_env,
)
from mta_assets.warehouse import BigQueryWarehouse, DuckDBWarehouse


def test_defaults_are_the_local_lake_and_duckdb():
    lake = lake_from_env({})
    assert (lake.url, lake.format) == ("data/lake", "parquet")
    assert isinstance(lake.gcs, GCSResource)
    assert isinstance(warehouse_from_env({}), DuckDBWarehouse)
    assert warehouse_from_env({}).memory_limit == "128MB"
    assert warehouse_from_env({"MTA_DUCKDB_MEMORY_LIMIT": "1GB"}).memory_limit == EnvVar("MTA_DUCKDB_MEMORY_LIMIT")
    assert source_from_env({}).base_url == "http://web.mta.info/developers/data/nyct/turnstile"
    assert asset_kinds({}) == {"lake": {"local", "parquet"}, "warehouse": {"duckdb"}, "ridership": {"duckdb", "sql"}}


def test_set_variables_are_bound_by_name():
    lake = lake_from_env({"MTA_LAKE_URL": "gs://bucket/lake", "MTA_LAKE_FORMAT": "csv.gz", "MTA_GCP_PROJECT": "p"})
    assert (lake.url, lake.format, lake.gcs.project) == (EnvVar("MTA_LAKE_URL"), EnvVar("MTA_LAKE_FORMAT"), EnvVar("MTA_GCP_PROJECT"))
    assert source_from_env({"MTA_SOURCE_URL": "file:///srv/mta"}).base_url == EnvVar("MTA_SOURCE_URL")


def test_the_shares_default_to_one_percent_and_take_the_variables():
    assert (source_from_env({}).max_rejected_share, source_from_env({}).max_duplicate_share) == (0.01, 0.01)
    source = source_from_env({"MTA_MAX_REJECTED_SHARE": "0.02", "MTA_MAX_DUPLICATE_SHARE": "0.05"})
    assert (source.max_rejected_share, source.max_duplicate_share) == (0.02, 0.05)


def test_bigquery_is_reached_through_dagster_gcp_with_its_settings():
    warehouse = warehouse_from_env(
        {"MTA_WAREHOUSE": "bigquery", "MTA_BQ_PROJECT": "p", "MTA_BQ_DATASET": "d", "MTA_GCP_CREDENTIALS": "e30="}
    )
    assert isinstance(warehouse, BigQueryWarehouse)
    assert isinstance(warehouse.bigquery, BigQueryResource)
    assert warehouse.dataset == EnvVar("MTA_BQ_DATASET")
    assert (warehouse.bigquery.project, warehouse.bigquery.location, warehouse.bigquery.gcp_credentials) == (
        EnvVar("MTA_BQ_PROJECT"),
        "US",
        EnvVar("MTA_GCP_CREDENTIALS"),
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MTA_LAKE_FORMAT": "json"}, "MTA_LAKE_FORMAT='json'"),
        ({"MTA_LAKE_URL": "gs://"}, "MTA_LAKE_URL='gs://' is not a valid gs:// URL"),
    ],
)
def test_bad_lake_settings_are_refused_with_the_setting_named(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        lake_from_env(environ)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MTA_WAREHOUSE": "bigquery"}, "needs MTA_BQ_PROJECT and MTA_BQ_DATASET"),
        ({"MTA_WAREHOUSE": "bigquery", "MTA_BQ_PROJECT": "p"}, "needs MTA_BQ_DATASET"),
        ({"MTA_WAREHOUSE": "snowflake"}, "MTA_WAREHOUSE='snowflake' is not a warehouse"),
        (
            {"MTA_WAREHOUSE": "bigquery", "MTA_BQ_PROJECT": "p", "MTA_BQ_DATASET": "d", "MTA_BQ_API_ENDPOINT": "localhost:9050"},
            r"MTA_BQ_API_ENDPOINT='localhost:9050' is not an http\(s\):// URL",
        ),
        (
            {"MTA_WAREHOUSE": "bigquery", "MTA_BQ_PROJECT": "p", "MTA_BQ_DATASET": "d", "MTA_GCP_CREDENTIALS": "{not base64}"},
            "MTA_GCP_CREDENTIALS is not a base64-encoded JSON key",
        ),
    ],
)
def test_bad_warehouse_settings_are_refused_with_the_setting_named(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        warehouse_from_env(environ)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MTA_MAX_REJECTED_SHARE": "lots"}, "MTA_MAX_REJECTED_SHARE='lots'"),
        ({"MTA_MAX_REJECTED_SHARE": "1.5"}, "MTA_MAX_REJECTED_SHARE='1.5'"),
        ({"MTA_MAX_DUPLICATE_SHARE": "abc"}, "MTA_MAX_DUPLICATE_SHARE='abc' is not a share between 0 and 1"),
        ({"MTA_MAX_DUPLICATE_SHARE": "2"}, "MTA_MAX_DUPLICATE_SHARE='2' is not a share between 0 and 1"),
        ({"MTA_MAX_DUPLICATE_SHARE": "-1"}, "MTA_MAX_DUPLICATE_SHARE='-1' is not a share between 0 and 1"),
        ({"MTA_SOURCE_URL": "127.0.0.1:8765"}, r"MTA_SOURCE_URL='127.0.0.1:8765' is not an http\(s\):// or file:// URL"),
        ({"MTA_SOURCE_URL": "ftp://example.org/turnstile"}, "MTA_SOURCE_URL='ftp://example.org/turnstile'"),
        ({"MTA_SOURCE_URL": "http://"}, "MTA_SOURCE_URL='http://'"),
        ({"MTA_SOURCE_URL": "ftp://me:pw@mirror/t?token=s"}, r"MTA_SOURCE_URL='ftp://mirror/t\?token=\*\*\*' is not"),
    ],
)
def test_bad_source_settings_are_refused_with_the_setting_named(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        source_from_env(environ)


def test_open_data_defaults_to_data_ny_gov_without_a_token():
    source = open_data_from_env({})
    assert (source.base_url, source.app_token) == ("https://data.ny.gov", "")
    assert (source.deadline_seconds, source.max_rejected_share, source.max_duplicate_share) == (900.0, 0.01, 0.01)


@pytest.mark.parametrize("from_env", [open_data_from_env, hourly_source_from_env], ids=["turnstile", "hourly"])
def test_open_data_settings_are_bound_by_name_the_token_never_by_value(from_env):
    source = from_env(
        {"MTA_OPEN_DATA_URL": "http://127.0.0.1:8000", "MTA_SOCRATA_APP_TOKEN": "s3cr3t", "MTA_DOWNLOAD_DEADLINE_SECONDS": "60"}
    )
    assert (source.base_url, source.app_token) == (EnvVar("MTA_OPEN_DATA_URL"), EnvVar("MTA_SOCRATA_APP_TOKEN"))
    assert source.deadline_seconds == 60.0


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MTA_OPEN_DATA_URL": "data.ny.gov"}, r"MTA_OPEN_DATA_URL='data.ny.gov' is not an http\(s\):// URL"),
        ({"MTA_OPEN_DATA_URL": "file:///srv/open-data"}, "MTA_OPEN_DATA_URL='file:///srv/open-data' is not"),
        ({"MTA_OPEN_DATA_URL": "ftp://me:pw@data.ny.gov"}, r"MTA_OPEN_DATA_URL='ftp://data.ny.gov' is not"),
        ({"MTA_DOWNLOAD_DEADLINE_SECONDS": "soon"}, "MTA_DOWNLOAD_DEADLINE_SECONDS='soon'"),
        ({"MTA_MAX_DUPLICATE_SHARE": "2"}, "MTA_MAX_DUPLICATE_SHARE='2' is not a share between 0 and 1"),
    ],
)
@pytest.mark.parametrize("from_env", [open_data_from_env, hourly_source_from_env], ids=["turnstile", "hourly"])
def test_bad_open_data_settings_are_refused_with_the_setting_named(environ, message, from_env):
    with pytest.raises(ConfigurationError, match=message):
        from_env(environ)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MTA_ALERT_WEBHOOK_URL": "hooks.slack.com/services/x"}, r"MTA_ALERT_WEBHOOK_URL \(its value is not shown: its path is a secret\) is not"),
        ({"MTA_ALERT_WEBHOOK_URL": "ftp://hooks.example/services/x"}, "MTA_ALERT_WEBHOOK_URL='ftp://hooks.example' is not"),
        ({"MTA_DAGSTER_UI_URL": "dagster:3000"}, "MTA_DAGSTER_UI_URL='dagster:3000' is not an http"),
    ],
)
def test_bad_alert_settings_are_refused_with_the_setting_named(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        alert_webhook_from_env(environ)


def test_the_code_location_does_not_load_with_a_bad_setting(monkeypatch):
    """The settings are read when the definitions load, not when a run starts."""
    from dagster.components.core.component_tree import ComponentTreeException

    from mta_assets.definitions import defs

    monkeypatch.setenv("MTA_SOURCE_URL", "127.0.0.1:8765")
    with pytest.raises(ComponentTreeException, match="resources.py") as raised:
        defs()
    assert isinstance(raised.value.__cause__, ConfigurationError)
    assert "MTA_SOURCE_URL='127.0.0.1:8765'" in str(raised.value.__cause__)


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("MTA_DUCKDB_PATH", "{tmp}", r"MTA_DUCKDB_PATH='.*' is a folder: point it at a DuckDB database file"),
        ("MTA_DUCKDB_PATH", "/sys/mta/warehouse.duckdb", r"MTA_DUCKDB_PATH='/sys/mta/warehouse.duckdb' cannot be written \(in /sys\)"),
        ("MTA_LAKE_URL", "{tmp}/file", r"MTA_LAKE_URL='.*/file' is a file: point it at a folder this user can write"),
        ("MTA_LAKE_URL", "/sys/mta-lake", r"MTA_LAKE_URL='/sys/mta-lake' cannot be written \(in /sys\)"),
    ],
)
def test_a_warehouse_file_or_lake_folder_that_cannot_be_written_is_named(tmp_path, variable, value, message):
    # /sys refuses new files even to root, who ignores permission bits: a place no user can write.
    (tmp_path / "file").write_text("")
    environ = {variable: value.format(tmp=tmp_path)}
    with pytest.raises(ConfigurationError, match=message):
        lake_from_env(environ) if variable == "MTA_LAKE_URL" else warehouse_from_env(environ)
