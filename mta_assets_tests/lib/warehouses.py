"""Warehouses for tests: BigQuery on the emulator, through dagster-gcp's resource."""

import uuid

from mta_assets.warehouse import BigQueryWarehouse
from mta_assets.warehouse.bigquery import BigQueryEndpointResource


def bigquery_warehouse(endpoint: str, dataset: str | None = None) -> BigQueryWarehouse:
    """A BigQuery warehouse on the emulator at `endpoint`, in a fresh dataset unless one is named."""
    return BigQueryWarehouse(
        bigquery=BigQueryEndpointResource(project="mta-test", api_endpoint=endpoint),
        dataset=dataset or f"mta_{uuid.uuid4().hex[:8]}",
    )
