"""The MTA's Remote-Booth-Station key: the station, lines and division of each remote unit and booth.

Legacy weekly files (2010-05 to 2014-10) carry only the booth (C/A) and the remote unit (UNIT) of a
turnstile, and NY Open Data's 2022 turnstile dataset has no station names: both take them from this key,
shipped with the package (station_keys/, with its source).
"""

from functools import cache
from importlib.resources import files

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

KEY_FILE = "Remote-Booth-Station.csv"
# The key's columns, by the turnstile table's names.
_COLUMNS = {"Remote": "unit", "Booth": "control_area", "Station": "station", "Line Name": "line_name", "Division": "division"}
_NAMES = ("station", "line_name", "division")


@cache
def station_key() -> pa.Table:
    """The key as a table: unit, control_area, station, line_name, division (one row per unit and booth)."""
    with (files("mta_assets.station_keys") / KEY_FILE).open("rb") as source:
        table = pv.read_csv(source, convert_options=pv.ConvertOptions(column_types={name: pa.string() for name in _COLUMNS}))
    table = table.rename_columns([_COLUMNS[name.strip()] for name in table.column_names])
    return pa.table({name: pc.utf8_trim_whitespace(table[name]) for name in table.column_names})


# Joins unit and booth into one key: neither holds this control character.
_KEY_SEPARATOR = "\x1f"


@cache
def _unit_and_booth_keys() -> pa.Array:
    """The key's (unit, control_area) pairs as single strings, in the key's order."""
    key = station_key()
    return pc.binary_join_element_wise(key["unit"], key["control_area"], _KEY_SEPARATOR)


def with_station_names(readings: pa.Table | pa.RecordBatch) -> tuple[pa.Table, int]:
    """`readings` with empty station, line_name and division filled from the key, by (unit, control_area).

    Names the readings already have are kept. Returns the readings, in the same order, and how many of
    them still have no station (their unit and booth are not in the key). A hash lookup of each reading's
    unit and booth in the key, not a join: a join loses the readings' order and sorting it back cost about
    a third of a legacy week's parse.
    """
    readings = readings if isinstance(readings, pa.Table) else pa.Table.from_batches([readings])
    reading_keys = pc.binary_join_element_wise(readings["unit"], readings["control_area"], _KEY_SEPARATOR)
    row_in_key = pc.index_in(reading_keys, value_set=_unit_and_booth_keys())
    key = station_key()
    columns = {name: readings[name] for name in readings.column_names}
    for name in _NAMES:
        own = pc.fill_null(readings[name], "")
        columns[name] = pc.if_else(pc.greater(pc.utf8_length(own), 0), own, pc.fill_null(key[name].take(row_in_key), ""))
    named = pa.table(columns, schema=readings.schema)
    unknown = pc.sum(pc.equal(pc.utf8_length(named["station"]), 0)).as_py() or 0
    return named, unknown
