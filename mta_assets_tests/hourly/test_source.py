"""HourlyRidershipSource against a SODA server on loopback: a week of hourly ridership read exactly."""

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pyarrow.parquet as pq
import pytest

from loopback.soda_server import HOURLY_FIELDS, SodaMisbehaviour, SodaServer, hourly_rows
from mta_assets.lake.facts import NO_ROWS, Fingerprint
from mta_assets.hourly.source import (
    HOURLY_DATASETS,
    DatasetVersion,
    HourlyRidershipSource,
    HourlyRowsInvalid,
    HourlyWeekChanging,
    WeekNotInHourlyData,
)
from mta_assets.open_data.soda import DatasetColumnsChanged, UnstablePaging
from mta_assets.lib.tables import HOURLY_RIDERSHIP
from mta_assets.lib.week_source import SourceError, SourceUnavailable, WeekNotPublished
from mta_assets_tests.lib.logs import all_output

WEEK = date(2023, 6, 3)  # 2023-05-27 to 2023-06-02, in wujg-7c2s
WUJG = "wujg-7c2s"
PAGE_ROWS = 500
TOTALS = "count(*) AS rows, sum(ridership) AS ridership, sum(transfers) AS transfers"
VERSION = "transit_timestamp, count(*) AS rows, max(:updated_at) AS updated_at"
WEEK_WHERE = "transit_timestamp >= '2023-05-27T00:00:00' AND transit_timestamp < '2023-06-03T00:00:00'"


def source_for(soda: SodaServer, **overrides) -> HourlyRidershipSource:
    """A source on the loopback server, with small pages and no backoff, so that retries cost nothing."""
    settings = {"base_url": soda.url, "page_rows": PAGE_ROWS, "backoff_seconds": 0, "read_timeout_seconds": 5, **overrides}
    return HourlyRidershipSource(**settings)


def read_into(source: HourlyRidershipSource, week: date, tmp_path: Path):
    folder = tmp_path / "hourly"
    folder.mkdir(exist_ok=True)
    return source.read_week(week, folder)


def around(week: date, **options) -> list[dict]:
    """The week's rows with a day of the weeks before and after it around them, as a dataset holds them."""
    before = [row for row in hourly_rows(week - timedelta(days=7), **options) if row["transit_timestamp"] >= f"{week - timedelta(days=8)}"]
    after = [row for row in hourly_rows(week + timedelta(days=7), **options) if row["transit_timestamp"] < f"{week + timedelta(days=1)}"]
    return before + hourly_rows(week, **options) + after


def expected(rows: list[dict], week: date, dataset_id: str) -> list[dict]:
    """The rows as HOURLY_RIDERSHIP holds them, worked out here, apart from the code under test."""
    return [
        {
            "transit_timestamp": datetime.strptime(row["transit_timestamp"], "%Y-%m-%dT%H:%M:%S.000"),
            "transit_mode": row.get("transit_mode"),
            "station_complex_id": row["station_complex_id"],
            "station_complex": row["station_complex"],
            "borough": row["borough"],
            "payment_method": row["payment_method"],
            "fare_class_category": row.get("fare_class_category"),
            "ridership": int(float(row["ridership"])),
            "transfers": int(float(row["transfers"])),
            "latitude": float(row["latitude"]),
            "longitude": float(row["longitude"]),
            "dataset_id": dataset_id,
            "week_ending": week,
        }
        for row in rows
    ]


def stored(read) -> list[dict]:
    # Parquet keeps timestamps in milliseconds: the cast gives the table's own types back.
    return pq.read_table(read.path).cast(HOURLY_RIDERSHIP.arrow_schema).to_pylist()


def queries(soda: SodaServer, dataset_id: str) -> list[dict]:
    return [request.params for request in soda.requests if request.path == f"/resource/{dataset_id}.csv"]


def row_reads(soda: SodaServer, dataset_id: str) -> list[dict]:
    """The queries of pages of rows (not aggregates) sent for `dataset_id`."""
    return [params for params in queries(soda, dataset_id) if params.get("$select") == ":id, *"]


def selects(soda: SodaServer, dataset_id: str) -> list[str]:
    """The aggregate queries sent for `dataset_id`, by their $select."""
    return [params["$select"] for params in queries(soda, dataset_id) if params.get("$select", ":id, *") != ":id, *"]


def after_ids(soda: SodaServer, dataset_id: str) -> list[str | None]:
    """The :id each page of rows was asked to start after (None: from the first)."""
    return [(re.findall(r":id > '([^']*)'", params["$where"]) or [None])[0] for params in row_reads(soda, dataset_id)]


def ridership(rows: list[dict]) -> int:
    return sum(int(float(row["ridership"])) for row in rows)


def left_in(tmp_path: Path) -> list[str]:
    return sorted(path.name for path in (tmp_path / "hourly").iterdir())


def with_value(rows: list[dict], index: int, **values) -> list[dict]:
    """`rows` with row `index` changed."""
    return [{**row, **values} if position == index else row for position, row in enumerate(rows)]


# --- weeks read exactly ----------------------------------------------------------------------------------


def test_a_week_over_several_pages_is_every_row_of_the_week_once(soda, tmp_path):
    rows = hourly_rows(WEEK)
    soda.datasets[WUJG] = around(WEEK)
    read = read_into(source_for(soda), WEEK, tmp_path)
    assert stored(read) == expected(rows, WEEK, WUJG)
    assert pq.read_schema(read.path).names == list(HOURLY_RIDERSHIP.column_names)
    assert (read.rows, read.ridership) == (len(rows), ridership(rows))
    pages = len(rows) // PAGE_ROWS + 1
    assert pages > 3 and read.pages == pages
    assert (read.first_hour, read.last_hour) == (datetime(2023, 5, 27, 0), datetime(2023, 6, 2, 23))
    assert (read.days, read.station_complexes) == (7, 3)
    assert read.dataset_ids == (WUJG,) and read.rejected_lines == ()
    assert left_in(tmp_path) == ["hourly_ridership_230603.parquet"]
    # The newest hour, the rows per hour, the pages, the dataset's own totals, the rows per hour again.
    assert selects(soda, WUJG) == ["max(transit_timestamp) AS newest", VERSION, TOTALS, VERSION]
    # Each page the rows after the last :id of the one before.
    ids = sorted(row[":id"] for row in soda.datasets[WUJG] if "2023-05-27" <= row["transit_timestamp"] < "2023-06-03")
    assert after_ids(soda, WUJG) == [None] + [ids[PAGE_ROWS * page - 1] for page in range(1, pages)]
    assert len(read.urls) == pages + 4 and "max(transit_timestamp)" in read.urls[0] and "max(:updated_at)" in read.urls[-1]
    assert unquote(read.urls[-2]) == f"{soda.url}/resource/{WUJG}.csv?$select={TOTALS}&$where={WEEK_WHERE}"
    assert read.urls[3] == (
        f"{soda.url}/resource/{WUJG}.csv?$select=:id%2C%20*&$where=transit_timestamp%20%3E%3D%20%272023-05-27T00:00:00%27%20AND%20"
        f"transit_timestamp%20%3C%20%272023-06-03T00:00:00%27%20AND%20:id%20%3E%20%27{after_ids(soda, WUJG)[1]}%27"
        f"&$order=:id&$limit={PAGE_ROWS}"
    )
    assert read.attempts == 1


def test_full_pages_ask_for_the_most_rows_socrata_gives(soda, tmp_path):
    soda.datasets[WUJG] = hourly_rows(WEEK)
    read = read_into(HourlyRidershipSource(base_url=soda.url), WEEK, tmp_path)
    assert unquote(read.urls[2]) == f"{soda.url}/resource/{WUJG}.csv?$select=:id, *&$where={WEEK_WHERE}&$order=:id&$limit=50000"
    assert read.pages == 1


def test_a_week_across_new_year_reads_both_datasets_each_for_its_days(soda, tmp_path):
    week = date(2020, 1, 4)  # 2019-12-28 to 2020-01-03
    rows = hourly_rows(week)
    old_year = [row for row in around(week) if row["transit_timestamp"] < "2020"]
    new_year = [row for row in around(week) if row["transit_timestamp"] >= "2020"]
    soda.datasets["t69i-h2me"], soda.datasets[WUJG] = old_year, new_year
    read = read_into(source_for(soda), week, tmp_path)
    assert read.dataset_ids == ("t69i-h2me", WUJG)
    in_2019 = [row for row in rows if row["transit_timestamp"] < "2020"]
    assert stored(read) == expected(in_2019, week, "t69i-h2me") + expected(rows[len(in_2019) :], week, WUJG)
    assert (read.rows, read.days) == (len(rows), 7)
    assert {params["$where"].split(" AND :id")[0] for params in row_reads(soda, "t69i-h2me")} == {
        "transit_timestamp >= '2019-12-28T00:00:00' AND transit_timestamp < '2020-01-01T00:00:00'"
    }
    assert {params["$where"].split(" AND :id")[0] for params in row_reads(soda, WUJG)} == {
        "transit_timestamp >= '2020-01-01T00:00:00' AND transit_timestamp < '2020-01-04T00:00:00'"
    }


def test_the_older_version_of_wujg_is_read_into_the_same_columns(soda, tmp_path):
    rows = hourly_rows(WEEK, old_version=True)
    assert rows[0]["ridership"].endswith(".0") and "routes" in rows[0] and "transit_mode" not in rows[0]
    soda.datasets[WUJG] = around(WEEK, old_version=True)
    read = read_into(source_for(soda), WEEK, tmp_path)
    table = stored(read)
    assert table == expected(rows, WEEK, WUJG)
    assert {row["transit_mode"] for row in table} == {row["fare_class_category"] for row in table} == {None}
    assert read.ridership == ridership(rows)


def test_the_first_week_reads_the_days_from_2017_on(soda, tmp_path):
    week = date(2017, 1, 7)  # 2016-12-31 to 2017-01-06: no dataset holds the first day
    rows = [row for row in hourly_rows(week) if row["transit_timestamp"] >= "2017"]
    soda.datasets["t69i-h2me"] = rows
    read = read_into(source_for(soda), week, tmp_path)
    assert stored(read) == expected(rows, week, "t69i-h2me")
    assert (read.first_hour, read.days) == (datetime(2017, 1, 1), 6)


def test_a_week_before_2017_is_not_in_hourly_data_without_a_request(soda, tmp_path):
    with pytest.raises(WeekNotInHourlyData, match=r"Week 2016-12-31: NY Open Data's hourly ridership begins on 2017-01-01"):
        read_into(source_for(soda), date(2016, 12, 31), tmp_path)
    assert len(source_for(soda).missing_hours(date(2016, 12, 31))) == 168
    assert soda.requests == []


# --- the week's checks -----------------------------------------------------------------------------------


def test_a_week_the_dataset_does_not_hold_yet_is_not_published_and_no_row_is_read(soda, tmp_path):
    soda.datasets[WUJG] = [row for row in hourly_rows(WEEK) if row["transit_timestamp"] < "2023-06-02T23"]
    with pytest.raises(
        WeekNotInHourlyData,
        match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} holds hours up to 2023-06-02 22:00, not yet the week's "
        r"last hour \(2023-06-02 23:00\): the week is not published yet. Materialize it again",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert issubclass(WeekNotInHourlyData, WeekNotPublished)
    assert row_reads(soda, WUJG) == [] and left_in(tmp_path) == []


def test_a_week_missing_from_a_dataset_that_holds_later_hours_is_not_in_hourly_data(soda, tmp_path):
    soda.datasets[WUJG] = hourly_rows(WEEK + timedelta(days=7))
    with pytest.raises(
        WeekNotInHourlyData,
        match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} has no rows from 2023-05-27 00:00 to 2023-06-02 23:00, "
        "though it holds later hours",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert selects(soda, WUJG)[-1] == VERSION and row_reads(soda, WUJG) == [] and left_in(tmp_path) == []


def test_an_empty_dataset_holds_no_week(soda, tmp_path):
    soda.datasets[WUJG], soda.empty_fields[WUJG] = [], HOURLY_FIELDS
    with pytest.raises(WeekNotInHourlyData, match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} holds no rows"):
        read_into(source_for(soda), WEEK, tmp_path)


def test_a_missing_dataset_names_the_week_and_the_dataset(soda, tmp_path):
    with pytest.raises(
        WeekNotInHourlyData,
        match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} .* HTTP 404: dataset.missing: .* Check MTA_OPEN_DATA_URL and "
        r"the dataset id in mta_assets/hourly/source.py",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert left_in(tmp_path) == []


def test_a_dataset_whose_columns_changed_fails_naming_the_field(soda, tmp_path):
    renamed = [{("entries" if name == "ridership" else name): value for name, value in row.items()} for row in hourly_rows(WEEK)]
    soda.datasets[WUJG] = renamed
    with pytest.raises(
        DatasetColumnsChanged,
        match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} has no field ridership \(its fields: .*entries.*\): its "
        r"columns changed. Map the new fields in mta_assets/hourly/source.py",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert left_in(tmp_path) == []


@pytest.mark.parametrize(
    "timestamp",
    [
        "2023-05-30 08:00:00", "2023-05-30T08:00", "2023-05-30T08:00:00Z", "2023-05-30T08:00:00.5", "2023-05-30T25:00:00",
        "05/30/2023 08:00:00 AM", None,
    ],  # fmt: skip
)
def test_a_timestamp_in_another_form_fails_the_week(soda, tmp_path, timestamp):
    rows = hourly_rows(WEEK)
    soda.datasets[WUJG] = with_value(rows, 3 * PAGE_ROWS // 2, transit_timestamp=timestamp)  # on the second page
    soda.misbehaviours[WUJG] = SodaMisbehaviour(ignore_where=timestamp is None or timestamp.startswith("05"))
    with pytest.raises(
        HourlyRowsInvalid,
        match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} has 1 rows with a transit_timestamp that is not "
        rf"YYYY-MM-DDTHH:MM:SS\[\.fff\], the first at station complex '\d+', {re.escape(repr(timestamp or ''))}; nothing "
        r"was stored",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    # The first page was written (its file is gone too); the third was read ahead while the second was checked.
    assert len(row_reads(soda, WUJG)) == 3
    assert left_in(tmp_path) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ridership", "-3"), ("ridership", "2.5"), ("ridership", "-3.0"), ("ridership", None), ("ridership", "many"),
        ("ridership", "1" + "0" * 19), ("transfers", "1.5"),
        # What a cast to int64 alone would take: hex, 19 digits within int64, a negative zero.
        ("ridership", "0x10"), ("transfers", "1" + "0" * 18), ("ridership", "-0"),
    ],  # fmt: skip
)
def test_a_count_that_is_not_a_whole_number_fails_the_week(soda, tmp_path, field, value):
    soda.datasets[WUJG] = with_value(hourly_rows(WEEK), 700, **{field: value})
    with pytest.raises(
        HourlyRowsInvalid,
        match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} has 1 rows with a {field} that is not a whole number of "
        rf"at least 0 \(and at most 18 digits\), the first at station complex '\d+', '2023-05-\d\dT\d\d:00:00.000' \({field} {re.escape(repr(value or ''))}\); "
        r"nothing was stored",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert left_in(tmp_path) == []


@pytest.mark.parametrize("complex_id", [None, ""])
def test_a_row_without_a_station_complex_fails_the_week(soda, tmp_path, complex_id):
    soda.datasets[WUJG] = with_value(hourly_rows(WEEK), 10, station_complex_id=complex_id)
    with pytest.raises(HourlyRowsInvalid, match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} has 1 rows with an unknown station"):
        read_into(source_for(soda), WEEK, tmp_path)
    assert left_in(tmp_path) == []


@pytest.mark.parametrize(("field", "value"), [("latitude", "north"), ("longitude", "-73,98"), ("latitude", "NaN")])
def test_a_coordinate_that_is_not_a_number_fails_the_week(soda, tmp_path, field, value):
    soda.datasets[WUJG] = with_value(hourly_rows(WEEK), 10, **{field: value})
    with pytest.raises(HourlyRowsInvalid, match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} has 1 rows with a {field} that is not a number"):
        read_into(source_for(soda), WEEK, tmp_path)
    assert left_in(tmp_path) == []


def test_text_that_reads_as_null_elsewhere_is_kept_as_written(soda, tmp_path):
    """Only an empty cell is null (Socrata's null): not "NA", "null" or "NaN", which CSV readers often take as one."""
    soda.datasets[WUJG] = with_value(hourly_rows(WEEK), 10, station_complex="NA", borough="null", fare_class_category="NaN")
    row = stored(read_into(source_for(soda), WEEK, tmp_path))[10]
    assert (row["station_complex"], row["borough"], row["fare_class_category"]) == ("NA", "null", "NaN")


def test_a_missing_coordinate_is_null(soda, tmp_path):
    soda.datasets[WUJG] = with_value(hourly_rows(WEEK), 10, latitude=None, longitude=None)
    row = stored(read_into(source_for(soda), WEEK, tmp_path))[10]
    assert (row["latitude"], row["longitude"]) == (None, None)


def test_rows_outside_the_week_fail_it(soda, tmp_path):
    soda.datasets[WUJG] = around(WEEK)
    soda.misbehaviours[WUJG] = SodaMisbehaviour(ignore_where=True)
    with pytest.raises(
        HourlyRowsInvalid,
        match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} has {2 * len(hourly_rows(WEEK)) // 7:,} rows with hours outside "
        r"those asked for, 2023-05-27 00:00 to 2023-06-02 23:00, the first at station complex '611', '2023-05-26T00:00:00.000'",
    ):
        read_into(source_for(soda, page_rows=50_000), WEEK, tmp_path)
    assert left_in(tmp_path) == []


def test_a_page_repeating_an_earlier_one_fails_the_week(soda, tmp_path):
    soda.datasets[WUJG] = hourly_rows(WEEK)
    soda.misbehaviours[WUJG] = SodaMisbehaviour(repeat_page=True)
    with pytest.raises(
        UnstablePaging,
        match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} answered the rows after :id row-\w+ .* with :ids from "
        r"'row-\w+' to 'row-\w+', not increasing after it: its paging by :id does not hold, so rows could be skipped or "
        r"repeated, and nothing was stored. Retry later",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert issubclass(UnstablePaging, SourceUnavailable)
    assert left_in(tmp_path) == []


def test_rows_lost_between_pages_are_caught_by_the_datasets_count(soda, tmp_path):
    rows = hourly_rows(WEEK)
    soda.datasets[WUJG] = rows
    soda.misbehaviours[WUJG] = SodaMisbehaviour(lost_rows=7)  # the first page ends early, on a row's end
    with pytest.raises(
        SourceUnavailable,
        match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} gave {PAGE_ROWS - 7:,} rows and [\d,]+ ridership and [\d,]+ "
        rf"transfers for the week in its pages but counts {len(rows):,} rows and [\d,]+ ridership .* Retry later",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert left_in(tmp_path) == []


def test_ridership_that_changed_while_the_week_was_read_is_caught_by_the_datasets_sum(soda, tmp_path):
    rows = hourly_rows(WEEK)
    soda.datasets[WUJG] = rows
    # The pages come from a copy one row behind the dataset: the same rows, a different sum.
    stale = with_value(rows, 600, ridership=str(int(rows[600]["ridership"]) + 5))
    soda.misbehaviours[WUJG] = SodaMisbehaviour(stale_rows=stale)
    total = ridership(rows)
    with pytest.raises(
        SourceUnavailable,
        match=rf"dataset {WUJG} gave {len(rows):,} rows and {total + 5:,} ridership and [\d,]+ transfers for the week in its "
        rf"pages but counts {len(rows):,} rows and {total:,} ridership",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert left_in(tmp_path) == []


def test_a_dataset_changing_during_every_read_fails_the_week_after_three_reads(soda, tmp_path):
    rows = hourly_rows(WEEK)
    soda.datasets[WUJG] = rows
    pages = len(rows) // PAGE_ROWS + 1
    for read in range(3):  # a revision while each read's second page is asked for
        soda.changes_before_page[read * pages + 2] = lambda server, n=read: server.revise(WUJG, lambda row: row is rows[n], transfers="0")
    with pytest.raises(
        HourlyWeekChanging,
        match=rf"Week 2023-06-03: NY Open Data changed the week's rows during each of 3 reads \(read 1: {WUJG} from 2,016 "
        r"rows last changed 2023-11-14T22:13:20.000Z to 2,016 rows last changed 2023-11-14T22:13:21.000Z \| read 2: .* \| "
        r"read 3: .*\), so no read is the dataset at one moment, and nothing was stored. Retry later",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert issubclass(HourlyWeekChanging, SourceUnavailable)
    assert len(row_reads(soda, WUJG)) == 3 * pages and left_in(tmp_path) == []


@pytest.mark.parametrize(
    ("kept", "missing"),
    [
        (lambda at: not at.startswith("2023-05-29"), r"lacks 24 of the week's 168 hours \(2023-05-29 00:00 to 2023-05-29 23:00\)"),
        (lambda at: at.startswith("2023-06-02T23"), r"lacks 167 of the week's 168 hours \(2023-05-27 00:00 to 2023-06-02 22:00\)"),
        (
            lambda at: not at.startswith(("2023-05-28T03", "2023-05-30T1")),
            r"lacks 11 of the week's 168 hours \(2023-05-28 03:00, 2023-05-30 10:00 to 2023-05-30 19:00\)",
        ),
    ],
    ids=["a day missing", "one hour held", "hours missing"],
)
def test_a_week_the_dataset_lacks_hours_of_is_not_read(soda, tmp_path, kept, missing):
    soda.datasets[WUJG] = [row for row in around(WEEK) if kept(row["transit_timestamp"])]
    with pytest.raises(
        WeekNotInHourlyData,
        match=rf"Week 2023-06-03: NY Open Data dataset {WUJG} {missing}: the week is not whole there, and nothing was "
        r"stored. Materialize it again once NY Open Data holds every hour",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert row_reads(soda, WUJG) == [] and left_in(tmp_path) == []


def test_throttling_is_waited_out(soda, tmp_path):
    soda.datasets[WUJG] = hourly_rows(WEEK)
    soda.misbehaviours[WUJG] = SodaMisbehaviour(throttled=3, retry_after="0")
    read = read_into(source_for(soda), WEEK, tmp_path)
    assert read.rows == len(hourly_rows(WEEK))
    assert soda.requests_per_path()[f"/resource/{WUJG}.csv"] == 3 + 1 + 1 + read.pages + 1 + 1


def test_a_storm_of_429_fails_naming_the_week_and_suggesting_a_token(soda, tmp_path):
    soda.datasets[WUJG] = hourly_rows(WEEK)
    soda.misbehaviours[WUJG] = SodaMisbehaviour(throttled=1000, retry_after="0")
    with pytest.raises(
        SourceUnavailable,
        match=rf"Week 2023-06-03: NY Open Data dataset {WUJG}, its newest hour: .* failed 3 attempts; last error: HTTP 429.* "
        r"set MTA_SOCRATA_APP_TOKEN if it answers 429",
    ):
        read_into(source_for(soda, max_attempts=3), WEEK, tmp_path)
    assert soda.requests_per_path()[f"/resource/{WUJG}.csv"] == 3
    assert left_in(tmp_path) == []


# --- the app token ---------------------------------------------------------------------------------------

TOKEN = "s3cr3tAppT0ken"


def test_the_app_token_is_sent_as_a_header_and_never_shown(soda, tmp_path, every_log, capsys):
    soda.datasets[WUJG] = hourly_rows(WEEK)
    soda.misbehaviours[WUJG] = SodaMisbehaviour(throttled=1)
    source = source_for(soda, app_token=TOKEN)
    read = read_into(source, WEEK, tmp_path)
    source.week_fingerprints((WUJG,), WEEK, WEEK)
    source.dataset_version(WUJG)
    soda.misbehaviours[WUJG] = SodaMisbehaviour(answer=(403, {"code": "permission_denied", "message": "Bad token"}))
    with pytest.raises(SourceError, match="MTA_SOCRATA_APP_TOKEN") as refused:
        read_into(source, WEEK, tmp_path)
    assert soda.app_tokens_seen() == {TOKEN}
    assert all(request.path.startswith(("/resource/", "/api/views/")) and TOKEN not in str(request.params) for request in soda.requests)
    output = all_output(every_log, capsys)
    assert "attempt 1 of 5 failed (HTTP 429: too.many.requests" in output  # the logs were captured
    assert TOKEN not in output + str(refused.value) + " ".join(read.urls)


def test_without_a_token_no_header_is_sent(soda, tmp_path):
    soda.datasets[WUJG] = hourly_rows(WEEK)
    read_into(source_for(soda), WEEK, tmp_path)
    assert soda.app_tokens_seen() == {None}


# --- the datasets' own totals, versions and newest hours -------------------------------------------------


def day_fingerprints(rows: list[dict]) -> dict[date, Fingerprint]:
    """Rows, ridership, transfers and newest :updated_at per day, worked out here from rows the server stamped."""
    fingerprints: dict[date, Fingerprint] = {}
    for row in rows:
        day = date.fromisoformat(row["transit_timestamp"][:10])
        counts = (1, int(float(row["ridership"])), int(float(row["transfers"])), row[":updated_at"])
        fingerprints[day] = fingerprints.get(day, NO_ROWS) + Fingerprint(*counts)
    return fingerprints


def test_week_fingerprints_are_the_datasets_own_per_day_summed_by_week(soda):
    rows = hourly_rows(WEEK, old_version=True) + hourly_rows(WEEK + timedelta(days=7), old_version=True)
    soda.datasets[WUJG] = rows
    soda.changes[1] = lambda server: server.revise(WUJG, lambda row: row is rows[5], transfers="2.0")  # a later :updated_at
    fingerprints = source_for(soda).week_fingerprints((WUJG,), WEEK, WEEK + timedelta(days=14))
    days = day_fingerprints(rows)
    assert fingerprints == {  # a week without rows (2023-06-17) is left out
        week: sum((days[week - timedelta(days=n)] for n in range(1, 8)), NO_ROWS) for week in (WEEK, WEEK + timedelta(days=7))
    }
    assert fingerprints[WEEK].updated_at == rows[5][":updated_at"] > fingerprints[WEEK + timedelta(days=7)].updated_at
    (params,) = [request.params for request in soda.requests]
    assert params == {
        "$select": f"date_trunc_ymd(transit_timestamp) AS day, {TOTALS}, max(:updated_at) AS updated_at",
        "$where": "transit_timestamp >= '2023-05-27T00:00:00' AND transit_timestamp < '2023-06-17T00:00:00'",
        "$group": "day",
        "$order": "day",
        "$limit": "50000",
    }


def test_week_fingerprints_sum_the_days_of_each_week_across_datasets(soda, tmp_path):
    weeks = [date(2019, 12, 21), date(2019, 12, 28), date(2020, 1, 4), date(2020, 1, 11)]
    rows = [row for week in weeks for row in hourly_rows(week)]
    soda.datasets["t69i-h2me"] = [row for row in rows if row["transit_timestamp"] < "2020"]
    soda.datasets[WUJG] = [row for row in rows if row["transit_timestamp"] >= "2020"]
    source = source_for(soda)
    fingerprints = source.week_fingerprints(None, date(2019, 12, 28), date(2020, 1, 11))
    days = day_fingerprints(rows)
    per_week = {week: sum((days[week - timedelta(days=n)] for n in range(1, 8)), NO_ROWS) for week in weeks[1:]}
    assert fingerprints == per_week
    read = read_into(source, date(2020, 1, 4), tmp_path)
    assert fingerprints[date(2020, 1, 4)] == read.fingerprint  # what the sensor compares with the stored week
    only_2020 = source.week_fingerprints((WUJG,), date(2019, 12, 28), date(2020, 1, 11))
    assert only_2020 == {
        date(2020, 1, 4): sum((days[date(2020, 1, n)] for n in (1, 2, 3)), NO_ROWS),
        date(2020, 1, 11): per_week[date(2020, 1, 11)],
    }


def test_week_fingerprints_take_saturdays_and_known_datasets(soda):
    with pytest.raises(ValueError, match="not both Saturdays"):
        source_for(soda).week_fingerprints(None, date(2023, 6, 2), date(2023, 6, 10))
    with pytest.raises(ValueError, match="abcd-efgh is not among HOURLY_DATASETS"):
        source_for(soda).week_fingerprints(("abcd-efgh",), date(2023, 6, 3), date(2023, 6, 10))
    assert soda.requests == []


def test_dataset_version_is_the_datasets_metadata(soda):
    soda.datasets[WUJG] = hourly_rows(WEEK, old_version=True)
    soda.names[WUJG] = "MTA Subway Hourly Ridership: 2020-2024"
    soda.rows_updated_at[WUJG] = 1_717_000_000
    soda.view_last_modified[WUJG] = 1_718_000_000
    version = source_for(soda).dataset_version(WUJG)
    assert version == DatasetVersion(
        dataset_id=WUJG,
        name="MTA Subway Hourly Ridership: 2020-2024",
        rows_updated_at=1_717_000_000,
        view_last_modified=1_718_000_000,
        fields=tuple(hourly_rows(WEEK, old_version=True)[0]),
    )
    assert "routes" in version.fields and [request.path for request in soda.requests] == [f"/api/views/{WUJG}.json"]


def test_dataset_version_of_a_missing_dataset_is_a_source_error_not_a_missing_week(soda):
    with pytest.raises(SourceError, match=rf"Hourly ridership: NY Open Data dataset {WUJG} .* HTTP 404") as missing:
        source_for(soda).dataset_version(WUJG)
    assert not isinstance(missing.value, WeekNotPublished)


def test_dataset_version_is_retried_through_throttling(soda):
    soda.datasets[WUJG] = hourly_rows(WEEK)
    soda.misbehaviours[WUJG] = SodaMisbehaviour(throttled=2)
    assert source_for(soda).dataset_version(WUJG).rows_updated_at == 1_700_000_000
    assert len(soda.requests) == 3


def test_missing_hours_are_the_hours_of_the_week_its_datasets_lack(soda):
    soda.datasets[WUJG] = [row for row in hourly_rows(WEEK) if not row["transit_timestamp"].startswith("2023-05-30T1")]
    soda.datasets["5wq4-mkjj"] = [row for row in hourly_rows(date(2025, 1, 4)) if "2025" <= row["transit_timestamp"] < "2025-01-03T23"]
    source = source_for(soda)
    assert source.missing_hours(WEEK) == [datetime(2023, 5, 30, hour) for hour in range(10, 20)]
    assert len(source.missing_hours(WEEK + timedelta(days=7))) == 168
    # Across New Year 2025: both datasets are asked, each for its days; 2024's days are missing from wujg here.
    lacking = source.missing_hours(date(2025, 1, 4))
    assert lacking == [datetime(2024, 12, 28) + timedelta(hours=n) for n in range(4 * 24)] + [datetime(2025, 1, 3, 23)]
    assert len(source.missing_hours(date(2016, 12, 31))) == 168  # before hourly ridership began


def test_the_datasets_cover_every_day_from_2017_once():
    days = [dataset.first_day for dataset in HOURLY_DATASETS]
    ends = [dataset.last_day for dataset in HOURLY_DATASETS]
    assert days[0] == date(2017, 1, 1) and ends[-1] is None
    assert all(end + timedelta(days=1) == start for end, start in zip(ends, days[1:]))
    assert HourlyRidershipSource().dataset_ids(date(2025, 1, 4)) == ("wujg-7c2s", "5wq4-mkjj")
