"""The typed turnstile table: one definition used by the parser, the lake and both warehouses."""

from dataclasses import dataclass

import pyarrow as pa
from dagster import TableColumn, TableSchema


@dataclass(frozen=True)
class Column:
    name: str
    source: str | None  # the header field in the MTA file, None when derived
    arrow_type: pa.DataType
    duckdb_type: str
    bigquery_type: str
    description: str


COLUMNS = (
    Column("control_area", "C/A", pa.string(), "VARCHAR", "STRING", "Control area (booth), e.g. A002."),
    Column("unit", "UNIT", pa.string(), "VARCHAR", "STRING", "Remote unit; identifies a station, e.g. R051."),
    Column("scp", "SCP", pa.string(), "VARCHAR", "STRING", "Subunit channel position: the turnstile within the booth."),
    Column("station", "STATION", pa.string(), "VARCHAR", "STRING", "Station name; not unique (23 ST)."),
    Column("line_name", "LINENAME", pa.string(), "VARCHAR", "STRING", "Lines serving the station, e.g. NQR456W."),
    Column("division", "DIVISION", pa.string(), "VARCHAR", "STRING", "BMT, IND, IRT, PTH, SRT or RIT."),
    # New York local time as printed in the file (DATE + TIME); BigQuery DATETIME, not a UTC TIMESTAMP.
    Column("reading_at", None, pa.timestamp("s"), "TIMESTAMP", "DATETIME", "When the counters were read (New York time)."),
    Column("description", "DESC", pa.string(), "VARCHAR", "STRING", "REGULAR or RECOVR AUD (a recovered audit)."),
    Column("entries", "ENTRIES", pa.int64(), "BIGINT", "INT64", "Cumulative entries counter (odometer)."),
    Column("exits", "EXITS", pa.int64(), "BIGINT", "INT64", "Cumulative exits counter (odometer)."),
    Column("week_ending", None, pa.date32(), "DATE", "DATE", "The Saturday that names the file: the partition key."),
)

COLUMN_NAMES = tuple(column.name for column in COLUMNS)
ARROW_SCHEMA = pa.schema([pa.field(column.name, column.arrow_type) for column in COLUMNS])
TABLE_SCHEMA = TableSchema(
    columns=[
        TableColumn(column.name, column.bigquery_type, description=column.description) for column in COLUMNS
    ]
)
