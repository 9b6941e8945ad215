"""Each asset check, made to fail: the blocking ones stop the week's downstream, the others flag it."""

import re

from datetime import date, datetime, timedelta

import duckdb
import pyarrow.parquet as pq
from dagster import AssetCheckSeverity, AssetKey, AssetSelection, materialize

from mta_assets.lake.resource import RecordedWeeks
from mta_assets.ridership.checks import ridership_results
from mta_assets.turnstile.lake_checks import inspect_stored_week, lake_results
from mta_assets.warehouse.loads import warehouse_result
from mta_assets.turnstile.parsing import parse_turnstile_file
from mta_assets.warehouse import DuckDBWarehouse
from mta_assets.defs.turnstile_lake_checks import lake_checks
from mta_assets_tests.lib.project import LAKE_AND_WAREHOUSE, Project, failure_message, lake_resource, stored
from loopback.turnstile_files import HEADER, line, turnstiles, week_file, week_lines

WEEK, NAME = "2023-06-03", "turnstile_230603.txt"
SATURDAY = date.fromisoformat(WEEK)
BOOTH = turnstiles(1)[0]


def evaluations(result) -> dict[str, tuple[bool, AssetCheckSeverity, dict]]:
    return {
        evaluation.check_name: (evaluation.passed, evaluation.severity, evaluation.metadata)
        for evaluation in result.get_asset_check_evaluations()
    }


def test_clean_weeks_pass_every_check(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    project.run("2023-05-27")
    result = project.run(WEEK)
    assert result.success
    assert all(passed for passed, _, _ in evaluations(result).values())
    assert set(evaluations(result)) == {
        "lake_columns", "lake_readings_in_week", "lake_no_duplicate_readings", "lake_week_complete", "warehouse_matches_lake",
    }


def test_a_stray_reading_outside_the_week_is_stored_and_flagged(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    lines = week_lines(SATURDAY, turnstile_count=20)
    late = line(BOOTH, datetime(2023, 6, 9, 1), "REGULAR", 10, 10)  # dated a week too late
    mirror.files[NAME] = "\n".join([HEADER, *lines, late]).encode()
    result = project.run(WEEK)
    passed, severity, metadata = evaluations(result)["lake_readings_in_week"]
    assert (passed, severity, metadata["readings_outside"].value) == (False, AssetCheckSeverity.WARN, 1)
    assert result.success
    assert project.rows(WEEK) == len(lines) + 1


def test_a_file_with_many_readings_outside_its_week_is_refused(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    lines = week_lines(SATURDAY, turnstile_count=20)
    late = [line(BOOTH, datetime(2023, 6, 9) + timedelta(minutes=minute), "REGULAR", 10, 10) for minute in range(150)]
    mirror.files[NAME] = "\n".join([HEADER, *lines, *late]).encode()
    result = project.run(WEEK)
    assert not result.success
    assert re.search(
        r"Week 2023-06-03: turnstile_230603.txt: 150 of .* readings .* fall outside its week \(2023-05-27 to 2023-06-02\)",
        failure_message(result),
    )
    assert project.lake_files() == []
    assert project.rows(WEEK) == 0


def test_duplicate_readings_are_flagged_without_blocking(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    lines = week_lines(SATURDAY, turnstile_count=20)
    # The same readings with other counters: exact repeats of a line would be removed when parsed.
    recounted = [text.rstrip()[:-21] + f"{int(text.rstrip()[-21:-11]) + 1:010d}" + text.rstrip()[-11:] for text in lines[5:7]]
    mirror.files[NAME] = "\n".join([HEADER, *lines, *recounted]).encode()
    result = project.run(WEEK)
    passed, severity, metadata = evaluations(result)["lake_no_duplicate_readings"]
    assert (passed, severity, metadata["duplicates"].value) == (False, AssetCheckSeverity.WARN, 2)
    assert result.success
    assert project.rows(WEEK) == len(lines) + 2


def stored_week(tmp_path, drop_column: str | None = None, saturday: date = SATURDAY) -> RecordedWeeks:
    """The week parsed and stored in a lake folder, optionally without one column."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / f"turnstile_{saturday:%y%m%d}.txt"
    source.write_bytes(week_file(saturday, turnstile_count=5))
    parsed = parse_turnstile_file(source, saturday, 0.01, tmp_path / "parsed.parquet")
    if drop_column:
        pq.write_table(pq.read_table(parsed.path).drop_columns([drop_column]), parsed.path)
    week = stored(lake_resource(tmp_path / "lake"), parsed)
    return RecordedWeeks({saturday.isoformat(): week})


def column_check(lake_weeks: RecordedWeeks):
    findings = {key: inspect_stored_week(week.lake_week) for key, week in lake_weeks.items()}
    return next(result for result in lake_results(findings, {}, min_devices=1) if result.check_name == "lake_columns")


def test_a_stored_week_with_other_columns_fails_the_column_check(tmp_path):
    result = column_check(stored_week(tmp_path, drop_column="division"))
    assert (result.passed, result.severity) == (False, AssetCheckSeverity.ERROR)
    assert "division" not in result.metadata["failing_weeks"].value[WEEK]
    assert column_check(stored_week(tmp_path)).passed


def test_the_lake_checks_refuse_to_run_without_a_week(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    result = materialize(LAKE_AND_WAREHOUSE, selection=AssetSelection.checks(lake_checks), instance=project.instance, resources=project.resources(), raise_on_error=False)
    assert not result.success
    assert "materialize turnstile_lake for one or more weeks" in failure_message(result)


def test_a_warehouse_week_that_differs_from_the_lake_fails(tmp_path):
    lake_weeks = stored_week(tmp_path)
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    warehouse.replace_weeks(lake_weeks.lake_weeks())
    assert warehouse_result(AssetKey("turnstile_warehouse"), lake_weeks, warehouse).passed
    rows = lake_weeks[WEEK].lake_week.row_count()
    # The week changed after its load committed (another writer, a partial reload): the check queries it anew.
    table = warehouse.name("turnstile")
    with duckdb.connect(warehouse.path) as connection:
        connection.execute(f"DELETE FROM {table} WHERE reading_at = (SELECT MIN(reading_at) FROM {table})")
        connection.execute(f"UPDATE {table} SET exits = exits + 1 WHERE reading_at = (SELECT MAX(reading_at) FROM {table})")
    (held,) = warehouse.week_row_counts([SATURDAY]).values()
    result = warehouse_result(AssetKey("turnstile_warehouse"), lake_weeks, warehouse)
    assert (result.passed, result.severity) == (False, AssetCheckSeverity.ERROR)
    assert re.fullmatch(
        rf"warehouse {held:,} rows, not {rows:,}, sum\(entries\) [0-9,]+, not [0-9,]+, sum\(exits\) [0-9,]+, not [0-9,]+ as in the lake",
        result.metadata["failing_weeks"].value[WEEK],
    )


def test_a_week_missing_from_the_warehouse_fails_the_check(tmp_path):
    lake_weeks = stored_week(tmp_path)
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    warehouse.replace_weeks(lake_weeks.lake_weeks())
    result = warehouse_result(AssetKey("turnstile_warehouse"), stored_week(tmp_path / "other", saturday=date(2023, 6, 10)), warehouse)
    assert not result.passed
    assert result.metadata["failing_weeks"].value["2023-06-10"].startswith("warehouse 0 rows, not ")


def test_excluded_intervals_fail_and_an_odd_day_is_flagged():
    days = [date(2023, 5, 27) + timedelta(days=n) for n in range(7)]
    earlier = {day - timedelta(weeks=weeks): 2_500_000 for day in days for weeks in range(1, 5)}
    totals = {day: 2_400_000 for day in days}
    totals[days[2]] = 900_000  # Memorial Day, 2023-05-29
    counted, plausible = ridership_results({SATURDAY: (200_000, 12_000)}, totals, earlier)
    assert (counted.passed, counted.severity) == (False, AssetCheckSeverity.WARN)
    assert counted.metadata["failing_weeks"].value == {WEEK: "12,000 of 200,000 intervals left out (6.0%)"}
    assert (plausible.passed, plausible.severity) == (False, AssetCheckSeverity.WARN)
    assert list(plausible.metadata["failing_weeks"].value) == ["2023-05-29"]
    assert all(result.passed for result in ridership_results({SATURDAY: (200_000, 1_793)}, {days[0]: 2_400_000}, earlier))


def test_day_totals_with_no_earlier_week_are_not_a_result():
    _, plausible = ridership_results({SATURDAY: (200_000, 0)}, {date(2023, 5, 27): 2_400_000}, {})
    assert plausible == "ridership_day_totals_plausible: no day of the run has the same weekday loaded in the 4 weeks before it"
