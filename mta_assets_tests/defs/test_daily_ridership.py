"""Both eras in one table: turnstile ridership mapped to station complexes beside hourly ridership, and one
system-wide series, on DuckDB and on bqemulator (the same SQL)."""

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from dagster import AssetCheckKey, AssetSelection, DagsterInstance, Definitions, define_asset_job, materialize
from dagster._core.loader import LoadingContextForTest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionResolvedStatus

from mta_assets.defs.daily_ridership import (
    SOURCES_AGREE,
    TURNSTILE_TO_METROCARD_BAND,
    daily_ridership,
    ridership_series,
    sources_agree,
    system_daily_ridership,
)
from mta_assets.defs.ridership import station_daily_ridership, stations
from mta_assets.lake.week import HOURLY_OBJECTS
from mta_assets.lib.parquet import parquet_writer
from mta_assets.lib.tables import DAILY_RIDERSHIP, HOURLY_RIDERSHIP, SYSTEM_DAILY_RIDERSHIP, Table
from mta_assets_tests.defs.test_ridership import A, EXPECTED, PREVIOUS, PREVIOUS_LINES, WEEK, WEEK_LINES, load_turnstile_weeks
from mta_assets_tests.lib.project import failure_message, lake_resource
from loopback.turnstile_files import Turnstile, line

# A PATH turnstile: its unit has no station complex in the key.
PATH = Turnstile("PTH08", "R540", "00-04-00", "PATH WTC", "1", "PTH")
PATH_LINES = [line(PATH, datetime(2023, 5, 27, 0), "REGULAR", 1_000, 10), line(PATH, datetime(2023, 5, 27, 4), "REGULAR", 1_070, 12)]
# A unit the key does not know, and St. George on the Staten Island Railway (complex 501).
UNKNOWN = Turnstile("Z999", "R999", "00-00-00", "NOWHERE", "1", "IRT")
UNKNOWN_LINES = [line(UNKNOWN, datetime(2023, 5, 27, 0), "REGULAR", 500, 5), line(UNKNOWN, datetime(2023, 5, 27, 4), "REGULAR", 530, 6)]
ST_GEORGE = Turnstile("S101", "R070", "00-00-00", "ST. GEORGE", "1", "SRT")
ST_GEORGE_LINES = [line(ST_GEORGE, datetime(2023, 5, 27, 0), "REGULAR", 10, 5), line(ST_GEORGE, datetime(2023, 5, 27, 4), "REGULAR", 60, 6)]
KEY = WEEK.isoformat()
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
            "transit_mode": None if complex_id.startswith("TRAM") else "subway",  # as in the older version
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
    lake = lake_resource(tmp_path / "lake")
    lake.store(StagedHourlyWeek(week, path), tmp_path, HOURLY_OBJECTS)
    warehouse.replace_weeks([lake.lake_week(week, HOURLY_OBJECTS)])


def unified(warehouse, key: str, with_turnstile: bool = True, instance: DagsterInstance | None = None):
    """The week's turnstile ridership (if asked), then the unified tables: their partitions differ, so two runs."""
    instance = instance or DagsterInstance.ephemeral()
    if with_turnstile:
        turnstile = materialize([stations, station_daily_ridership], partition_key=key, resources={"warehouse": warehouse}, instance=instance)
        assert turnstile.success
    return materialize(
        [daily_ridership, system_daily_ridership], partition_key=key, resources={"warehouse": warehouse}, instance=instance, raise_on_error=False
    )


def rows_of(warehouse, table: Table, key: str) -> list[dict]:
    names = table.column_names
    rows = warehouse.query(f"SELECT {', '.join(names)} FROM {warehouse.name(table.name)} WHERE week_ending = DATE '{key}'")
    return [dict(zip(names, row)) for row in rows]


def check(result, name: str):
    (evaluation,) = [evaluation for evaluation in result.get_asset_check_evaluations() if evaluation.check_name == name]
    return evaluation


def check_status(instance: DagsterInstance, spec) -> AssetCheckExecutionResolvedStatus:
    """The check's latest execution as the UI shows it (Succeeded, Failed, Skipped...)."""
    key = AssetCheckKey(spec.asset_key, spec.name)
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    return asyncio.run(record.resolve_status(LoadingContextForTest(instance)))


def test_a_week_both_sources_cover_has_both_and_the_series_takes_hourly(warehouse, tmp_path):
    week_lines = WEEK_LINES + PATH_LINES + UNKNOWN_LINES + ST_GEORGE_LINES
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES, WEEK: week_lines})
    saturday, sunday = date(2023, 5, 27), date(2023, 5, 28)
    load_hourly_week(warehouse, tmp_path, WEEK, {
        ("618", saturday, "metrocard"): 50, ("618", saturday, "omny"): 30, ("397", saturday, "metrocard"): 90,
        ("618", sunday, "metrocard"): 40, ("611", sunday, "omny"): 7, ("TRAM1", saturday, "omny"): 15,
    })  # fmt: skip
    result = unified(warehouse, WEEK.isoformat())
    assert result.success, failure_message(result)

    daily = {(row["service_date"], row["station_complex_id"], row["source"]): row for row in rows_of(warehouse, DAILY_RIDERSHIP, KEY)}
    # Turnstile units summed into their complexes, with exits; units without a complex kept under none.
    for (unit, day), (entries, exits) in EXPECTED.items():
        row = daily[(day, COMPLEX_OF[unit], "turnstile")]
        assert (row["entries"], row["exits"], row["units"], row["transit_mode"]) == (entries, exits, 1, "subway")
    assert (daily[(saturday, None, "turnstile")]["entries"], daily[(saturday, None, "turnstile")]["units"]) == (70 + 30, 2)
    assert daily[(saturday, "501", "turnstile")]["transit_mode"] == "staten_island_railway"
    # Hourly: all payment methods in entries, MetroCard apart, no exits; the tram named as such.
    assert [daily[(saturday, "618", "hourly")][name] for name in ("entries", "exits", "metrocard_entries")] == [80, None, 50]
    assert [daily[(sunday, "611", "hourly")][name] for name in ("entries", "exits", "metrocard_entries")] == [7, None, 0]
    assert daily[(saturday, "TRAM1", "hourly")]["transit_mode"] == "tram"

    system = {row["service_date"]: row for row in rows_of(warehouse, SYSTEM_DAILY_RIDERSHIP, KEY)}
    # The subway's complexes only: not the units without a complex, St. George or the tram.
    turnstile_saturday = EXPECTED[("R175", saturday)][0] + EXPECTED[("R179", saturday)][0]
    assert system[saturday] == {
        "week_ending": WEEK, "service_date": saturday, "entries": 80 + 90, "source": "hourly", "turnstile_entries": turnstile_saturday,
        "hourly_entries": 170, "hourly_metrocard_entries": 140, "station_complexes": 2,
    }  # fmt: skip
    # A day hourly ridership lacks, after OMNY's launch: the turnstiles' MetroCard-only count is kept, not ridership.
    monday = date(2023, 5, 29)
    assert (system[monday]["entries"], system[monday]["source"]) == (None, "turnstile_metrocard_only")
    assert (system[monday]["turnstile_entries"], system[monday]["station_complexes"]) == (EXPECTED[("R083", monday)][0], None)

    agree = check(result, "turnstile_matches_hourly_metrocard")
    assert agree.passed
    assert agree.metadata["ratio_by_day"].value[str(saturday)] == round(turnstile_saturday / 140, 4)
    assert agree.metadata["days_compared"].value == 2
    units = check(result, "turnstile_units_in_complex_key")
    assert not units.passed  # R999 is not in the key; R540 (PATH) is, without a complex: expected
    assert units.metadata["units_not_in_key"].value == {KEY: ["R999"]}
    assert units.metadata["units_without_complex"].value == ["R540", "R999"]
    assert units.metadata["entries_without_complex"].value == {KEY: 100}


def test_an_omny_era_week_without_hourly_ridership_has_no_ridership_and_no_cross_check(warehouse, tmp_path):
    """2023: the turnstiles count MetroCard entries only. Their count is kept beside an empty `entries`, and the
    cross-check, with no day to compare, is not executed (Skipped), not Passed."""
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES, WEEK: WEEK_LINES + PATH_LINES})
    instance = DagsterInstance.ephemeral()
    result = unified(warehouse, KEY, instance=instance)
    assert result.success, failure_message(result)
    system = {row["service_date"]: row for row in rows_of(warehouse, SYSTEM_DAILY_RIDERSHIP, KEY)}
    turnstile: dict[date, int] = {}  # every station of EXPECTED is a subway complex's
    for (_, day), (entries, _) in EXPECTED.items():
        turnstile[day] = turnstile.get(day, 0) + entries
    assert {day: (row["entries"], row["source"], row["turnstile_entries"]) for day, row in system.items()} == {
        day: (None, "turnstile_metrocard_only", entries) for day, entries in turnstile.items()
    }
    assert not [evaluation for evaluation in result.get_asset_check_evaluations() if evaluation.check_name == SOURCES_AGREE.name]
    assert check_status(instance, SOURCES_AGREE) == AssetCheckExecutionResolvedStatus.SKIPPED
    units = check(result, "turnstile_units_in_complex_key")
    assert units.passed and units.metadata["units_without_complex"].value == ["R540"]


# The week of OMNY's launch (Friday 2019-05-31): A (23 ST, complex 618) read on Saturday, Thursday and Friday.
LAUNCH_WEEK = date(2019, 6, 1)
LAUNCH_LINES = [
    line(A, datetime(2019, 5, 25, 0), "REGULAR", 1_000, 500),  # the week's first reading: nothing before it
    line(A, datetime(2019, 5, 25, 4), "REGULAR", 1_010, 505),  # +10 on Saturday
    line(A, datetime(2019, 5, 30, 4), "REGULAR", 1_030, 510),  # +20 on Thursday
    line(A, datetime(2019, 5, 31, 4), "REGULAR", 1_070, 520),  # +40 on Friday, OMNY's first day
]


def test_the_series_takes_hourly_where_it_has_the_day_turnstile_before_omny_and_nothing_after(warehouse, tmp_path):
    """One week across OMNY's launch: hourly ridership for its Saturday, the turnstiles alone after. Saturday
    is hourly's; Thursday, before the launch, the turnstiles'; Friday, the launch day, has no ridership. And
    Saturday's turnstile entries, 0.2 of the hourly MetroCard ridership, fail the cross-check."""
    load_turnstile_weeks(warehouse, tmp_path, {LAUNCH_WEEK: LAUNCH_LINES})
    saturday, thursday, friday = date(2019, 5, 25), date(2019, 5, 30), date(2019, 5, 31)
    load_hourly_week(warehouse, tmp_path, LAUNCH_WEEK, {("618", saturday, "metrocard"): 50})
    key = LAUNCH_WEEK.isoformat()
    result = unified(warehouse, key)
    assert result.success, failure_message(result)
    system = {row["service_date"]: row for row in rows_of(warehouse, SYSTEM_DAILY_RIDERSHIP, key)}
    columns = ("entries", "source", "turnstile_entries", "hourly_entries", "station_complexes")
    assert {day: tuple(row[name] for name in columns) for day, row in system.items()} == {
        saturday: (50, "hourly", 10, 50, 1),
        thursday: (20, "turnstile", 20, None, 1),
        friday: (None, "turnstile_metrocard_only", 40, None, None),
    }
    # The chart draws `entries` alone, under its sources' names.
    days = [(day, row["entries"], row["source"]) for day, row in system.items()]
    assert ridership_series(days) == {"turnstile counters (to 2019-05-30)": [(thursday, 20)], "hourly ridership": [(saturday, 50)]}
    agree = check(result, SOURCES_AGREE.name)
    assert not agree.passed
    assert agree.metadata["days_outside_band"].value == {str(saturday): 0.2}


    # Materialized without its check, the asset yields no result for it.
    without = materialize(
        [system_daily_ridership], selection=AssetSelection.assets(system_daily_ridership).without_checks(), partition_key=key,
        resources={"warehouse": warehouse}, instance=DagsterInstance.ephemeral(),
    )  # fmt: skip
    assert without.success and not without.get_asset_check_evaluations()


def test_the_cross_check_alone_is_refused_naming_what_to_run(tmp_path):
    from mta_assets.warehouse import DuckDBWarehouse

    job = define_asset_job("the_cross_check", selection=AssetSelection.checks(SOURCES_AGREE.key))
    defs = Definitions(assets=[system_daily_ridership], jobs=[job], resources={"warehouse": DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))})
    result = defs.resolve_job_def(job.name).execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    assert "materialize system_daily_ridership for the weeks to check" in failure_message(result)


def test_a_week_after_the_feed_is_hourly_alone(warehouse, tmp_path):
    week = date(2025, 6, 7)
    load_hourly_week(warehouse, tmp_path, week, {("611", date(2025, 6, 2), "omny"): 100, ("611", date(2025, 6, 2), "metrocard"): 20})
    result = unified(warehouse, week.isoformat(), with_turnstile=False)
    assert result.success, failure_message(result)
    (row,) = rows_of(warehouse, SYSTEM_DAILY_RIDERSHIP, week.isoformat())
    assert (row["entries"], row["source"], row["turnstile_entries"], row["hourly_metrocard_entries"]) == (120, "hourly", None, 20)


def test_a_week_neither_source_has_fails_naming_it(tmp_path):
    from mta_assets.warehouse import DuckDBWarehouse

    result = unified(DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb")), "2025-06-07", with_turnstile=False)
    assert not result.success
    assert failure_message(result) == (
        "Week 2025-06-07: neither station_daily_ridership nor hourly_ridership_warehouse has rows for it in the warehouse, "
        "so daily_ridership has nothing to compute from. Materialize station_daily_ridership, or hourly_ridership_lake "
        "and hourly_ridership_warehouse, for 2025-06-07 first; daily_ridership follows by itself."
    )


def test_the_series_asked_for_without_daily_ridership_names_it(tmp_path):
    from mta_assets.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES, WEEK: WEEK_LINES})
    instance = DagsterInstance.ephemeral()
    assert materialize([stations, station_daily_ridership], partition_key=WEEK.isoformat(), resources={"warehouse": warehouse}, instance=instance).success
    result = materialize(
        [system_daily_ridership], partition_key=WEEK.isoformat(), resources={"warehouse": warehouse}, instance=instance, raise_on_error=False
    )
    assert failure_message(result).startswith(
        "Week 2023-06-03: daily_ridership has no rows for it in the warehouse, so system_daily_ridership has nothing to "
        "compute from. Materialize daily_ridership for 2023-06-03 first"
    )
    assert result.get_asset_materialization_events() == []


def test_the_cross_check_warns_outside_its_band_and_records_every_ratio():
    low, high = TURNSTILE_TO_METROCARD_BAND
    days = [(date(2023, 5, 27), 110, 100), (date(2023, 5, 28), int(100 * (high + 0.1)), 100), (date(2023, 5, 29), 50, None)]
    weeks = [date(2023, 6, 3)]
    result = sources_agree(days, weeks)
    assert not result.passed
    assert result.metadata["ratio_by_day"].value == {"2023-05-27": 1.1, "2023-05-28": round(high + 0.1, 4)}
    assert result.metadata["days_outside_band"].value == {"2023-05-28": round(high + 0.1, 3)}
    assert sources_agree(days[:1], weeks).passed
    # Nothing compared: a reason instead of a result, neither passed nor failed.
    assert sources_agree(days[2:], weeks) == "turnstile_matches_hourly_metrocard: no day of the weeks 2023-06-03 has both sources"


def test_the_automation_computes_a_week_from_either_source_and_again_when_the_other_arrives(mirror, soda, tmp_path):
    """Tick after tick, as the automation sensor runs them: the turnstile weeks' ridership follows them and
    the unified tables with it; when hourly ridership arrives for the same weeks, they are computed again;
    a week after the feed follows hourly ridership alone; a week no source has is never asked for."""
    from dagster import Definitions, evaluate_automation_conditions

    from mta_assets.defs.daily_ridership import unit_complex_key
    from mta_assets.defs.hourly_ridership import hourly_ridership_datasets, hourly_ridership_lake, hourly_ridership_warehouse
    from mta_assets.defs.ridership import system_ridership
    from mta_assets.hourly.source import HourlyRidershipSource
    from loopback.soda_server import hourly_rows
    from mta_assets_tests.lib.project import LAKE_AND_WAREHOUSE, Project

    project = Project(mirror, tmp_path)
    soda.datasets["wujg-7c2s"] = hourly_rows(PREVIOUS) + hourly_rows(WEEK) + hourly_rows(WEEK + timedelta(weeks=1))
    after_the_feed = date(2025, 6, 7)
    soda.datasets["5wq4-mkjj"] = hourly_rows(after_the_feed) + hourly_rows(after_the_feed + timedelta(weeks=1))
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
    unified = {"daily_ridership": weeks, "system_daily_ridership": weeks}
    assert ticks() == {"stations": weeks, "station_daily_ridership": weeks, "system_ridership": weeks, **unified}
    for week in [*sorted(weeks), after_the_feed.isoformat()]:
        assert materialize(every_asset, selection=hourly, partition_key=week, instance=project.instance, resources=resources).success
    with_hourly = weeks | {after_the_feed.isoformat()}
    assert ticks() == {"daily_ridership": with_hourly, "system_daily_ridership": with_hourly}
    assert result.total_requested == 0
