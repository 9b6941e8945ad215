"""The Remote-Booth-Station key shipped with the package, and filling station names from it."""

import pyarrow as pa

from mta_assets.turnstile.station_key import station_key, with_station_names


def readings(*keys: tuple[str, str, str]) -> pa.Table:
    """Readings with only the columns the key looks at and fills: (unit, control_area, station)."""
    return pa.table({
        "control_area": [control_area for _, control_area, _ in keys],
        "unit": [unit for unit, _, _ in keys],
        "station": [station for _, _, station in keys],
        "line_name": ["" for _ in keys],
        "division": ["" for _ in keys],
    })


def test_the_key_is_the_mta_file_whole():
    key = station_key()
    assert key.num_rows == 768
    assert key.column_names == ["unit", "control_area", "station", "line_name", "division"]
    assert key.slice(0, 1).to_pylist() == [
        {"unit": "R001", "control_area": "A060", "station": "WHITEHALL ST", "line_name": "R1", "division": "BMT"}
    ]


def test_empty_names_come_from_the_key_by_unit_and_booth_in_the_readings_order():
    named, unknown = with_station_names(readings(("R002", "A077", ""), ("R001", "R101S", ""), ("R001", "A060", "")))
    assert named.column("station").to_pylist() == ["FULTON ST", "SOUTH FERRY", "WHITEHALL ST"]
    assert named.column("line_name").to_pylist() == ["ACJZ2345", "R1", "R1"]
    assert named.column("division").to_pylist() == ["BMT", "IRT", "BMT"]
    assert unknown == 0


def test_a_unit_and_booth_the_key_does_not_know_keep_an_empty_station_and_are_counted():
    named, unknown = with_station_names(readings(("R999", "Z999", ""), ("R001", "A060", ""), ("R001", "NOPE", "")))
    assert named.column("station").to_pylist() == ["", "WHITEHALL ST", ""]
    assert unknown == 2


def test_names_the_readings_already_have_are_kept():
    named, unknown = with_station_names(readings(("R001", "A060", "AS PUBLISHED")))
    assert named.column("station").to_pylist() == ["AS PUBLISHED"]
    assert named.column("line_name").to_pylist() == ["R1"]
    assert unknown == 0
