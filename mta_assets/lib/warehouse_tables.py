"""The tables the ridership assets build inside the warehouse: columns once, for DuckDB and BigQuery."""

from dataclasses import dataclass

from dagster import TableColumn, TableSchema

from mta_assets.lib.turnstile_table import COLUMNS as TURNSTILE_COLUMNS


@dataclass(frozen=True)
class WarehouseColumn:
    name: str
    duckdb_type: str
    bigquery_type: str
    description: str


@dataclass(frozen=True)
class WarehouseTable:
    """A table partitioned by `week_ending`, replaced a week at a time."""

    name: str
    columns: tuple[WarehouseColumn, ...]
    clustering: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def table_schema(self) -> TableSchema:
        return TableSchema(
            columns=[TableColumn(column.name, column.bigquery_type, description=column.description) for column in self.columns]
        )


# The loaded readings; station queries filter on the unit (station), then the booth and turnstile.
TURNSTILE = WarehouseTable(
    "turnstile",
    tuple(WarehouseColumn(c.name, c.duckdb_type, c.bigquery_type, c.description) for c in TURNSTILE_COLUMNS),
    clustering=("unit", "control_area", "scp"),
)

WEEK_ENDING = WarehouseColumn("week_ending", "DATE", "DATE", "The Saturday of the MTA file the rows come from.")
SERVICE_DATE = WarehouseColumn("service_date", "DATE", "DATE", "The day the riders passed (the closing reading's date).")
STATION_ID = WarehouseColumn("station_id", "VARCHAR", "STRING", "The MTA remote unit (R051): one station, unlike its name.")
STATION = WarehouseColumn("station", "VARCHAR", "STRING", "Station name as the MTA writes it; not unique (23 ST).")
LINE_NAME = WarehouseColumn("line_name", "VARCHAR", "STRING", "Lines serving the station.")
ENTRIES = WarehouseColumn("entries", "BIGINT", "INT64", "People who entered, from counter differences.")
EXITS = WarehouseColumn("exits", "BIGINT", "INT64", "People who left, from counter differences.")

STATIONS = WarehouseTable(
    "stations",
    (
        WEEK_ENDING,
        STATION_ID,
        STATION,
        LINE_NAME,
        WarehouseColumn("division", "VARCHAR", "STRING", "BMT, IND, IRT, PTH, SRT or RIT."),
        WarehouseColumn("control_areas", "BIGINT", "INT64", "Booths (control areas) reporting that week."),
        WarehouseColumn("turnstiles", "BIGINT", "INT64", "Turnstiles reporting that week."),
    ),
    clustering=("station_id",),
)

STATION_DAILY_RIDERSHIP = WarehouseTable(
    "station_daily_ridership",
    (
        WEEK_ENDING,
        SERVICE_DATE,
        STATION_ID,
        STATION,
        LINE_NAME,
        ENTRIES,
        EXITS,
        WarehouseColumn("intervals", "BIGINT", "INT64", "Reading intervals counted."),
        WarehouseColumn("excluded_intervals", "BIGINT", "INT64", "Intervals left out: resets, backwards counters, jumps."),
    ),
    clustering=("station_id", "service_date"),
)

SYSTEM_RIDERSHIP = WarehouseTable(
    "system_ridership",
    (
        WEEK_ENDING,
        SERVICE_DATE,
        ENTRIES,
        EXITS,
        WarehouseColumn("stations", "BIGINT", "INT64", "Stations with ridership that day."),
    ),
    clustering=("service_date",),
)
