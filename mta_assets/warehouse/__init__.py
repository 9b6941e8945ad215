"""The warehouse: DuckDB on a laptop, BigQuery in production, behind one resource interface."""

from mta_assets.warehouse.base import Warehouse, WeekLoad
from mta_assets.warehouse.bigquery import BigQueryWarehouse
from mta_assets.warehouse.duckdb import DuckDBWarehouse

__all__ = ["BigQueryWarehouse", "DuckDBWarehouse", "Warehouse", "WeekLoad"]
