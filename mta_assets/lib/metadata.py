"""Materialization metadata shared by the assets."""

from collections.abc import Iterable
from datetime import datetime

from dagster import AssetKey, MetadataValue, TableColumnDep, TableColumnLineage, TableRecord

from mta_assets.lib.tables import TURNSTILE, Table


def dates_covered(first: datetime | None, last: datetime | None) -> str:
    return f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if first and last else "none"


def preview(rows: Iterable[dict]) -> MetadataValue:
    """Turnstile rows as a Dagster table, values as the UI shows them."""
    records = [
        TableRecord({name: value if isinstance(value, (int, float, str)) else str(value) for name, value in row.items()})
        for row in rows
    ]
    return MetadataValue.table(records=records, schema=TURNSTILE.table_schema)


def lineage(sources: dict[str, tuple[AssetKey, str] | list[tuple[AssetKey, str]]]) -> TableColumnLineage:
    """Column lineage: each column from one (asset, column), or from several."""
    return TableColumnLineage(
        deps_by_column={
            column: [TableColumnDep(asset_key=key, column_name=name) for key, name in (deps if isinstance(deps, list) else [deps])]
            for column, deps in sources.items()
        }
    )


def same_columns(table: Table, upstream: AssetKey) -> TableColumnLineage:
    """Column lineage of a table loaded whole from `upstream`'s table of the same columns."""
    return lineage({name: (upstream, name) for name in table.column_names})
