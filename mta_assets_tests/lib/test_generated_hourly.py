"""The generated hourly ridership server (loopback.generated_hourly), over HTTP as the hourly client asks it."""

import csv
import io
import json
import re
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import quote, urlencode
from urllib.request import urlopen

import pytest

from loopback.generated_hourly import FIELDS, ROWS_PER_DAY, ROWS_PER_HOUR_OF_DAY, GeneratedHourlyServer

PROJECT = Path(__file__).parents[2]  # where `python -m loopback...` finds the package
NEWEST_HOUR = datetime(2025, 6, 30, 23)
TOTALS = "count(*) AS rows, sum(ridership) AS ridership, sum(transfers) AS transfers"
DAILY = (
    "date_trunc_ymd(transit_timestamp) AS day, count(*) AS rows, sum(ridership) AS ridership, sum(transfers) AS transfers, "
    "max(:updated_at) AS updated_at"
)
HOURLY = "transit_timestamp, count(*) AS rows, max(:updated_at) AS updated_at"


@pytest.fixture(scope="module")
def hourly():
    server = GeneratedHourlyServer(newest_hour=NEWEST_HOUR).start()
    yield server
    server.stop()


def where(low: str, high: str) -> str:
    return f"transit_timestamp >= '{low}' AND transit_timestamp < '{high}'"


def get(url: str, path: str, **params: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET, the query encoded as the hourly client encodes it."""
    query = urlencode(params, quote_via=quote, safe="$:()*")
    try:
        with urlopen(f"{url}{path}?{query}" if params else f"{url}{path}", timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read()


def rows_of(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def page(url: str, dataset: str, low: str, high: str, limit: int, offset: int) -> bytes:
    status, _, body = get(url, f"/resource/{dataset}.csv", **{"$where": where(low, high), "$order": ":id", "$limit": str(limit), "$offset": str(offset)})
    assert status == 200, body
    return body


def all_rows(url: str, dataset: str, low: str, high: str, limit: int = 5000) -> list[dict[str, str]]:
    rows, offset = [], 0
    while batch := rows_of(page(url, dataset, low, high, limit, offset)):
        rows += batch
        offset += limit
    return rows


def totals(url: str, dataset: str, low: str, high: str) -> dict[str, str]:
    status, _, body = get(url, f"/resource/{dataset}.csv", **{"$select": TOTALS, "$where": where(low, high)})
    assert status == 200, body
    [row] = rows_of(body)
    return row


def daily(url: str, dataset: str, low: str, high: str) -> list[dict[str, str]]:
    params = {"$select": DAILY, "$where": where(low, high), "$group": "day", "$order": "day", "$limit": "50000"}
    status, _, body = get(url, f"/resource/{dataset}.csv", **params)
    assert status == 200, body
    return rows_of(body)


def newest(url: str, dataset: str) -> bytes:
    status, _, body = get(url, f"/resource/{dataset}.csv", **{"$select": "max(transit_timestamp) AS newest"})
    assert status == 200, body
    return body


def test_pages_cover_a_range_once_and_agree_with_its_totals(hourly):
    low, high = "2023-05-27T06:00:00", "2023-05-27T09:00:00"
    rows = all_rows(hourly.url, "wujg-7c2s", low, high)
    assert len(rows) == sum(ROWS_PER_HOUR_OF_DAY[6:9])
    assert totals(hourly.url, "wujg-7c2s", low, high) == {
        "rows": str(len(rows)),
        "ridership": str(sum(int(row["ridership"]) for row in rows)),
        "transfers": str(sum(int(row["transfers"]) for row in rows)),
    }
    keys = [(row["transit_timestamp"], row["station_complex_id"], row["fare_class_category"]) for row in rows]
    assert len(set(keys)) == len(keys)
    assert [key[0] for key in keys] == sorted(key[0] for key in keys)  # ordered by hour
    assert {key[0] for key in keys} == {"2023-05-27T06:00:00.000", "2023-05-27T07:00:00.000", "2023-05-27T08:00:00.000"}
    assert all(0 <= int(row["transfers"]) <= int(row["ridership"]) for row in rows)
    assert all(int(row["ridership"]) > 0 for row in rows)
    assert {row["transit_mode"] for row in rows} == {"subway", "tram", "staten_island_railway"}
    assert {row["payment_method"] for row in rows} == {"omny", "metrocard"}
    assert all(row["georeference"] == f"POINT ({row['longitude']} {row['latitude']})" for row in rows)


def test_pages_by_id_are_the_pages_by_offset_with_their_ids_and_agree_with_the_hours(hourly):
    low, high = "2023-05-27T06:00:00", "2023-05-27T08:00:00"
    by_offset, by_id, after = all_rows(hourly.url, "wujg-7c2s", low, high, limit=1000), [], None
    while True:
        range_and_after = where(low, high) + (f" AND :id > '{after}'" if after else "")
        status, _, body = get(hourly.url, "/resource/wujg-7c2s.csv", **{"$select": ":id, *", "$where": range_and_after, "$order": ":id", "$limit": "1000"})
        assert status == 200, body
        batch = rows_of(body)
        by_id += batch
        if len(batch) < 1000:
            break
        after = batch[-1][":id"]
    assert [{name: row[name] for name in FIELDS} for row in by_id] == by_offset
    assert [row[":id"] for row in by_id] == sorted({row[":id"] for row in by_id})
    params = {"$select": HOURLY, "$where": where(low, high), "$group": "transit_timestamp", "$order": "transit_timestamp", "$limit": "50000"}
    hours = rows_of(get(hourly.url, "/resource/wujg-7c2s.csv", **params)[2])
    assert [(hour["transit_timestamp"], int(hour["rows"])) for hour in hours] == [
        ("2023-05-27T06:00:00.000", ROWS_PER_HOUR_OF_DAY[6]), ("2023-05-27T07:00:00.000", ROWS_PER_HOUR_OF_DAY[7])
    ]
    # Published when the hour ended: 07:00 and 08:00 New York time, in UTC.
    assert [hour["updated_at"] for hour in hours] == ["2023-05-27T11:00:00.000Z", "2023-05-27T12:00:00.000Z"]


def test_a_rows_position_is_the_same_in_a_wider_range(hourly):
    """Row i of a range is row i + (rows of the hours before it) of a range starting earlier."""
    later = rows_of(page(hourly.url, "wujg-7c2s", "2023-05-27T02:00:00", "2023-05-27T04:00:00", 3000, 0))
    before = sum(ROWS_PER_HOUR_OF_DAY[:2])
    wider = rows_of(page(hourly.url, "wujg-7c2s", "2023-05-27T00:00:00", "2023-05-27T04:00:00", 3000, before))
    assert later == wider


def test_csv_as_socrata_writes_it(hourly):
    status, headers, body = get(
        hourly.url, "/resource/wujg-7c2s.csv", **{"$where": where("2023-05-27T00:00:00", "2023-05-28T00:00:00"), "$order": ":id", "$limit": "2"}
    )
    assert status == 200
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(headers["X-SODA2-Fields"]) == list(FIELDS)
    assert json.loads(headers["X-SODA2-Types"])[:2] == ["floating_timestamp", "text"]
    lines = body.decode().split("\n")
    assert lines[0] == ",".join(f'"{name}"' for name in FIELDS)
    assert lines[-1] == "" and len(lines) == 4 and "\r" not in body.decode()
    assert re.fullmatch(r'("[^"]*",){11}"[^"]*"', lines[1])  # every cell quoted
    assert lines[1].startswith('"2023-05-27T00:00:00.000","subway","1",')


def test_daily_rows_sum_to_the_totals(hourly):
    low, high = "2023-05-27T20:00:00", "2023-05-28T03:00:00"
    days = daily(hourly.url, "wujg-7c2s", low, high)
    assert [day["day"] for day in days] == ["2023-05-27T00:00:00.000", "2023-05-28T00:00:00.000"]
    assert [int(day["rows"]) for day in days] == [sum(ROWS_PER_HOUR_OF_DAY[20:]), sum(ROWS_PER_HOUR_OF_DAY[:3])]
    both = totals(hourly.url, "wujg-7c2s", low, high)
    assert sum(int(day["rows"]) for day in days) == int(both["rows"])
    assert sum(int(day["ridership"]) for day in days) == int(both["ridership"])
    assert sum(int(day["transfers"]) for day in days) == int(both["transfers"])


def test_a_week_has_the_same_rows_every_day(hourly):
    low, high = "2023-05-27T00:00:00", "2023-06-03T00:00:00"
    assert ROWS_PER_DAY == sum(ROWS_PER_HOUR_OF_DAY)
    assert 550_000 < 7 * ROWS_PER_DAY < 650_000
    assert int(totals(hourly.url, "wujg-7c2s", low, high)["rows"]) == 7 * ROWS_PER_DAY
    assert [int(day["rows"]) for day in daily(hourly.url, "wujg-7c2s", low, high)] == [ROWS_PER_DAY] * 7


def test_ranges_are_cut_at_the_datasets_span_and_the_newest_hour(hourly):
    beyond = ("2025-07-01T00:00:00", "2025-07-08T00:00:00")
    assert totals(hourly.url, "5wq4-mkjj", *beyond) == {"rows": "0", "ridership": "", "transfers": ""}
    assert rows_of(page(hourly.url, "5wq4-mkjj", *beyond, 50000, 0)) == []
    assert daily(hourly.url, "5wq4-mkjj", *beyond) == []
    straddling = all_rows(hourly.url, "5wq4-mkjj", "2025-06-30T22:00:00", "2025-07-01T02:00:00")
    assert {row["transit_timestamp"] for row in straddling} == {"2025-06-30T22:00:00.000", "2025-06-30T23:00:00.000"}
    # 2020-2024's dataset ends with 2024; 2025's begins after it.
    new_year = ("2024-12-31T23:00:00", "2025-01-01T01:00:00")
    assert int(totals(hourly.url, "wujg-7c2s", *new_year)["rows"]) == ROWS_PER_HOUR_OF_DAY[23]
    assert int(totals(hourly.url, "5wq4-mkjj", *new_year)["rows"]) == sum(ROWS_PER_HOUR_OF_DAY[:1])
    assert totals(hourly.url, "t69i-h2me", *new_year) == {"rows": "0", "ridership": "", "transfers": ""}


def test_newest_is_each_datasets_last_hour(hourly):
    assert newest(hourly.url, "t69i-h2me") == b'"newest"\n"2019-12-31T23:00:00.000"\n'
    assert newest(hourly.url, "wujg-7c2s") == b'"newest"\n"2024-12-31T23:00:00.000"\n'
    assert newest(hourly.url, "5wq4-mkjj") == b'"newest"\n"2025-06-30T23:00:00.000"\n'
    before_2025 = GeneratedHourlyServer(newest_hour=datetime(2024, 12, 30, 5)).start()
    try:
        assert newest(before_2025.url, "5wq4-mkjj") == b'"newest"\n\n'  # no rows: an empty cell
        assert newest(before_2025.url, "wujg-7c2s") == b'"newest"\n"2024-12-30T05:00:00.000"\n'
    finally:
        before_2025.stop()


def test_metadata_with_a_settable_rows_updated_at():
    server = GeneratedHourlyServer(newest_hour=NEWEST_HOUR, rows_updated_at={"5wq4-mkjj": 1751400000}).start()
    try:
        status, _, body = get(server.url, "/api/views/5wq4-mkjj.json")
        assert status == 200
        view = json.loads(body)
        assert (view["id"], view["rowsUpdatedAt"], type(view["viewLastModified"])) == ("5wq4-mkjj", 1751400000, int)
        assert [column["fieldName"] for column in view["columns"]] == list(FIELDS)
        assert view["columns"][0] == {"fieldName": "transit_timestamp", "name": "Transit Timestamp", "dataTypeName": "calendar_date"}
        # Otherwise, the end of the dataset's last hour in New York: 2025-01-01T00:00-05:00.
        assert json.loads(get(server.url, "/api/views/wujg-7c2s.json")[2])["rowsUpdatedAt"] == 1735707600
        server.rows_updated_at["wujg-7c2s"] = 1
        assert json.loads(get(server.url, "/api/views/wujg-7c2s.json")[2])["rowsUpdatedAt"] == 1
        assert server.requests == {"views": 3}
    finally:
        server.stop()


def test_the_same_request_gets_the_same_bytes_from_another_process(hourly):
    command = [sys.executable, "-m", "loopback.generated_hourly", "--port", "0", "--newest-hour", "2025-06-30T23:00"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        for args in [("wujg-7c2s", "2023-05-27T07:00:00", "2023-05-27T09:00:00", 2000, 4000), ("t69i-h2me", "2018-03-04T00:00:00", "2018-03-05T00:00:00", 500, 0)]:
            assert page(url, *args) == page(hourly.url, *args) == page(hourly.url, *args)
        assert totals(url, "wujg-7c2s", "2023-05-27T00:00:00", "2023-06-03T00:00:00") == totals(hourly.url, "wujg-7c2s", "2023-05-27T00:00:00", "2023-06-03T00:00:00")
        assert newest(url, "5wq4-mkjj") == newest(hourly.url, "5wq4-mkjj")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_server_process_stops_on_sigterm_though_started_ignoring_it():
    """A background job hands its processes an ignored SIGTERM; the tests and benchmarks stop the server with one."""
    command = [sys.executable, "-m", "loopback.generated_hourly", "--port", "0"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, cwd=PROJECT, preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN)
    )
    try:
        assert process.stdout.readline().startswith("http://127.0.0.1:")
        process.terminate()
        assert process.wait(timeout=60) == -signal.SIGTERM
    finally:
        process.kill()
        process.wait()


RANGE = where("2023-05-27T00:00:00", "2023-05-28T00:00:00")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"$where": RANGE, "$order": "transit_timestamp", "$limit": "10"},  # paging by another order
        {"$where": RANGE, "$order": ":id", "$limit": "50001"},
        {"$where": RANGE, "$order": ":id", "$offset": "-1"},
        {"$where": where("2023-05-27", "2023-05-28").replace("transit_timestamp", "day", 1), "$order": ":id"},
        {"$where": where("2023-05-27", "tomorrow"), "$order": ":id"},
        {"$where": RANGE, "$order": ":id", "$q": "x"},
        {"$select": "count(*)", "$where": RANGE},
        {"$select": TOTALS, "$where": RANGE, "$limit": "1"},
        {"$select": DAILY, "$where": RANGE, "$group": "transit_mode", "$order": "day"},
        {"$select": "max(transit_timestamp) AS newest", "$where": RANGE},
    ],
)
def test_other_requests_are_refused_with_socratas_error(hourly, params):
    status, headers, body = get(hourly.url, "/resource/wujg-7c2s.csv", **params)
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    error = json.loads(body)
    assert (error["code"], error["error"]) == ("query.compiler.malformed", True) and error["message"]


def test_an_unknown_dataset_is_missing(hourly):
    for path in ("/resource/v5y5-mwpb.csv", "/api/views/v5y5-mwpb.json"):
        status, _, body = get(hourly.url, path, **{"$where": RANGE, "$order": ":id"})
        assert status == 404
        assert json.loads(body)["code"] == "dataset.missing"


def test_requests_are_counted_by_kind():
    server = GeneratedHourlyServer(newest_hour=NEWEST_HOUR).start()
    try:
        low, high = "2023-05-27T00:00:00", "2023-05-27T01:00:00"
        all_rows(server.url, "wujg-7c2s", low, high, limit=1000)
        totals(server.url, "wujg-7c2s", low, high)
        daily(server.url, "wujg-7c2s", low, high)
        newest(server.url, "wujg-7c2s")
        get(server.url, "/api/views/wujg-7c2s.json")
        get(server.url, "/resource/wujg-7c2s.csv")
        pages = -(-ROWS_PER_HOUR_OF_DAY[0] // 1000) + 1  # the last, empty page included
        counted = {"pages": pages, "totals": 1, "daily": 1, "newest": 1, "views": 1, "refused": 1}
        assert server.requests == counted
        # As a process of its own serves them; asking is not counted.
        assert json.loads(get(server.url, "/_stats")[2]) == json.loads(get(server.url, "/_stats")[2]) == counted
    finally:
        server.stop()
