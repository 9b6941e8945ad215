"""Bad configuration is caught when the definitions load, with the setting named."""

import pytest
from dagster import EnvVar

from mta_assets.lib.errors import ConfigurationError
from mta_assets.settings import lake_io_manager_from_env, source_from_env, warehouse_from_env
from mta_assets.warehouse import BigQueryWarehouse, DuckDBWarehouse


def test_defaults_are_the_local_lake_and_duckdb():
    lake = lake_io_manager_from_env({})
    assert (lake.url, lake.format) == ("data/lake", "parquet")
    assert isinstance(warehouse_from_env({}), DuckDBWarehouse)
    assert source_from_env({}).base_url == "http://web.mta.info/developers/data/nyct/turnstile"


def test_set_variables_are_bound_by_name():
    lake = lake_io_manager_from_env({"MTA_LAKE_URL": "gs://bucket/lake", "MTA_LAKE_FORMAT": "csv.gz"})
    assert lake.url == EnvVar("MTA_LAKE_URL")
    warehouse = warehouse_from_env({"MTA_WAREHOUSE": "bigquery", "MTA_BQ_PROJECT": "p", "MTA_BQ_DATASET": "d"})
    assert isinstance(warehouse, BigQueryWarehouse)
    assert warehouse.project == EnvVar("MTA_BQ_PROJECT")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MTA_LAKE_FORMAT": "json"}, "MTA_LAKE_FORMAT='json'"),
        ({"MTA_LAKE_URL": "gs://"}, "MTA_LAKE_URL='gs://' is not a valid gs:// URL"),
        ({"MTA_WAREHOUSE": "bigquery"}, "needs MTA_BQ_PROJECT and MTA_BQ_DATASET"),
        ({"MTA_WAREHOUSE": "bigquery", "MTA_BQ_PROJECT": "p"}, "needs MTA_BQ_DATASET"),
        ({"MTA_WAREHOUSE": "snowflake"}, "MTA_WAREHOUSE='snowflake' is not a warehouse"),
        ({"MTA_MAX_REJECTED_SHARE": "lots"}, "MTA_MAX_REJECTED_SHARE='lots'"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        lake_io_manager_from_env(environ)
        warehouse_from_env(environ)
        source_from_env(environ)
