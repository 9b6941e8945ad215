"""OpenDataTurnstileSource against a SODA server on loopback: a week from NY Open Data is the MTA file's week."""

from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests

from loopback.soda_server import TURNSTILE_FIELDS_2014, SodaMisbehaviour, SodaServer, turnstile_rows
from loopback.turnstile_files import HEADER, Turnstile, line, week_lines
from mta_assets.open_data.soda import DatasetColumnsChanged
from mta_assets.turnstile.open_data import OpenDataTurnstileSource, WeekNotInOpenData
from mta_assets.turnstile.parsing import parse_turnstile_file
from mta_assets.lib.week_source import SourceError, SourceUnavailable, WeekNotPublished
from mta_assets.turnstile.station_key import station_key
from mta_assets_tests.lib.logs import all_output
from mta_assets_tests.turnstile.test_files import within

WEEK = date(2017, 6, 17)
DATASET_2017 = "v5y5-mwpb"
PAGE_ROWS = 500




def source_for(soda: SodaServer, **overrides) -> OpenDataTurnstileSource:
    """A source on the loopback server, with small pages and backoff so small that retries cost nothing."""
    settings = {"base_url": soda.url, "page_rows": PAGE_ROWS, "backoff_seconds": 0.01, "read_timeout_seconds": 5, **overrides}
    return OpenDataTurnstileSource(**settings)


def mta_file_table(week: date, lines: list[str], folder: Path):
    """The typed table of the MTA file holding `lines`, as parse_turnstile_file writes it."""
    path = folder / "turnstile.txt"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return pq.read_table(parse_turnstile_file(path, week, 0.01, folder / "mta.parquet").path)


def renamed(rows: list[dict], old: str, new: str) -> list[dict]:
    """`rows` with the field `old` called `new`: a dataset whose columns changed."""
    return [{(new if name == old else name): value for name, value in row.items()} for row in rows]


def reads(soda: SodaServer, dataset_id: str) -> int:
    return soda.requests_per_path()[f"/resource/{dataset_id}.csv"]


def read_into(source: OpenDataTurnstileSource, week: date, tmp_path: Path):
    folder = tmp_path / "open-data"
    folder.mkdir(exist_ok=True)
    return source.read_week(week, folder)


# --- the same readings as the MTA's file -----------------------------------------------------------------


def test_a_2017_week_over_several_pages_is_the_mta_file_of_the_same_readings(soda, tmp_path):
    lines = week_lines(WEEK, turnstile_count=30)
    neighbours = week_lines(WEEK - timedelta(days=7), 30) + week_lines(WEEK + timedelta(days=7), 30)
    soda.datasets[DATASET_2017] = turnstile_rows(neighbours[:2000]) + turnstile_rows(lines) + turnstile_rows(neighbours[2000:])
    week = read_into(source_for(soda), WEEK, tmp_path)
    assert pq.read_table(week.parsed.path).equals(mta_file_table(WEEK, lines, tmp_path))
    assert week.parsed.rows == len(lines) and week.parsed.duplicate_readings_removed == 0
    pages = len(lines) // PAGE_ROWS + 1
    # Every page, then the dataset's count of the week's rows, which checks them.
    assert pages > 2 and reads(soda, DATASET_2017) == pages + 1
    assert week.dataset_ids == (DATASET_2017,) and len(week.urls) == pages + 1
    assert "count(*)" in week.urls[-1]
    assert week.urls[1] == (
        f"{soda.url}/resource/{DATASET_2017}.csv?$where=date%20%3E%3D%20%272017-06-10T00:00:00%27%20AND%20date%20%3C%20"
        f"%272017-06-17T00:00:00%27&$order=:id&$limit={PAGE_ROWS}&$offset={PAGE_ROWS}"
    )
    assert week.parsed.readings_without_station == 0


def test_stable_paging_needs_an_order_and_the_source_sends_one(soda, tmp_path):
    lines = week_lines(WEEK, turnstile_count=30)
    soda.datasets[DATASET_2017] = turnstile_rows(lines)
    soda.misbehaviours[DATASET_2017] = SodaMisbehaviour(repeat_without_order=True)
    unordered = [
        requests.get(f"{soda.url}/resource/{DATASET_2017}.csv", params={"$limit": 10, "$offset": offset}, timeout=5).text
        for offset in (0, 10)
    ]
    assert unordered[0] == unordered[1]  # without $order, the second page repeats the first
    week = read_into(source_for(soda), WEEK, tmp_path)
    assert pq.read_table(week.parsed.path).equals(mta_file_table(WEEK, lines, tmp_path))


def test_a_week_across_new_year_reads_the_datasets_of_both_years(soda, tmp_path):
    week = date(2016, 1, 2)  # 2015-12-26 to 2016-01-01
    lines = week_lines(week, turnstile_count=20)
    new_year = [text for text in lines if "/2016," in text]
    old_year = [text for text in lines if "/2015," in text]
    soda.datasets["ug6q-shqc"] = turnstile_rows(old_year)
    soda.datasets["ekwu-khcy"] = turnstile_rows(new_year)
    read = read_into(source_for(soda), week, tmp_path)
    assert new_year and read.dataset_ids == ("ug6q-shqc", "ekwu-khcy")
    pages = (len(old_year) // PAGE_ROWS + 2, len(new_year) // PAGE_ROWS + 2)  # each dataset's pages and count
    assert (reads(soda, "ug6q-shqc"), reads(soda, "ekwu-khcy")) == pages
    table = pq.read_table(read.parsed.path)
    assert table.sort_by("reading_at").equals(mta_file_table(week, lines, tmp_path).sort_by("reading_at"))


def test_2014_field_names_are_read_by_the_header(soda, tmp_path):
    week = date(2014, 6, 14)
    lines = week_lines(week, turnstile_count=10)
    soda.datasets["i55r-43gk"] = turnstile_rows(lines, TURNSTILE_FIELDS_2014)
    read = read_into(source_for(soda), week, tmp_path)
    assert pq.read_table(read.parsed.path).equals(mta_file_table(week, lines, tmp_path))


def test_2022_station_names_come_from_the_key_and_unknown_ones_are_counted(soda, tmp_path):
    week = date(2022, 6, 18)
    key = station_key().slice(0, 12).to_pylist()
    known = [
        Turnstile(row["control_area"], row["unit"], "00-00-00", row["station"], row["line_name"], row["division"]) for row in key
    ]
    unknown = Turnstile("Z999", "R999", "00-00-00", "NOWHERE", "1", "IRT")
    start = datetime(2022, 6, 11)
    readings = [(turnstile, start + timedelta(hours=4 * step)) for turnstile in [*known, unknown] for step in range(42)]
    lines = [line(turnstile, at, "REGULAR", 1000 + step, 2000 + step) for step, (turnstile, at) in enumerate(readings)]
    soda.datasets["k7j9-jnct"] = turnstile_rows(lines, station=False)
    read = read_into(source_for(soda), week, tmp_path)
    table = pq.read_table(read.parsed.path)
    expected = mta_file_table(week, lines[: 12 * 42], tmp_path)
    assert table.slice(0, 12 * 42).equals(expected)
    assert set(table.slice(12 * 42)["station"].to_pylist()) == {""}
    assert read.parsed.readings_without_station == 42


def test_exact_duplicate_rows_are_removed_and_counted(soda, tmp_path):
    lines = week_lines(WEEK, turnstile_count=30)
    rows = turnstile_rows(lines)
    soda.datasets[DATASET_2017] = rows + rows[:7]
    read = read_into(source_for(soda), WEEK, tmp_path)
    assert (read.parsed.rows, read.parsed.duplicate_readings_removed) == (len(lines), 7)
    assert pq.read_table(read.parsed.path).equals(mta_file_table(WEEK, lines, tmp_path))


# --- errors ----------------------------------------------------------------------------------------------


def test_a_missing_dataset_is_a_week_not_published_naming_the_week_and_dataset(soda, tmp_path):
    with pytest.raises(
        WeekNotInOpenData,
        match=rf"Week 2017-06-17: NY Open Data dataset {DATASET_2017} .* HTTP 404: dataset.missing: Cannot find view",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert reads(soda, DATASET_2017) == 1
    assert issubclass(WeekNotInOpenData, WeekNotPublished)
    assert not list((tmp_path / "open-data").iterdir())


def test_a_refused_query_with_code_is_not_retried_and_names_week_and_dataset(soda, tmp_path):
    body = {"code": "query.compiler.malformed", "error": True, "message": "Invalid SoQL query", "data": {}}
    soda.misbehaviours[DATASET_2017] = SodaMisbehaviour(answer=(400, body))
    with pytest.raises(
        SourceError,
        match=rf"Week 2017-06-17: NY Open Data dataset {DATASET_2017} .* HTTP 400: query.compiler.malformed: "
        r"Invalid SoQL query\. The query was refused",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert reads(soda, DATASET_2017) == 1


def test_a_refused_query_with_error_code_names_the_missing_column(soda, tmp_path):
    soda.datasets[DATASET_2017] = renamed(turnstile_rows(week_lines(WEEK, 2)), "date", "reading_date")
    with pytest.raises(
        SourceError,
        match=rf"Week 2017-06-17: NY Open Data dataset {DATASET_2017} .* HTTP 400: "
        r"query.soql.no-such-column: .*No such column: date",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert reads(soda, DATASET_2017) == 1


def test_a_dataset_whose_columns_changed_fails_naming_the_field(soda, tmp_path):
    soda.datasets[DATASET_2017] = renamed(turnstile_rows(week_lines(WEEK, 2)), "entries", "entries_total")
    with pytest.raises(
        DatasetColumnsChanged,
        match=rf"Week 2017-06-17: NY Open Data dataset {DATASET_2017} has no field entries \(its fields: .*entries_total",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert reads(soda, DATASET_2017) == 1


def test_a_storm_of_429_is_waited_out_as_retry_after_says(soda, tmp_path):
    lines = week_lines(WEEK, turnstile_count=5)
    soda.datasets[DATASET_2017] = turnstile_rows(lines)
    soda.misbehaviours[DATASET_2017] = SodaMisbehaviour(throttled=4, retry_after="0")
    # A backoff of a minute would hang the test: the waits are the server's zero seconds.
    read = within(10, lambda: read_into(source_for(soda, backoff_seconds=60, max_attempts=5), WEEK, tmp_path))
    assert read.parsed.rows == len(lines) and reads(soda, DATASET_2017) == 6  # 4 refused, the page, the count


def test_retry_after_in_seconds_is_waited_before_the_next_page_request(soda, tmp_path):
    soda.datasets[DATASET_2017] = turnstile_rows(week_lines(WEEK, turnstile_count=5))
    soda.misbehaviours[DATASET_2017] = SodaMisbehaviour(throttled=1, retry_after="1")
    read_into(source_for(soda), WEEK, tmp_path)
    first, second = [request.at for request in soda.requests if not request.ranged][:2]
    assert second - first >= 0.95


def test_a_retry_after_beyond_the_deadline_fails_at_once_naming_the_week(soda, tmp_path):
    soda.datasets[DATASET_2017] = turnstile_rows(week_lines(WEEK, turnstile_count=5))
    soda.misbehaviours[DATASET_2017] = SodaMisbehaviour(throttled=1, retry_after="3600")
    with pytest.raises(
        SourceUnavailable,
        match=rf"Week 2017-06-17: NY Open Data dataset {DATASET_2017}, rows from 0: .* failed 1 attempt; last error: HTTP 429",
    ):
        within(5, lambda: read_into(source_for(soda, deadline_seconds=3), WEEK, tmp_path))
    assert reads(soda, DATASET_2017) == 1


def test_a_page_cut_mid_row_is_retried(soda, tmp_path):
    lines = week_lines(WEEK, turnstile_count=30)
    soda.datasets[DATASET_2017] = turnstile_rows(lines)
    soda.misbehaviours[DATASET_2017] = SodaMisbehaviour(cut_pages=1)
    read = read_into(source_for(soda), WEEK, tmp_path)
    assert pq.read_table(read.parsed.path).equals(mta_file_table(WEEK, lines, tmp_path))
    assert reads(soda, DATASET_2017) == len(lines) // PAGE_ROWS + 3  # the pages, the cut one again, the count


def test_pages_cut_every_time_fail_naming_the_week_after_the_attempts(soda, tmp_path):
    soda.datasets[DATASET_2017] = turnstile_rows(week_lines(WEEK, turnstile_count=30))
    soda.misbehaviours[DATASET_2017] = SodaMisbehaviour(cut_pages=100)
    with pytest.raises(
        SourceUnavailable,
        match=rf"Week 2017-06-17: NY Open Data dataset {DATASET_2017}, rows from 0: .* failed 3 attempts; last error: .*bytes",
    ):
        read_into(source_for(soda, max_attempts=3), WEEK, tmp_path)
    assert reads(soda, DATASET_2017) == 3
    assert not list((tmp_path / "open-data").iterdir())


def test_a_week_outside_the_datasets_years_is_not_published_without_a_request(soda, tmp_path):
    for week, year in ((date(2023, 6, 3), "2023"), (date(2023, 1, 7), "2023"), (date(2013, 6, 1), "2013")):
        with pytest.raises(
            WeekNotInOpenData,
            match=rf"Week {week}: NY Open Data has no Turnstile Usage Data for {year} ",
        ):
            read_into(source_for(soda), week, tmp_path)
    assert soda.requests == []


def test_a_week_the_dataset_has_no_readings_of_is_not_published(soda, tmp_path):
    soda.datasets[DATASET_2017] = turnstile_rows(week_lines(WEEK + timedelta(days=7), turnstile_count=2))
    with pytest.raises(
        WeekNotInOpenData,
        match=rf"Week 2017-06-17: NY Open Data \({DATASET_2017}\) has no readings from 2017-06-10 to 2017-06-16",
    ):
        read_into(source_for(soda), WEEK, tmp_path)


# --- the app token ---------------------------------------------------------------------------------------

TOKEN = "s3cr3tAppT0ken"


def test_the_app_token_is_sent_as_a_header_and_never_shown(soda, tmp_path, every_log, capsys):
    soda.datasets[DATASET_2017] = turnstile_rows(week_lines(WEEK, turnstile_count=5))
    soda.misbehaviours[DATASET_2017] = SodaMisbehaviour(throttled=1)
    read = read_into(source_for(soda, app_token=TOKEN), WEEK, tmp_path)
    soda.misbehaviours[DATASET_2017] = SodaMisbehaviour(answer=(403, {"code": "permission_denied", "message": "Bad token"}))
    with pytest.raises(SourceError, match="MTA_SOCRATA_APP_TOKEN") as refused:
        read_into(source_for(soda, app_token=TOKEN), WEEK, tmp_path)
    assert soda.app_tokens_seen() == {TOKEN}
    output = all_output(every_log, capsys)
    assert "attempt 1 of 5 failed (HTTP 429: too.many.requests" in output  # the logs were captured
    assert TOKEN not in output + str(refused.value) + " ".join(read.urls)


def test_without_a_token_no_header_is_sent(soda, tmp_path):
    soda.datasets[DATASET_2017] = turnstile_rows(week_lines(WEEK, turnstile_count=5))
    read_into(source_for(soda), WEEK, tmp_path)
    assert soda.app_tokens_seen() == {None}


def test_a_page_cut_at_a_row_boundary_is_caught_by_the_datasets_count(soda, tmp_path):
    lines = week_lines(WEEK, turnstile_count=30)
    soda.datasets[DATASET_2017] = turnstile_rows(lines)
    # The first page ends 7 rows early, on a row's end: it reads like the last page.
    soda.misbehaviours[DATASET_2017] = SodaMisbehaviour(lost_rows=7)
    with pytest.raises(
        SourceUnavailable,
        match=rf"Week 2017-06-17: NY Open Data dataset {DATASET_2017} gave {PAGE_ROWS - 7:,} rows for the week in its "
        rf"pages but counts {len(lines):,}",
    ):
        read_into(source_for(soda), WEEK, tmp_path)
    assert not list((tmp_path / "open-data").iterdir())
