"""Hourly ridership through the lake and the warehouse, from a SODA server on loopback, as Dagster runs it."""

from collections.abc import Mapping
from datetime import date, timedelta

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from loopback.soda_server import STATION_COMPLEXES, SodaMisbehaviour, hourly_rows
from mta_assets.warehouse.loads import warehouse_result
from mta_assets.defs.hourly_ridership import hourly_lake_checks, hourly_ridership_lake, hourly_ridership_warehouse
from mta_assets.hourly.source import HourlyRidershipSource
from mta_assets.lake.facts import Fingerprint, latest_facts
from mta_assets.lake.week import HOURLY_OBJECTS
from mta_assets.lib.tables import HOURLY_RIDERSHIP
from mta_assets.warehouse import DuckDBWarehouse
from mta_assets_tests.lib.project import failure_message, lake_resource
from mta_assets_tests.hourly.test_source import WUJG, around

WEEK = date(2023, 6, 3)
KEY = WEEK.isoformat()


class HourlyProject:
    """A lake folder, a DuckDB file and an instance; hourly weeks read from the SODA server `soda`."""

    def __init__(self, soda, tmp_path, warehouse=None, instance=None):
        self.soda = soda
        self.lake = lake_resource(tmp_path / "lake")
        self.warehouse = warehouse or DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
        self.instance = instance or DagsterInstance.ephemeral()

    def run(self, key: str | None = KEY, tags: Mapping[str, str] | None = None):
        """A run of week `key`, or of the range of weeks its `tags` name (key None), as a sensor requests it."""
        source = HourlyRidershipSource(base_url=self.soda.url, page_rows=500, backoff_seconds=0, max_attempts=3)
        return materialize(
            [hourly_ridership_lake, hourly_lake_checks, hourly_ridership_warehouse],
            partition_key=key,
            tags=tags,
            instance=self.instance,
            raise_on_error=False,
            resources={"hourly_source": source, "lake": self.lake, "warehouse": self.warehouse},
        )

    def totals(self, week: date = WEEK) -> tuple[int, int]:
        table = self.warehouse.name(HOURLY_RIDERSHIP.name)
        ((rows, riders),) = self.warehouse.query(f"SELECT count(*), sum(ridership) FROM {table} WHERE week_ending = DATE '{week}'")
        return rows, riders or 0

    def lake_md5(self, week: date = WEEK) -> str | None:
        return self.lake.storage().md5(HOURLY_OBJECTS.object_name(week, self.lake.lake_format))


WEEK_ROW = "transit_timestamp, station_complex_id, payment_method, fare_class_category, ridership, transfers"


def warehouse_rows(project: HourlyProject, week: date = WEEK) -> list[tuple]:
    table = project.warehouse.name(HOURLY_RIDERSHIP.name)
    rows = project.warehouse.query(f"SELECT {WEEK_ROW} FROM {table} WHERE week_ending = DATE '{week}'")
    return sorted((f"{at:%Y-%m-%dT%H:%M:%S}.000", *rest) for at, *rest in rows)


def dataset_rows(soda, week: date = WEEK, dataset_id: str = WUJG) -> list[tuple]:
    """The week's rows as the dataset holds them now, in warehouse_rows' form."""
    first, end = f"{week - timedelta(days=7)}", f"{week}"
    in_week = [row for row in soda.datasets[dataset_id] if first <= row["transit_timestamp"] < end]
    return sorted(tuple(int(row[name]) if name in ("ridership", "transfers") else row[name] for name in WEEK_ROW.split(", ")) for row in in_week)


def week_rows(rows: list[dict]) -> list[dict]:
    """The rows of WEEK among `rows` (the same dicts), in :id order: pages of 500 are 0-499, 500-999, ..."""
    return [row for row in rows if "2023-05-27" <= row["transit_timestamp"] < "2023-06-03"]


def _delete_with_the_ridership_of_the_rows_a_shift_skips(soda, week):
    # A row of page 1 goes while page 2 is read; read by $offset, page 2 (or 3) would skip its first row, and
    # the same ridership would keep the week's count and sum.
    week[500]["ridership"] = week[1000]["ridership"] = week[10]["ridership"]
    return lambda server: server.delete(WUJG, lambda row: row is week[10])


def _insert_with_the_ridership_of_the_row_a_shift_repeats(soda, week):
    # A row sorting into page 1 arrives while page 2 is read: by $offset, page 1's last row would come again.
    def insert(server):
        fields = {name: value for name, value in week[10].items() if not name.startswith(":")}
        server.insert(WUJG, [{**fields, ":id": week[10][":id"] + "8", "fare_class_category": "OMNY - Students", "ridership": week[499]["ridership"]}])

    return insert


def _revise(soda, week):
    return lambda server: server.revise(WUJG, lambda row: row is week[10], ridership=str(int(week[10]["ridership"]) + 7))


def _revise_keeping_the_totals(soda, week):
    week[20]["ridership"] = "100"

    def move_riders(server):
        server.revise(WUJG, lambda row: row is week[10], ridership=str(int(week[10]["ridership"]) + 5))
        server.revise(WUJG, lambda row: row is week[20], ridership="95")

    return move_riders


def _correct_transfers(soda, week):
    return lambda server: server.revise(WUJG, lambda row: row is week[10], transfers=str(int(week[10]["transfers"]) + 3))


@pytest.mark.parametrize(
    "change",
    [
        _delete_with_the_ridership_of_the_rows_a_shift_skips,
        _insert_with_the_ridership_of_the_row_a_shift_repeats,
        _revise,
        _revise_keeping_the_totals,
        _correct_transfers,
    ],
    ids=["delete, equal ridership", "insert", "revision", "revision keeping the totals", "transfers-only correction"],
)
def test_a_change_while_the_week_is_read_ends_in_exactly_the_datasets_rows(soda, tmp_path, change):
    rows = around(WEEK)
    soda.datasets[WUJG] = rows
    soda.changes_before_page[2] = change(soda, week_rows(rows))
    project = HourlyProject(soda, tmp_path)
    result = project.run()
    assert result.success, failure_message(result)
    assert not soda.changes_before_page  # the change was made, during the read
    assert warehouse_rows(project) == dataset_rows(soda)
    (materialization,) = [event for event in result.get_asset_materialization_events() if event.asset_key == hourly_ridership_lake.key]
    assert materialization.materialization.metadata["source_reads"].value == 2


def source_totals(rows: list[dict]) -> tuple[int, int]:
    return len(rows), sum(int(float(row["ridership"])) for row in rows)


def test_a_week_loads_exactly_and_twice_without_doubling(soda, tmp_path, warehouse):
    soda.datasets[WUJG] = around(WEEK)
    project = HourlyProject(soda, tmp_path, warehouse)
    expected = source_totals(hourly_rows(WEEK))
    for _ in range(2):
        result = project.run()
        assert result.success, failure_message(result)
        assert project.totals() == expected
    (materialization, *_) = [event for event in result.get_asset_materialization_events() if event.asset_key == hourly_ridership_lake.key]
    metadata = materialization.materialization.metadata
    transfers = sum(int(row["transfers"]) for row in hourly_rows(WEEK))
    # The fingerprint as the week's facts record it, what the hourly sensor compares.
    recorded = latest_facts(project.instance, hourly_ridership_lake.key, [WEEK])[WEEK].fingerprint
    assert recorded == Fingerprint(expected[0], expected[1], transfers, "2023-11-14T22:13:20.000Z")
    assert metadata["pages_fetched"].value == -(-expected[0] // 500)
    assert metadata["open_data_datasets"].value == WUJG
    assert ":id%20%3E" not in metadata["source_url"].value and "$order=:id" in metadata["source_url"].value
    checks = {check.check_name: check.passed for check in result.get_asset_check_evaluations()}
    assert checks == {"hourly_lake_week_complete": True, "warehouse_matches_lake": True}


def test_a_week_across_new_year_reads_both_datasets(soda, tmp_path):
    week = date(2020, 1, 4)
    rows = hourly_rows(week)
    soda.datasets["t69i-h2me"] = [row for row in rows if row["transit_timestamp"] < "2020"]
    soda.datasets[WUJG] = [row for row in rows if row["transit_timestamp"] >= "2020"] + hourly_rows(date(2020, 1, 11))
    project = HourlyProject(soda, tmp_path)
    result = project.run(week.isoformat())
    assert result.success, failure_message(result)
    assert project.totals(week) == source_totals(rows)
    assert {row[0] for row in project.warehouse.query("SELECT DISTINCT dataset_id FROM mta.hourly_ridership")} == {"t69i-h2me", WUJG}


def lake_check(result):
    (check,) = [check for check in result.get_asset_check_evaluations() if check.check_name == "hourly_lake_week_complete"]
    return check


def _monday_with_one_complex(rows):
    return [row for row in rows if not row["transit_timestamp"].startswith("2023-05-29") or row["station_complex_id"] == "611"]


def _monday_with_one_fare_class(rows):
    return [row for row in rows if not row["transit_timestamp"].startswith("2023-05-29") or row["fare_class_category"] == "OMNY - Full Fare"]


@pytest.mark.parametrize(
    ("change", "shortfall"),
    [
        (
            _monday_with_one_complex,
            "1 station complexes on Monday 2023-05-29 where a day has about 3 (its fullest day; no week around it is stored",
        ),
        (_monday_with_one_fare_class, "72 rows on Monday 2023-05-29, 25% of the week's median day (288)"),
    ],
    ids=["a day with one station complex", "a day far below the others"],
)
def test_a_week_with_every_hour_but_a_short_day_fails_the_lake_check_and_stays_out_of_the_warehouse(soda, tmp_path, change, shortfall):
    soda.datasets[WUJG] = change(around(WEEK))
    project = HourlyProject(soda, tmp_path)
    result = project.run()
    assert not result.success
    check = lake_check(result)
    assert not check.passed and check.severity.value == "ERROR"
    assert shortfall in check.metadata["failing_weeks"].data[KEY]
    # Stored and flagged, never loaded: the warehouse step did not run.
    assert project.lake_md5() is not None
    assert [event.asset_key for event in result.get_asset_materialization_events()] == [hourly_ridership_lake.key]


def test_a_week_with_fewer_station_complexes_than_the_stored_weeks_around_it_fails_the_lake_check(soda, tmp_path):
    earlier = date(2023, 5, 27)
    soda.datasets[WUJG] = hourly_rows(earlier, complexes=STATION_COMPLEXES) + around(WEEK)  # 6 complexes, then 3
    project = HourlyProject(soda, tmp_path)
    assert project.run(earlier.isoformat()).success
    result = project.run()
    assert not result.success
    assert lake_check(result).metadata["failing_weeks"].data[KEY].startswith(
        "3 station complexes on Saturday 2023-05-27 where a day has about 6 (the median of the 1 stored weeks 2023-05-27 to 2023-05-27)"
    )
    assert project.totals() == (0, 0)


def _timestamp_in_another_format(rows):
    rows[len(rows) // 2]["transit_timestamp"] = "2023-05-30 10:00:00"


def _negative_ridership(rows):
    rows[len(rows) // 2]["ridership"] = "-4"


def _fractional_ridership(rows):
    rows[len(rows) // 2]["ridership"] = "4.5"


def _unknown_complex(rows):
    rows[len(rows) // 2]["station_complex_id"] = None


def _columns_changed(rows):
    for row in rows:
        row["riders"] = row.pop("ridership")


def _not_published_yet(rows):
    rows[:] = [row for row in rows if row["transit_timestamp"] < "2023-06-02T20"]


@pytest.mark.parametrize(
    ("change", "misbehaviour", "message"),
    [
        (_timestamp_in_another_format, None, "2023-05-30 10:00:00"),
        (_negative_ridership, None, "ridership '-4'"),
        (_fractional_ridership, None, "ridership '4.5'"),
        (_unknown_complex, None, "station complex"),
        (_columns_changed, None, "ridership"),
        (_not_published_yet, None, "2023-06-02"),
        (None, SodaMisbehaviour(repeat_page=True), "not increasing"),
        (None, SodaMisbehaviour(throttled=1000, retry_after="0"), "MTA_SOCRATA_APP_TOKEN"),
    ],
    ids=["timestamp format", "negative", "fractional", "unknown complex", "columns changed", "not published yet", "repeated page", "429 storm"],
)
def test_bad_input_fails_naming_the_week_and_dataset_and_changes_nothing(soda, tmp_path, change, misbehaviour, message):
    soda.datasets[WUJG] = around(WEEK)
    project = HourlyProject(soda, tmp_path)
    assert project.run().success
    stored = (project.totals(), project.lake_md5())

    revised = around(WEEK, seed=1)
    if change:
        change(revised)
    soda.datasets[WUJG] = revised
    if misbehaviour:
        soda.misbehaviours[WUJG] = misbehaviour
    result = project.run()
    assert not result.success
    text = failure_message(result)
    assert "Week 2023-06-03" in text and WUJG in text and message in text, text
    assert (project.totals(), project.lake_md5()) == stored
    assert not list((tmp_path / "lake").glob("*.partial"))


def test_observing_the_datasets_records_their_rows_updated_at_as_data_versions(soda):
    from dagster import AssetKey, AssetSelection, Definitions, define_asset_job

    from mta_assets.defs.hourly_ridership import DATASET_KEYS, hourly_ridership_datasets

    for dataset_id, updated in (("t69i-h2me", 1_600_000_000), (WUJG, 1_700_000_000), ("5wq4-mkjj", 1_750_000_000)):
        soda.datasets[dataset_id] = hourly_rows(WEEK)[:3]
        soda.rows_updated_at[dataset_id] = updated
    instance = DagsterInstance.ephemeral()
    # As the UI's "Observe" button runs it: a job of the observable assets.
    defs = Definitions(
        assets=[hourly_ridership_datasets],
        jobs=[define_asset_job("observe", selection=AssetSelection.assets(*DATASET_KEYS))],
        resources={"hourly_source": HourlyRidershipSource(base_url=soda.url)},
    )
    assert defs.resolve_job_def("observe").execute_in_process(instance=instance).success
    versions = {}
    for dataset_id in ("t69i_h2me", "wujg_7c2s", "5wq4_mkjj"):
        (record,) = instance.fetch_observations(AssetKey(f"open_data_hourly_ridership_{dataset_id}"), limit=1).records
        versions[dataset_id] = record.asset_observation.tags["dagster/data_version"]
    assert versions == {"t69i_h2me": "1600000000", "wujg_7c2s": "1700000000", "5wq4_mkjj": "1750000000"}


def test_a_transfers_correction_in_the_warehouse_alone_fails_the_warehouse_check(soda, tmp_path):
    soda.datasets[WUJG] = around(WEEK)
    project = HourlyProject(soda, tmp_path)
    assert project.run().success
    lake_weeks = project.lake.recorded_weeks(project.instance, HOURLY_OBJECTS, [KEY])
    assert warehouse_result(hourly_ridership_warehouse.key, lake_weeks, project.warehouse).passed
    # Rows and ridership as loaded, one hour's transfers changed afterwards: only the count columns' sums tell.
    table = project.warehouse.name(HOURLY_RIDERSHIP.name)
    with duckdb.connect(project.warehouse.path) as connection:
        connection.execute(f"UPDATE {table} SET transfers = transfers + 7 WHERE transit_timestamp = (SELECT MIN(transit_timestamp) FROM {table}) AND station_complex_id = (SELECT MIN(station_complex_id) FROM {table})")
    result = warehouse_result(hourly_ridership_warehouse.key, lake_weeks, project.warehouse)
    assert not result.passed
    failing = result.metadata["failing_weeks"].value[KEY]
    assert "sum(transfers)" in failing and "rows" not in failing and "sum(ridership)" not in failing


def test_the_week_clocks_spring_forward_has_no_0200_hour_and_loads_whole(soda, tmp_path):
    # 2023-03-12 02:00 does not exist in New York: a dataset of local hours has no rows for it.
    spring_forward = date(2023, 3, 18)
    soda.datasets[WUJG] = [row for row in around(spring_forward) if not row["transit_timestamp"].startswith("2023-03-12T02")]
    project = HourlyProject(soda, tmp_path)
    result = project.run(spring_forward.isoformat())
    assert result.success, failure_message(result)
    assert all(evaluation.passed for evaluation in result.get_asset_check_evaluations())
    assert project.totals(spring_forward) == source_totals([row for row in hourly_rows(spring_forward) if not row["transit_timestamp"].startswith("2023-03-12T02")])
