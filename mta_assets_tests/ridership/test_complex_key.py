"""The unit-to-complex key shipped with the package, as daily_ridership reads it."""

from mta_assets.ridership.complex_key import key_units, unit_complexes


def test_every_unit_of_the_key_is_known_and_those_with_a_complex_map_to_one():
    by_unit = {row.unit: row for row in unit_complexes()}
    assert len(key_units()) == 484 and len(by_unit) == 455  # 29 units have no complex id
    assert by_unit["R175"].station_complex_id == "618"
    # The header's trailing space (`remote `) and the values' are gone.
    assert all(unit == unit.strip() and unit.startswith("R") for unit in key_units())


def test_a_complex_is_named_by_all_its_stations_and_quotes_survive():
    by_unit = {row.unit: row for row in unit_complexes()}
    assert by_unit["R001"].station_complex == "SOUTH FERRY/WHITEHALL ST"
    assert by_unit["R085"].station_complex == "8 ST-B'WAY NYU"


def test_units_without_a_complex_are_known_but_not_mapped():
    mapped = {row.unit for row in unit_complexes()}
    assert {"R540", "R468"} <= key_units() - mapped  # PATH, the tram


def test_the_transit_mode_follows_the_units_division():
    modes = {row.unit: row.transit_mode for row in unit_complexes()}
    assert (modes["R070"], modes["R175"]) == ("staten_island_railway", "subway")
