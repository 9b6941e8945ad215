"""Every table mta_assets writes, defined once: columns, types and descriptions.

The parser builds its Arrow schema from here, both warehouses their DDL, and the assets the column
schema shown in the UI. DuckDB and BigQuery types follow from the Arrow type.
"""

from dataclasses import dataclass
from datetime import date

import pyarrow as pa
from dagster import TableColumn, TableSchema

# Arrow type -> (DuckDB, BigQuery). A timestamp without a zone is New York local time as the MTA prints
# it: BigQuery DATETIME, not a UTC TIMESTAMP.
_SQL_TYPES = {
    pa.string(): ("VARCHAR", "STRING"),
    pa.int64(): ("BIGINT", "INT64"),
    pa.date32(): ("DATE", "DATE"),
    pa.timestamp("s"): ("TIMESTAMP", "DATETIME"),
    pa.float64(): ("DOUBLE", "FLOAT64"),
}


@dataclass(frozen=True)
class Column:
    name: str
    arrow_type: pa.DataType
    description: str
    source: str | None = None  # the header field of the MTA file it is read from, if any

    @property
    def duckdb_type(self) -> str:
        return _SQL_TYPES[self.arrow_type][0]

    @property
    def bigquery_type(self) -> str:
        return _SQL_TYPES[self.arrow_type][1]


@dataclass(frozen=True)
class Table:
    """A warehouse table partitioned by `week_ending` and replaced a week at a time."""

    name: str
    columns: tuple[Column, ...]
    clustering: tuple[str, ...]
    time_column: str = "week_ending"  # the column whose first and last values a load reports

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def count_columns(self) -> list[str]:
        """The columns whose sums a lost, doubled or altered row changes."""
        return [column.name for column in self.columns if column.arrow_type == pa.int64()]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(column.name, column.arrow_type) for column in self.columns])

    @property
    def table_schema(self) -> TableSchema:
        return TableSchema(
            columns=[TableColumn(column.name, column.bigquery_type, description=column.description) for column in self.columns]
        )


def _text(name: str, description: str, source: str | None = None) -> Column:
    return Column(name, pa.string(), description, source)


def _count(name: str, description: str, source: str | None = None) -> Column:
    return Column(name, pa.int64(), description, source)


WEEK_ENDING = Column("week_ending", pa.date32(), "The Saturday that names the MTA file the rows come from: the partition key.")
SERVICE_DATE = Column("service_date", pa.date32(), "The day the riders passed (the closing reading's date).")
STATION_ID = _text("station_id", "The MTA remote unit (R051): one station, unlike its name.")
STATION = _text("station", "Station name as the MTA writes it; not unique (23 ST).", "STATION")
LINE_NAME = _text("line_name", "Lines serving the station, e.g. NQR456W.", "LINENAME")
DIVISION = _text("division", "BMT, IND, IRT, PTH, SRT or RIT.", "DIVISION")

# The readings as the MTA publishes them; station queries filter on the unit, then booth and turnstile.
TURNSTILE = Table(
    "turnstile",
    (
        _text("control_area", "Control area (booth), e.g. A002.", "C/A"),
        _text("unit", "Remote unit; identifies a station, e.g. R051.", "UNIT"),
        _text("scp", "Subunit channel position: the turnstile within the booth.", "SCP"),
        STATION,
        LINE_NAME,
        DIVISION,
        Column("reading_at", pa.timestamp("s"), "When the counters were read (New York time, DATE + TIME)."),
        _text("description", "REGULAR or RECOVR AUD (a recovered audit).", "DESC"),
        _count("entries", "Cumulative entries counter (odometer).", "ENTRIES"),
        _count("exits", "Cumulative exits counter (odometer).", "EXITS"),
        WEEK_ENDING,
    ),
    clustering=("unit", "control_area", "scp"),
    time_column="reading_at",
)

STATIONS = Table(
    "stations",
    (
        WEEK_ENDING,
        STATION_ID,
        STATION,
        LINE_NAME,
        DIVISION,
        _count("control_areas", "Booths (control areas) reporting that week."),
        _count("turnstiles", "Turnstiles reporting that week."),
    ),
    clustering=("station_id",),
)

STATION_DAILY_RIDERSHIP = Table(
    "station_daily_ridership",
    (
        WEEK_ENDING,
        SERVICE_DATE,
        STATION_ID,
        STATION,
        LINE_NAME,
        _count("entries", "People who entered, from counter differences."),
        _count("exits", "People who left, from counter differences."),
        _count("intervals", "Reading intervals counted."),
        _count("excluded_intervals", "Intervals left out: resets, backwards counters, jumps."),
    ),
    clustering=("station_id", "service_date"),
)

SYSTEM_RIDERSHIP = Table(
    "system_ridership",
    (
        WEEK_ENDING,
        SERVICE_DATE,
        _count("entries", "People who entered the subway that day."),
        _count("exits", "People who left the subway that day."),
        _count("stations", "Stations with ridership that day."),
    ),
    clustering=("service_date",),
)

STATION_COMPLEX_ID = _text("station_complex_id", "The MTA's station complex id (611; TRAM1): one or more stations joined by transfers.")
STATION_COMPLEX = _text("station_complex", "The station complex's name, e.g. Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E).")

# NY Open Data's MTA Subway Hourly Ridership, one row per station complex, hour, payment method and fare
# class, as its current version has them; older versions' fields are normalised to these (see
# mta_assets/hourly/source.py).
HOURLY_RIDERSHIP = Table(
    "hourly_ridership",
    (
        Column("transit_timestamp", pa.timestamp("s"), "The hour the riders entered (New York time, rounded down to the hour)."),
        _text("transit_mode", "subway, tram or staten_island_railway; empty where the dataset's version has no such field."),
        STATION_COMPLEX_ID,
        STATION_COMPLEX,
        _text("borough", "Borough of the station complex."),
        _text("payment_method", "omny or metrocard."),
        _text("fare_class_category", "e.g. OMNY - Full Fare; empty where the dataset's version has no such field."),
        _count("ridership", "Entries (swipes and taps) in the hour: riders, not exits."),
        _count("transfers", "Entries that were free transfers (a subset of ridership)."),
        Column("latitude", pa.float64(), "Latitude of the station complex."),
        Column("longitude", pa.float64(), "Longitude of the station complex."),
        _text("dataset_id", "The NY Open Data dataset the row was read from (t69i-h2me, wujg-7c2s, 5wq4-mkjj)."),
        WEEK_ENDING,
    ),
    clustering=("station_complex_id", "transit_timestamp"),
    time_column="transit_timestamp",
)

# OMNY's launch: its contactless readers took their first subway fares on 2019-05-31, at the 16 stations
# of the 4/5/6 between Grand Central-42 St and Atlantic Av-Barclays Ctr (NBC New York, 2019-04-17;
# silive.com, 2019-11-13; ../shared/ny-open-data.md). The turnstile registers count MetroCard entries, not
# OMNY taps, so turnstile entries are the subway's ridership on the service days before it only.
OMNY_LAUNCH = date(2019, 5, 31)

# Both eras in one table: the turnstile's counters by unit, mapped to complexes, and hourly ridership, each
# with what it measures (../shared/ny-open-data.md, "How the sources relate").
DAILY_RIDERSHIP = Table(
    "daily_ridership",
    (
        WEEK_ENDING,
        SERVICE_DATE,
        STATION_COMPLEX_ID,
        STATION_COMPLEX,
        _text("transit_mode", "subway, staten_island_railway or tram (hourly's own, or from the turnstile unit's division)."),
        _text(
            "source",
            "turnstile: counter differences, MetroCard entries registered at the turnstiles (all ridership before "
            f"OMNY's launch on {OMNY_LAUNCH}, MetroCard-only after). hourly: hourly ridership, every fare payment (MetroCard and OMNY).",
        ),
        _count("entries", "People who entered that day, as `source` measures them."),
        _count("exits", "People who left that day (turnstile only: hourly ridership counts no exits)."),
        _count("metrocard_entries", "Entries paid by MetroCard (hourly only); turnstiles count MetroCard entries."),
        _count("units", "Turnstile units (remotes) summed into the complex (turnstile only)."),
    ),
    clustering=("station_complex_id", "service_date"),
)

SYSTEM_DAILY_RIDERSHIP = Table(
    "system_daily_ridership",
    (
        WEEK_ENDING,
        SERVICE_DATE,
        _count(
            "entries",
            "The subway's ridership that day (no Staten Island Railway, no tram), from `source`; NULL on a day from "
            f"OMNY's launch ({OMNY_LAUNCH}) on that only the turnstiles have, as they count MetroCard entries only.",
        ),
        _text(
            "source",
            "Where `entries` come from: hourly (hourly ridership, where it has the day), turnstile (the counters, on a "
            f"day before {OMNY_LAUNCH} hourly lacks) or turnstile_metrocard_only (no `entries`: only a MetroCard-only count).",
        ),
        _count("turnstile_entries", f"Entries registered at the turnstiles (MetroCard only from {OMNY_LAUNCH}), where the feed covers the day."),
        _count("hourly_entries", "Entries from hourly ridership (every fare payment), where it covers the day."),
        _count("hourly_metrocard_entries", "Hourly ridership paid by MetroCard: what the turnstiles count."),
        _count("station_complexes", "Subway station complexes with `entries` that day, from `source`."),
    ),
    clustering=("service_date",),
)
