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


# The turnstile divisions that are not the subway, as hourly ridership's transit_mode names them.
_TRANSIT_MODES = {"SRT": "staten_island_railway", "RIT": "tram"}


@dataclass(frozen=True)
class UnitComplex:
    unit: str
    station_complex_id: str
    station_complex: str  # the complex's station names as the turnstile files write them, joined by '/'
    transit_mode: str  # subway, staten_island_railway or tram, from the unit's division


@cache
def _key_rows() -> tuple[dict[str, str], ...]:
    with (files("mta_assets.station_keys") / KEY_FILE).open("rb") as source:
        key = pv.read_csv(source, convert_options=pv.ConvertOptions(strings_can_be_null=False, column_types={
            name: pa.string() for name in ("remote ", "booth", "complex_id", "station", "line_name", "division")
        }))  # fmt: skip
    # The header is `remote ,booth,...`: names are trimmed, like every value.
    return tuple({name.strip(): value.strip() for name, value in row.items()} for row in key.to_pylist())


def key_units() -> frozenset[str]:
    """Every unit the key knows, with a complex id or without one (PATH, the tram)."""
    return frozenset(row["remote"] for row in _key_rows())


@cache
def unit_complexes() -> tuple[UnitComplex, ...]:
    """Every unit of the key that has a complex id, by unit: one complex per unit."""
    rows = [row for row in _key_rows() if row["complex_id"]]
    of_unit = {row["remote"]: row for row in rows}
    stations: dict[str, set[str]] = {}
    for row in rows:
        stations.setdefault(row["complex_id"], set()).add(row["station"])
    return tuple(
        UnitComplex(
            unit,
            row["complex_id"],
            "/".join(sorted(stations[row["complex_id"]])),
            _TRANSIT_MODES.get(row["division"], "subway"),
        )
        for unit, row in sorted(of_unit.items())
    )
