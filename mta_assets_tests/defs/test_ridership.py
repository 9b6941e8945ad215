"""Station-day ridership from readings with known ground truth, on DuckDB and on bqemulator (same SQL)."""

from datetime import date, datetime


import pytest

from dagster import AssetKey, DagsterInstance, materialize

from mta_assets.defs.ridership import station_daily_ridership, stations, system_ridership
from mta_assets.turnstile.parsing import parse_turnstile_file
from mta_assets.warehouse import DuckDBWarehouse
from mta_assets_tests.lib.project import LAKE_AND_WAREHOUSE, RANGE_END, RANGE_START, Project, failure_message, lake_resource, stored
from loopback.turnstile_files import HEADER, Turnstile, line

PREVIOUS, WEEK = date(2023, 5, 27), date(2023, 6, 3)
# Two different stations with the same name: they must stay apart.
A = Turnstile("N078", "R175", "01-00-00", "23 ST", "1", "IRT")
B = Turnstile("A030", "R083", "01-00-00", "23 ST", "NRW", "BMT")
C = Turnstile("R250", "R179", "00-00-00", "86 ST", "456", "IRT")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2023, 5, day, hour, minute, second) if day > 3 else datetime(2023, 6, day, hour, minute, second)


PREVIOUS_LINES = [
    line(A, datetime(2023, 5, 26, 16), "REGULAR", 1_000, 500),
    line(A, datetime(2023, 5, 26, 20), "REGULAR", 1_100, 540),  # A's last reading before the week
    line(C, datetime(2023, 5, 26, 20), "REGULAR", 70_000, 9_000),
]
WEEK_LINES = [
    line(A, at(27, 0), "REGULAR", 1_110, 545),  # +10 / +5 from the week before, on Saturday the 27th
    line(A, at(27, 4), "REGULAR", 1_130, 550),  # +20 / +5
    line(A, at(27, 4), "RECOVR AUD", 1_130, 550),  # the same reading recovered: counts once
    line(A, at(27, 8), "REGULAR", 5, 3),  # counter reset: excluded
    line(A, at(27, 12), "REGULAR", 25, 13),  # +20 / +10
    line(A, at(27, 13, 22, 29), "REGULAR", 30, 14),  # irregular time: +5 / +1
    line(A, at(28, 0), "REGULAR", 5_000_030, 20),  # a jump of millions: excluded
    line(A, at(28, 4), "REGULAR", 5_000_070, 26),  # +40 / +6 on Sunday
    # B has no reading in the week before: its first reading has nothing to difference against.
    line(B, at(29, 8), "REGULAR", 200, 100),
    line(B, at(29, 12), "REGULAR", 150, 90),  # runs backwards: excluded
    line(B, at(29, 16), "REGULAR", 400, 190),  # +250 / +100
    line(C, at(27, 0), "REGULAR", 70_100, 9_050),  # +100 / +50
    line(C, at(27, 4), "REGULAR", 70_100, 9_050),  # +0
    line(C, datetime(2023, 6, 3, 4), "REGULAR", 70_300, 9_100),  # dated outside the file's week: no day of its own
]
EXPECTED = {
    ("R175", date(2023, 5, 27)): (10 + 20 + 20 + 5, 5 + 5 + 10 + 1),
    ("R175", date(2023, 5, 28)): (40, 6),
    ("R083", date(2023, 5, 29)): (250, 100),
    ("R179", date(2023, 5, 27)): (100, 50),
}


def load_turnstile_weeks(warehouse, tmp_path, weeks: dict[date, list[str]], header: bool = True) -> None:
    """The weeks' files (modern lines under the header; without `header`, legacy lines) into the warehouse."""
    lake = lake_resource(tmp_path / "lake")
    lake_weeks = []
    for week, lines in weeks.items():
        source = tmp_path / f"turnstile_{week:%y%m%d}.txt"
        source.write_text("\r\n".join([HEADER, *lines] if header else lines) + "\r\n")
        parsed = parse_turnstile_file(source, week, 0.01, tmp_path / f"turnstile_{week:%y%m%d}.parquet")
        lake_weeks.append(stored(lake, parsed).lake_week)
    warehouse.replace_weeks(lake_weeks)


def ridership(warehouse, key: str = WEEK.isoformat()):
    result = materialize(
        [stations, station_daily_ridership, system_ridership],
        partition_key=key,
        resources={"warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    rows = warehouse.query(
        f"SELECT station_id, service_date, entries, exits FROM {warehouse.name('station_daily_ridership')} "
        f"WHERE week_ending = DATE '{key}'"
    )
    return result, {(station, day): (entries, exits) for station, day, entries, exits in rows}


def test_station_days_match_the_ground_truth(warehouse, tmp_path):
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES, WEEK: WEEK_LINES})
    result, station_days = ridership(warehouse)
    assert station_days == EXPECTED
    checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    # The ground truth packs a reset, a backwards counter and a jump into a few intervals: far above the
    # share a real week leaves out. No earlier week is loaded, so the day totals have nothing to compare:
    # no result (the UI shows the check skipped), not passed.
    assert set(checks) == {"ridership_intervals_counted"}
    assert not checks["ridership_intervals_counted"].passed
    assert "intervals left out" in checks["ridership_intervals_counted"].metadata["failing_weeks"].value[WEEK.isoformat()]

    names = warehouse.query(f"SELECT station_id, station FROM {warehouse.name('stations')} WHERE week_ending = DATE '2023-06-03'")
    assert sorted(names) == [("R083", "23 ST"), ("R175", "23 ST"), ("R179", "86 ST")]
    system = warehouse.query(
        f"SELECT service_date, entries, exits, stations FROM {warehouse.name('system_ridership')} ORDER BY service_date"
    )
    assert system[0] == (date(2023, 5, 27), 55 + 100, 21 + 50, 2)
    chart = result.asset_materializations_for_node("system_ridership")[0].metadata["chart"].value
    assert chart.startswith("![NYC subway, system-wide riders per day (turnstile counts)](data:image/png;base64,iVBOR")


def test_a_week_gives_the_same_numbers_when_materialized_again(warehouse, tmp_path):
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES, WEEK: WEEK_LINES})
    assert ridership(warehouse)[1] == ridership(warehouse)[1] == EXPECTED


def test_a_recovered_reading_with_other_counts_gives_way_to_the_regular_one(warehouse, tmp_path):
    """Of the readings of a turnstile at one time, the REGULAR one counts, wherever the file has it; the
    recovered copy's counts, had they been taken, would change the day's riders."""
    regular = line(A, at(27, 4), "REGULAR", 1_130, 550)
    recovered = line(A, at(27, 4), "RECOVR AUD", 1_120, 548)  # lower: ordered by counts alone, it would win
    lines = [text for text in WEEK_LINES if text != regular and "RECOVR AUD" not in text]
    lines.insert(1, recovered)
    lines.insert(3, regular)
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES, WEEK: lines})
    assert ridership(warehouse)[1] == EXPECTED


@pytest.mark.parametrize("grouped", [False, True], ids=["week alone", "with the week before in one query"])
def test_a_reading_in_two_weeks_files_counts_in_the_week_that_holds_its_day(warehouse, tmp_path, grouped):
    """As the first file (a Wednesday's, the week of 2010-05-01) runs into the next week, the week before's
    file here repeats the week's first readings: they count once, in the week, however the weeks are read."""
    repeated = [text for text in WEEK_LINES if text.startswith(A.control_area)][:3]
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES + repeated, WEEK: WEEK_LINES})
    if grouped:
        assert materialize(
            [stations, station_daily_ridership, system_ridership],
            resources={"warehouse": warehouse},
            instance=DagsterInstance.ephemeral(),
            tags={RANGE_START: PREVIOUS.isoformat(), RANGE_END: WEEK.isoformat()},
        ).success
        rows = warehouse.query(
            f"SELECT station_id, service_date, entries, exits FROM {warehouse.name('station_daily_ridership')} "
            f"WHERE week_ending = DATE '{WEEK}'"
        )
        assert {(station, day): (entries, exits) for station, day, entries, exits in rows} == EXPECTED
    else:
        assert ridership(warehouse)[1] == EXPECTED


NEXT = date(2023, 6, 10)
NEXT_LINES = [
    line(A, datetime(2023, 6, 3, 0), "REGULAR", 5_000_100, 30),  # +30 / +4 from the week before
    line(A, datetime(2023, 6, 5, 8), "REGULAR", 5_000_160, 41),  # +60 / +11
    line(C, datetime(2023, 6, 3, 8), "REGULAR", 70_400, 9_130),  # +100 / +30 from its stray reading
]


@pytest.mark.parametrize("weeks_per_query", [None, 1, 2])
def test_a_run_of_several_weeks_gives_the_rows_of_runs_of_one_week(warehouse, tmp_path, weeks_per_query):
    """However many weeks a query computes (all of the run's, one, two), the tables hold what runs of one
    week each give them."""
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES, WEEK: WEEK_LINES, NEXT: NEXT_LINES})
    names = [asset.key.to_user_string() for asset in (stations, station_daily_ridership, system_ridership)]

    def tables() -> dict[str, list[tuple]]:
        return {name: sorted(warehouse.query(f"SELECT * FROM {warehouse.name(name)}")) for name in names}

    for week in (PREVIOUS, WEEK, NEXT):
        ridership(warehouse, week.isoformat())
    week_by_week = tables()
    assert {(week, day) for week, day, *_ in week_by_week["system_ridership"]} == {
        (PREVIOUS, date(2023, 5, 26)), (WEEK, date(2023, 5, 27)), (WEEK, date(2023, 5, 28)), (WEEK, date(2023, 5, 29)), (NEXT, date(2023, 6, 3)), (NEXT, date(2023, 6, 5))
    }  # fmt: skip
    for name in names:  # emptied, so that only the run of several weeks fills them
        warehouse.query(f"DELETE FROM {warehouse.name(name)} WHERE TRUE")
    grouped = warehouse.model_copy(update={"weeks_per_query": weeks_per_query})
    result = materialize(
        [stations, station_daily_ridership, system_ridership],
        resources={"warehouse": grouped},
        instance=DagsterInstance.ephemeral(),
        tags={RANGE_START: PREVIOUS.isoformat(), RANGE_END: NEXT.isoformat()},
    )
    assert result.success
    assert tables() == week_by_week


def test_without_the_previous_week_the_first_readings_have_nothing_to_difference(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    load_turnstile_weeks(warehouse, tmp_path, {WEEK: WEEK_LINES})
    station_days = ridership(warehouse)[1]
    assert station_days[("R175", date(2023, 5, 27))] == (20 + 20 + 5, 5 + 10 + 1)  # no +10/+5 at midnight
    assert ("R179", date(2023, 5, 27)) in station_days and station_days[("R179", date(2023, 5, 27))] == (0, 0)
    # When the week before arrives, the week's numbers are computed again with it.
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES})
    assert ridership(warehouse)[1] == EXPECTED


def test_the_first_week_depends_on_the_week_before_through_a_partition_mapping():
    from dagster import AssetKey

    dependency = station_daily_ridership.get_partition_mapping(AssetKey("turnstile_warehouse"))
    upstream = dependency.get_upstream_mapped_partitions_result_for_partitions(
        station_daily_ridership.partitions_def.subset_with_partition_keys(["2023-06-03"]),
        station_daily_ridership.partitions_def,
        station_daily_ridership.partitions_def,
    ).partitions_subset
    assert sorted(upstream.get_partition_keys()) == ["2023-05-27", "2023-06-03"]


def test_after_the_week_never_published_the_first_readings_have_nothing_to_difference_in_any_run(tmp_path):
    # Excluded weeks make 2010-05-22 the partition before 2010-06-05, and a run of both reads both; the
    # readings two weeks apart are still not one interval, however the weeks are batched.
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    before, after = date(2010, 5, 22), date(2010, 6, 5)
    load_turnstile_weeks(
        warehouse,
        tmp_path,
        {
            before: [line(A, datetime(2010, 5, 21, 16), "REGULAR", 1_000, 500), line(A, datetime(2010, 5, 21, 20), "REGULAR", 1_100, 540)],
            after: [line(A, datetime(2010, 5, 29, 0), "REGULAR", 9_000, 4_000), line(A, datetime(2010, 5, 29, 4), "REGULAR", 9_030, 4_010)],
        },
    )
    assert ridership(warehouse, after.isoformat())[1] == {("R175", date(2010, 5, 29)): (30, 10)}
    result = materialize(
        [stations, station_daily_ridership],
        resources={"warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
        tags={RANGE_START: before.isoformat(), RANGE_END: after.isoformat()},
    )
    assert result.success
    rows = warehouse.query(f"SELECT service_date, entries, exits FROM {warehouse.name('station_daily_ridership')} WHERE week_ending = DATE '{after}'")
    assert rows == [(date(2010, 5, 29), 30, 10)]
    assert sorted(
        station_daily_ridership.get_partition_mapping(AssetKey("turnstile_warehouse"))
        .get_upstream_mapped_partitions_result_for_partitions(
            station_daily_ridership.partitions_def.subset_with_partition_keys([after.isoformat()]),
            station_daily_ridership.partitions_def,
            station_daily_ridership.partitions_def,
        )
        .partitions_subset.get_partition_keys()
    ) == [before.isoformat(), after.isoformat()]


def test_a_week_without_its_turnstile_readings_is_refused_not_stored_empty(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES, WEEK: WEEK_LINES})
    result = materialize(
        [stations, station_daily_ridership, system_ridership],
        partition_key="2023-06-10",
        resources={"warehouse": warehouse},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    assert failure_message(result).startswith(
        "Week 2023-06-10: turnstile_warehouse has no rows for it in the warehouse, so stations has nothing to compute "
        "from. Materialize turnstile_lake and turnstile_warehouse for 2023-06-10 first"
    )
    assert result.get_asset_materialization_events() == []


@pytest.mark.parametrize(
    ("asset", "upstream"),
    [(station_daily_ridership, "stations"), (system_ridership, "station_daily_ridership")],
)
def test_an_asset_asked_for_without_its_upstream_names_what_to_materialize_first(tmp_path, asset, upstream):
    """The week's readings are in the warehouse; the table the asset reads is not (or lacks the week)."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    load_turnstile_weeks(warehouse, tmp_path, {PREVIOUS: PREVIOUS_LINES, WEEK: WEEK_LINES})
    result = materialize(
        [asset], partition_key="2023-06-03", resources={"warehouse": warehouse}, instance=DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert failure_message(result) == (
        f"Week 2023-06-03: {upstream} has no rows for it in the warehouse, so {asset.key.to_user_string()} has nothing "
        f"to compute from. Materialize {upstream} for 2023-06-03 first; {asset.key.to_user_string()} follows by itself."
    )
    assert result.get_asset_materialization_events() == []


def test_the_automation_computes_exactly_the_weeks_whose_readings_are_loaded(mirror, tmp_path):
    """Tick after tick, as the automation sensor runs them: after two weeks run through lake and warehouse,
    ridership is computed for those two and never for the week after them, although that week's
    partition mapping reads the second one as its week before."""
    from dagster import Definitions, evaluate_automation_conditions

    project = Project(mirror, tmp_path)
    ridership_assets = [stations, station_daily_ridership, system_ridership]
    defs = Definitions(assets=[*LAKE_AND_WAREHOUSE, *ridership_assets], resources=project.resources())
    result = evaluate_automation_conditions(defs=defs, instance=project.instance)  # the first tick records state
    assert project.run_range("2023-05-27", "2023-06-03").success

    requested: dict[str, set[str]] = {asset.key.to_user_string(): set() for asset in ridership_assets}
    for _ in range(4):
        result = evaluate_automation_conditions(defs=defs, instance=project.instance, cursor=result.cursor)
        for asset in ridership_assets:
            keys = result.get_requested_partitions(asset.key)
            requested[asset.key.to_user_string()] |= keys
            for key in sorted(keys):
                run = materialize(
                    [*LAKE_AND_WAREHOUSE, *ridership_assets],
                    selection=[asset],
                    partition_key=key,
                    instance=project.instance,
                    resources=project.resources(),
                )
                assert run.success
    assert requested == {name: {"2023-05-27", "2023-06-03"} for name in requested}
    assert result.total_requested == 0


def test_the_first_modern_week_differences_against_the_last_legacy_week(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    legacy, modern = date(2014, 10, 11), date(2014, 10, 18)
    # The same turnstile (A002 R051 02-00-00) in both layouts; the legacy file names no station.
    load_turnstile_weeks(
        warehouse,
        tmp_path,
        {legacy: ["A002,R051,02-00-00,10-10-14,16:00:00,REGULAR,000001000,000002000,10-10-14,20:00:00,DOOR OPEN,000001050,000002010"]},
        header=False,
    )
    turnstile = Turnstile("A002", "R051", "02-00-00", "59 ST", "NQR456W", "BMT")
    load_turnstile_weeks(warehouse, tmp_path, {modern: [
        line(turnstile, datetime(2014, 10, 11, 0), "REGULAR", 1100, 2030),
        line(turnstile, datetime(2014, 10, 11, 4), "REGULAR", 1130, 2040),
    ]})
    station_days = ridership(warehouse, modern.isoformat())[1]
    # 20:00 Friday (legacy) to 00:00 Saturday (modern) counts on the Saturday, then 00:00 to 04:00.
    assert station_days == {("R051", date(2014, 10, 11)): (50 + 30, 20 + 10)}
    legacy_days = ridership(warehouse, legacy.isoformat())[1]
    assert legacy_days == {("R051", date(2014, 10, 10)): (50, 10)}
    names = warehouse.query(f"SELECT station FROM {warehouse.name('turnstile')} WHERE week_ending = DATE '2014-10-11'")
    assert names == [("LEXINGTON AVE",), ("LEXINGTON AVE",)]  # from the station key (R051, A002)
