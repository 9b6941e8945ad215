"""Both eras in one table: turnstile ridership mapped to station complexes beside hourly ridership, and one
system-wide series, on DuckDB and on bqemulator (the same SQL)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from dagster import DagsterInstance, materialize

from mta_assets.defs.daily_ridership import TURNSTILE_TO_METROCARD_BAND, daily_ridership, sources_agree, system_daily_ridership
from mta_assets.defs.ridership import station_daily_ridership, stations
from mta_assets.lake.week import HOURLY_OBJECTS
from mta_assets.lib.parquet import parquet_writer
from mta_assets.lib.tables import HOURLY_RIDERSHIP
from mta_assets_tests.defs.test_ridership import EXPECTED, PREVIOUS, PREVIOUS_LINES, WEEK, WEEK_LINES, load_turnstile_weeks
from mta_assets_tests.lib.project import failure_message, lake_io_manager
from loopback.turnstile_files import Turnstile, line

# A PATH turnstile: its unit has no station complex in the key.
PATH = Turnstile("PTH08", "R540", "00-04-00", "PATH WTC", "1", "PTH")
PATH_LINES = [line(PATH, datetime(2023, 5, 27, 0), "REGULAR", 1_000, 10), line(PATH, datetime(2023, 5, 27, 4), "REGULAR", 1_070, 12)]
# The complexes of A, B and C in remote_complex_lookup.csv.
COMPLEX_OF = {"R175": "618", "R083": "14", "R179": "397"}


@dataclass(frozen=True)
class StagedHourlyWeek:
    week: date
    path: Path
    rejected_lines: tuple[str, ...] = ()


def load_hourly_week(warehouse, tmp_path: Path, week: date, ridership: dict[tuple[str, date, str], int]) -> None:
    """Hourly rows, one per (complex, day, payment method) at noon, into the lake and the warehouse."""
    rows = [
        {
            "transit_timestamp": datetime.combine(day, datetime.min.time()) + timedelta(hours=12),
            "transit_mode": "subway",
            "station_complex_id": complex_id,
            "station_complex": f"Complex {complex_id}",
            "borough": "Manhattan",
            "payment_method": payment,
            "fare_class_category": f"{payment} - Full Fare",
            "ridership": riders,
            "transfers": 0,
            "latitude": 40.7,
            "longitude": -73.9,
            "dataset_id": "wujg-7c2s",
            "week_ending": week,
        }
        for (complex_id, day, payment), riders in ridership.items()
    ]
    path = tmp_path / f"hourly_{week}.parquet"
    with parquet_writer(path, HOURLY_RIDERSHIP.arrow_schema) as writer:
        writer.write_table(pa.Table.from_pylist(rows, schema=HOURLY_RIDERSHIP.arrow_schema))
    lake = lake_io_manager(tmp_path / "lake")
    prepared = lake.prepare(StagedHourlyWeek(week, path), tmp_path, HOURLY_OBJECTS)
    lake.publish(prepared)
    warehouse.replace_weeks([prepared.lake_week])


def unified(warehouse, key: str, with_turnstile: bool = True):
    """The week's turnstile ridership (if asked), then the unified tables: their partitions differ, so two runs."""
    instance = DagsterInstance.ephemeral()
    if with_turnstile:
        turnstile = materialize([stations, station_daily_ridership], partition_key=key, resources={"warehouse": warehouse}, instance=instance)
        assert turnstile.success
    return materialize(
        [daily_ridership, system_daily_ridership], partition_key=key, resources={"warehouse": warehouse}, instance=instance, raise_on_error=False
    )


def rows_of(warehouse, table: str, key: str) -> list[tuple]:
    return warehouse.query(f"SELECT * FROM {warehouse.name(table)} WHERE week_ending = DATE '{key}'")


def test_a_week_both_sources_cover_has_both_and_the_series_takes_hourly(warehouse, tmp_path):
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES, WEEK: WEEK_LINES + PATH_LINES})
    saturday, sunday = date(2023, 5, 27), date(2023, 5, 28)
    load_hourly_week(warehouse, tmp_path, WEEK, {
        ("618", saturday, "metrocard"): 50, ("618", saturday, "omny"): 30, ("397", saturday, "metrocard"): 90,
        ("618", sunday, "metrocard"): 40, ("611", sunday, "omny"): 7,
    })  # fmt: skip
    result = unified(warehouse, WEEK.isoformat())
    assert result.success, failure_message(result)

    daily = {(row[1], row[2], row[4]): row for row in rows_of(warehouse, "daily_ridership", WEEK.isoformat())}
    # Turnstile units summed into their complexes, with exits; the PATH unit kept under no complex.
    for (unit, day), (entries, exits) in EXPECTED.items():
        row = daily[(day, COMPLEX_OF[unit], "turnstile")]
        assert (row[5], row[6], row[8]) == (entries, exits, 1)
    assert daily[(saturday, None, "turnstile")][5:7] == (70, 2)
    # Hourly: all payment methods in entries, MetroCard apart, no exits.
    assert daily[(saturday, "618", "hourly")][5:8] == (80, None, 50)
    assert daily[(sunday, "611", "hourly")][5:8] == (7, None, 0)

    system = {row[1]: row for row in rows_of(warehouse, "system_daily_ridership", WEEK.isoformat())}
    turnstile_saturday = EXPECTED[("R175", saturday)][0] + EXPECTED[("R179", saturday)][0]  # not the PATH unit
    assert system[saturday][2:8] == (80 + 90, "hourly", turnstile_saturday, 170, 140, 2)
    # A day hourly ridership lacks comes from the turnstile counters.
    monday = date(2023, 5, 29)
    assert system[monday][2:5] == (EXPECTED[("R083", monday)][0], "turnstile", EXPECTED[("R083", monday)][0])

    (agree,) = [check for check in result.get_asset_check_evaluations() if check.check_name == "turnstile_matches_hourly_metrocard"]
    assert agree.metadata["ratio_by_day"].value[str(saturday)] == round(turnstile_saturday / 140, 4)
    assert agree.metadata["days_compared"].value == 2
    (units,) = [check for check in result.get_asset_check_evaluations() if check.check_name == "turnstile_units_have_complexes"]
    assert not units.passed
    assert units.metadata["units_without_complex"].value == ["R540"]
    assert units.metadata["entries_without_complex"].value == {WEEK.isoformat(): 70}


def test_a_week_before_hourly_ridership_is_turnstile_alone(warehouse, tmp_path):
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES, WEEK: WEEK_LINES})
    result = unified(warehouse, WEEK.isoformat())
    assert result.success, failure_message(result)
    assert {row[3] for row in rows_of(warehouse, "system_daily_ridership", WEEK.isoformat())} == {"turnstile"}
    units = next(check for check in result.get_asset_check_evaluations() if check.check_name == "turnstile_units_have_complexes")
    assert units.passed


def test_a_week_after_the_feed_is_hourly_alone(warehouse, tmp_path):
    week = date(2025, 6, 7)
    load_hourly_week(warehouse, tmp_path, week, {("611", date(2025, 6, 2), "omny"): 100, ("611", date(2025, 6, 2), "metrocard"): 20})
    result = unified(warehouse, week.isoformat(), with_turnstile=False)
    assert result.success, failure_message(result)
    (row,) = rows_of(warehouse, "system_daily_ridership", week.isoformat())
    assert row[1:8] == (date(2025, 6, 2), 120, "hourly", None, 120, 20, 1)


def test_a_week_neither_source_has_fails_naming_it(tmp_path):
    from mta_assets.warehouse import DuckDBWarehouse

    result = unified(DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb")), "2025-06-07", with_turnstile=False)
    assert not result.success
    assert "Week 2025-06-07: neither station_daily_ridership nor hourly_ridership_warehouse has rows" in failure_message(result)


def test_the_cross_check_warns_outside_its_band_and_records_every_ratio():
    low, high = TURNSTILE_TO_METROCARD_BAND
    days = [(date(2023, 5, 27), 110, 100), (date(2023, 5, 28), int(100 * (high + 0.1)), 100), (date(2023, 5, 29), 50, None)]
    result = sources_agree(days)
    assert not result.passed
    assert result.metadata["ratio_by_day"].value == {"2023-05-27": 1.1, "2023-05-28": round(high + 0.1, 4)}
    assert result.metadata["days_outside_band"].value == {"2023-05-28": round(high + 0.1, 3)}
    assert sources_agree(days[:1]).passed


def test_the_automation_computes_a_week_both_sources_cover_once_both_are_loaded(mirror, soda, tmp_path):
    """Tick after tick, as the automation sensor runs them: the turnstile weeks' ridership follows them,
    daily_ridership waits for the same weeks of hourly ridership, then follows with the system series."""
    from dagster import Definitions, evaluate_automation_conditions

    from mta_assets.defs.daily_ridership import unit_complex_key
    from mta_assets.defs.hourly_ridership import hourly_ridership_datasets, hourly_ridership_lake, hourly_ridership_warehouse
    from mta_assets.defs.ridership import system_ridership
    from mta_assets.hourly_ridership import HourlyRidershipSource
    from loopback.soda_server import hourly_rows
    from mta_assets_tests.lib.project import LAKE_AND_WAREHOUSE, Project

    project = Project(mirror, tmp_path)
    soda.datasets["wujg-7c2s"] = hourly_rows(PREVIOUS) + hourly_rows(WEEK) + hourly_rows(WEEK + timedelta(weeks=1))
    resources = {**project.resources(), "hourly_source": HourlyRidershipSource(base_url=soda.url, backoff_seconds=0)}
    hourly = [hourly_ridership_lake, hourly_ridership_warehouse]
    derived = [stations, station_daily_ridership, system_ridership, daily_ridership, system_daily_ridership]
    every_asset = [*LAKE_AND_WAREHOUSE, *hourly, hourly_ridership_datasets, unit_complex_key, *derived]
    defs = Definitions(assets=every_asset, resources=resources)
    result = evaluate_automation_conditions(defs=defs, instance=project.instance)  # the first tick records state
    assert project.run_range(PREVIOUS.isoformat(), WEEK.isoformat()).success

    def ticks() -> dict[str, set[str]]:
        nonlocal result
        requested: dict[str, set[str]] = {}
        for _ in range(4):
            result = evaluate_automation_conditions(defs=defs, instance=project.instance, cursor=result.cursor)
            for asset in derived:
                for key in sorted(result.get_requested_partitions(asset.key)):
                    requested.setdefault(asset.key.to_user_string(), set()).add(key)
                    run = materialize(every_asset, selection=[asset], partition_key=key, instance=project.instance, resources=resources)
                    assert run.success
        return requested

    weeks = {PREVIOUS.isoformat(), WEEK.isoformat()}
    assert ticks() == {"stations": weeks, "station_daily_ridership": weeks, "system_ridership": weeks}
    for week in sorted(weeks):
        assert materialize(every_asset, selection=hourly, partition_key=week, instance=project.instance, resources=resources).success
    assert ticks() == {"daily_ridership": weeks, "system_daily_ridership": weeks}
    assert result.total_requested == 0
