"""Materialization metadata shared by the assets."""

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
from dagster import MetadataValue, TableRecord

from mta_assets.lib.turnstile_table import TABLE_SCHEMA

PREVIEW_ROWS = 5


def dates_covered(first: datetime | None, last: datetime | None) -> str:
    return f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if first and last else "none"


def reading_range(table: pa.Table) -> tuple[datetime | None, datetime | None]:
    bounds = pc.min_max(table["reading_at"]).as_py()
    return bounds["min"], bounds["max"]


def preview(table: pa.Table) -> MetadataValue:
    """The first rows as a Dagster table, values as the UI shows them."""
    records = [
        TableRecord({name: value if isinstance(value, (int, float, str)) else str(value) for name, value in row.items()})
        for row in table.slice(0, PREVIEW_ROWS).to_pylist()
    ]
    return MetadataValue.table(records=records, schema=TABLE_SCHEMA)
