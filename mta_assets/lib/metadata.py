"""Materialization metadata shared by the assets."""

from collections.abc import Iterable
from datetime import datetime

from dagster import MetadataValue, TableRecord

from mta_assets.lib.tables import TURNSTILE


def dates_covered(first: datetime | None, last: datetime | None) -> str:
    return f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if first and last else "none"


def preview(rows: Iterable[dict]) -> MetadataValue:
    """Turnstile rows as a Dagster table, values as the UI shows them."""
    records = [
        TableRecord({name: value if isinstance(value, (int, float, str)) else str(value) for name, value in row.items()})
        for row in rows
    ]
    return MetadataValue.table(records=records, schema=TURNSTILE.table_schema)
