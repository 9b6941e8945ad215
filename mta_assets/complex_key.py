"""Turnstile units to station complexes: which of the MTA's station complexes each remote unit belongs to.

Hourly ridership counts by station complex (`station_complex_id`, the MTA's Complex ID); turnstile
counters by remote unit (R051). The key between them is qri-io/data-stories-scripts'
remote_complex_lookup.csv, shipped with the package (station_keys/, with its source). A unit it does not
map (PATH, the Roosevelt Island Tram, a unit it lacks) keeps no complex: daily_ridership counts it under
none and reports it, never drops it.
"""

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import pyarrow as pa
import pyarrow.csv as pv

KEY_FILE = "remote_complex_lookup.csv"


@dataclass(frozen=True)
class UnitComplex:
    unit: str
    station_complex_id: str
    station_complex: str  # the complex's station names as the turnstile files write them, joined by '/'


@cache
def unit_complexes() -> tuple[UnitComplex, ...]:
    """Every unit of the key that has a complex id, by unit: one complex per unit."""
    with (files("mta_assets.station_keys") / KEY_FILE).open("rb") as source:
        key = pv.read_csv(source, convert_options=pv.ConvertOptions(strings_can_be_null=False, column_types={
            name: pa.string() for name in ("remote ", "booth", "complex_id", "station", "line_name", "division")
        }))  # fmt: skip
    # The header is `remote ,booth,...`: names are trimmed, like every value.
    rows = [{name.strip(): value.strip() for name, value in row.items()} for row in key.to_pylist()]
    complex_of = {row["remote"]: row["complex_id"] for row in rows if row["complex_id"]}
    stations: dict[str, set[str]] = {}
    for row in rows:
        if row["complex_id"]:
            stations.setdefault(row["complex_id"], set()).add(row["station"])
    return tuple(
        UnitComplex(unit, complex_id, "/".join(sorted(stations[complex_id]))) for unit, complex_id in sorted(complex_of.items())
    )
