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


def with_station_names(readings: pa.Table | pa.RecordBatch) -> tuple[pa.Table, int]:
    """`readings` with empty station, line_name and division filled from the key, by (unit, control_area).

    Names the readings already have are kept. Returns the readings, in the same order, and how many of
    them still have no station (their unit and booth are not in the key).
    """
    readings = readings if isinstance(readings, pa.Table) else pa.Table.from_batches([readings])
    position = pa.array(range(readings.num_rows), pa.int64())
    keyed = readings.select(["unit", "control_area"]).append_column("position", position)
    joined = keyed.join(station_key(), keys=["unit", "control_area"], join_type="left outer").sort_by("position")
    columns = {name: readings[name] for name in readings.column_names}
    for name in _NAMES:
        own = pc.fill_null(readings[name], "")
        columns[name] = pc.if_else(pc.greater(pc.utf8_length(own), 0), own, pc.fill_null(joined[name], ""))
    named = pa.table(columns, schema=readings.schema)
    unknown = pc.sum(pc.equal(pc.utf8_length(named["station"]), 0)).as_py() or 0
    return named, unknown
