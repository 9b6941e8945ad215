"""open_data/soda.py against the SODA server on loopback: aggregate answers, metadata, and the pieces of a query."""

import time
from datetime import date, datetime

import pytest
import requests

from loopback.soda_server import HOURLY_FIELDS, SodaMisbehaviour, SodaServer, hourly_rows
from mta_assets.open_data.soda import SodaAdvice, SodaReading, SodaSource, shown, soql_query, time_range, whole_number
from mta_assets.lib.week_source import SourceError, SourceUnavailable, WeekNotPublished

DATASET = "wujg-7c2s"
WEEK = date(2023, 6, 3)
ADVICE = SodaAdvice(missing=WeekNotPublished, module="mta_assets/example.py", elsewhere="read it from the files")


def reading(soda: SodaServer, **overrides) -> SodaReading:
    source = SodaSource(base_url=soda.url, backoff_seconds=0, read_timeout_seconds=5, **overrides)
    return SodaReading(source, "Week 2023-06-03", ADVICE)


def aggregate_url(soda: SodaServer, select: str, **query: str) -> str:
    return SodaSource(base_url=soda.url).resource_url(DATASET, {"$select": select, **query})


@pytest.mark.parametrize(("text", "number"), [("31", 31), ("31.0", 31), ("31.", 31), ("0", 0), ("", None)])
def test_whole_numbers_as_socrata_writes_them(text, number):
    assert whole_number(text) == number


@pytest.mark.parametrize("text", ["-3", "2.5", "1e3", " 4", "four", "٣"])
def test_anything_else_is_not_a_whole_number(text):
    with pytest.raises(ValueError, match="is not a whole number"):
        whole_number(text)


def test_a_query_keeps_soqls_characters_and_encodes_the_rest():
    where = time_range("transit_timestamp", datetime(2023, 5, 27), datetime(2023, 6, 3))
    assert where == "transit_timestamp >= '2023-05-27T00:00:00' AND transit_timestamp < '2023-06-03T00:00:00'"
    assert soql_query({"$select": "count(*) AS rows, sum(ridership) AS ridership", "$where": where}) == (
        "$select=count(*)%20AS%20rows%2C%20sum(ridership)%20AS%20ridership&$where=transit_timestamp%20%3E%3D%20"
        "%272023-05-27T00:00:00%27%20AND%20transit_timestamp%20%3C%20%272023-06-03T00:00:00%27"
    )


def test_advice_ends_with_the_other_way_to_get_the_data():
    assert ADVICE.options("retry later") == "Retry later, or read it from the files."
    assert ADVICE.options("retry later", "set a token") == "Retry later, set a token, or read it from the files."
    assert SodaAdvice(missing=SourceError, module="m.py").options("check m.py") == "Check m.py."


def test_shown_urls_lose_their_user_and_password_only():
    assert shown("https://me:pw@data.ny.gov/resource/a.csv?$limit=5") == "https://data.ny.gov/resource/a.csv?$limit=5"
    assert shown("https://me:pw@data.ny.gov/api/views/a.json") == "https://data.ny.gov/api/views/a.json"


def test_aggregates_over_no_rows_are_empty_cells_and_read_as_such(soda):
    soda.datasets[DATASET] = hourly_rows(WEEK)
    nothing = time_range("transit_timestamp", datetime(2030, 1, 1), datetime(2030, 1, 8))
    url = aggregate_url(soda, "count(*) AS rows, sum(ridership) AS ridership", **{"$where": nothing})
    assert requests.get(url, timeout=5).text == '"rows","ridership"\n"0",\n'
    with reading(soda) as asking:
        assert asking.one_row(url, DATASET, "totals", ("rows", "ridership")) == {"rows": "0", "ridership": ""}
        asking.check_totals(DATASET, url, {"rows": 0, "ridership": 0})


def test_a_one_column_answer_with_an_empty_cell_is_one_row(soda):
    soda.datasets[DATASET], soda.empty_fields[DATASET] = [], HOURLY_FIELDS
    url = aggregate_url(soda, "max(transit_timestamp) AS newest")
    assert requests.get(url, timeout=5).text == '"newest"\n\n'
    with reading(soda) as asking:
        assert asking.one_row(url, DATASET, "newest", ("newest",)) == {"newest": ""}


def test_an_aggregate_answered_with_its_header_alone_reads_as_nulls(mirror):
    """How Socrata answers a max over no rows is unconfirmed: an empty cell (above), or no row at all."""
    mirror.files[f"resource/{DATASET}.csv"] = b'"newest"\n'
    source = SodaSource(base_url=mirror.url, backoff_seconds=0)
    with SodaReading(source, "Week 2023-06-03", ADVICE) as asking:
        url = source.resource_url(DATASET, {"$select": "max(transit_timestamp) AS newest"})
        assert asking.one_row(url, DATASET, "newest", ("newest",)) == {"newest": None}


def test_grouped_answers_are_ordered_by_their_alias(soda):
    soda.datasets[DATASET] = hourly_rows(WEEK)
    url = aggregate_url(soda, "station_complex_id AS complex, count(*) AS rows", **{"$group": "complex", "$order": "complex DESC"})
    with reading(soda) as asking:
        answer = asking.answer(url, DATASET, "per complex", ("complex", "rows")).to_pylist()
    assert answer == [{"complex": "636", "rows": "672"}, {"complex": "611", "rows": "672"}, {"complex": "610", "rows": "672"}]


def test_an_answer_of_more_rows_than_one_is_refused_where_one_is_expected(soda):
    soda.datasets[DATASET] = hourly_rows(WEEK)
    url = aggregate_url(soda, "station_complex_id, count(*)", **{"$group": "station_complex_id"})
    refused = rf"Week 2023-06-03: NY Open Data dataset {DATASET} answered 3 rows to .*, which has one"
    with reading(soda) as asking, pytest.raises(SourceError, match=refused):
        asking.one_row(url, DATASET, "totals", ("station_complex_id", "count"))


def test_a_cut_answer_is_asked_again(soda):
    soda.datasets[DATASET] = hourly_rows(WEEK)
    soda.misbehaviours[DATASET] = SodaMisbehaviour(cut_pages=1)
    url = aggregate_url(soda, "count(*) AS rows, sum(ridership) AS ridership")
    with reading(soda) as asking:
        rows = asking.one_row(url, DATASET, "totals", ("rows", "ridership"))["rows"]
    assert rows == "2016" and len(soda.requests) == 2


def test_totals_that_are_not_numbers_are_refused(soda):
    soda.datasets[DATASET] = hourly_rows(WEEK)
    url = aggregate_url(soda, "count(*) AS rows, max(borough) AS ridership")
    with reading(soda) as asking, pytest.raises(SourceError, match=r"answered .* with 'Manhattan' is not a whole number"):
        asking.check_totals(DATASET, url, {"rows": 2016, "ridership": 0})


def test_metadata_is_read_through_throttling_and_a_missing_dataset_is_the_sources_missing_class(soda):
    soda.datasets[DATASET] = hourly_rows(WEEK)
    soda.misbehaviours[DATASET] = SodaMisbehaviour(throttled=1)
    with reading(soda) as asking:
        view = asking.view(DATASET)
    assert (view["id"], view["rowsUpdatedAt"]) == (DATASET, 1_700_000_000)
    assert [column["fieldName"] for column in view["columns"]] == list(HOURLY_FIELDS)
    assert asking.urls == [f"{soda.url}/api/views/{DATASET}.json"]
    with reading(soda) as asking, pytest.raises(WeekNotPublished, match=r"HTTP 404: dataset.missing: .* or read it from the files\."):
        asking.view("abcd-efgh")


def test_metadata_that_never_reads_fails_after_the_attempts(soda):
    soda.misbehaviours[DATASET] = SodaMisbehaviour(answer=(503, {"message": "Service unavailable"}))
    failed = rf"Week 2023-06-03: NY Open Data dataset {DATASET}, its metadata: .* failed 2 attempts; last error: HTTP 503"
    with reading(soda, max_attempts=2) as asking, pytest.raises(SourceUnavailable, match=failed):
        asking.view(DATASET)


def test_the_page_file_is_gone_when_the_reading_ends(soda, tmp_path):
    soda.datasets[DATASET] = hourly_rows(WEEK)
    page_file = tmp_path / ".page.csv"
    source = SodaSource(base_url=soda.url, page_rows=1000)

    def page_url(offset: int) -> str:
        return source.resource_url(DATASET, {"$order": ":id", "$limit": "1000", "$offset": str(offset)})

    with SodaReading(source, "Week 2023-06-03", ADVICE, page_file) as asking:
        pages = asking.pages(DATASET, page_url, {})
        assert next(pages).num_rows == 1000 and page_file.exists()
    assert not page_file.exists()


def test_keyset_pages_read_the_next_page_while_the_caller_holds_this_one(soda, tmp_path):
    soda.datasets[DATASET] = hourly_rows(WEEK)
    page_file = tmp_path / ".page.csv"
    source = SodaSource(base_url=soda.url, page_rows=500)
    week = time_range("transit_timestamp", datetime(2023, 5, 27), datetime(2023, 6, 3))

    def page_url(after: str | None) -> str:
        where = week if after is None else f"{week} AND :id > '{after}'"
        return source.resource_url(DATASET, {"$select": ":id, *", "$where": where, "$order": ":id", "$limit": "500"})

    def row_reads() -> list[dict]:
        return [request.params for request in soda.requests if request.path == f"/resource/{DATASET}.csv"]

    with SodaReading(source, "Week 2023-06-03", ADVICE, page_file) as asking:
        pages = asking.keyset_pages(DATASET, page_url, {"ridership": ("ridership",)})
        first = next(pages)
        # Not a timing: the second page is asked for without the caller asking; wait until it has been.
        deadline = time.monotonic() + 30
        while len(row_reads()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [params["$where"] for params in row_reads()] == [week, f"{week} AND :id > '{first[':id'][-1].as_py()}'"]
        pages.close()  # the caller stops: the page read ahead is dropped, and no other is asked for
        assert len(row_reads()) == 2
    assert not page_file.exists()
