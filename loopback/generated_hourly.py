"""NY Open Data's MTA Subway Hourly Ridership on loopback, generated on request at real size (benchmarks).

Every hour has the same rows for its hour of day (about 430 station complexes, each with the fare
classes busy enough at that hour: ROWS_PER_HOUR_OF_DAY, about 86,000 a day, 600,000 a week), ordered by
hour, complex and class; that is the `:id` order. So row i of a range is found from i alone, a page is
generated without the rows before it, and counts and sums are arithmetic: nothing is held per hour, and
a 52-week backfill needs no more memory than one page. Ridership is a complex's share of its hour scaled
by a day's level (weekday, weekend, a little from the date), plus noise that moves between rows from hour
to hour but sums to the same in every hour, so an hour's total is cached per (hour of day, level). A
page's CSV is joined by pyarrow from each hour of day's cells, made once, with no Python loop over rows:
the server shares the cores with the client it serves, and a benchmark should measure the client.
Answers depend on the request (and `newest_hour`) alone: the same request gets the same bytes.

Only the requests of an hourly client are answered (rows by `:id` pages, with `:id` selected and each
after the last `:id` read, or by `$offset`, totals, rows and newest change per hour, daily totals, the newest hour, the dataset's
metadata); see `GeneratedHourlyServer`. A row's `:id` is `row-` and its position in hex; its `:created_at`
and `:updated_at` are when its hour ended (nothing is ever revised here). Transfers are a share of a row's
ridership before noise, so their sums are arithmetic too. Every day has 24 hours: no
daylight-saving gap or repeat. `GET /_stats` answers the requests counted so far, by kind, as JSON: what a
benchmark running the server as a process of its own reads.

    python -m loopback.generated_hourly --port 0 --newest-hour 2025-06-30T23:00   # prints its URL
"""

import argparse
import json
import random
import re
import signal
import threading
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from loopback.serving import QuietHandler, serve_on_loopback, stop_serving
from loopback.soda_server import MAX_LIMIT, _csv, _json, _malformed, _QueryError

FIELDS = (
    "transit_timestamp", "transit_mode", "station_complex_id", "station_complex", "borough", "payment_method",
    "fare_class_category", "ridership", "transfers", "latitude", "longitude", "georeference",
)  # fmt: skip
# SODA types of the fields and of the aggregates' aliases; text where left out.
_TYPES = {"transit_timestamp": "floating_timestamp", "ridership": "number", "transfers": "number", "latitude": "number",
          "longitude": "number", "georeference": "point", "rows": "number", "day": "floating_timestamp", "newest": "floating_timestamp",
          ":id": "row_identifier", ":created_at": "fixed_timestamp", ":updated_at": "fixed_timestamp", "updated_at": "fixed_timestamp"}  # fmt: skip
# The metadata's type names (Socrata's views API calls a floating timestamp calendar_date).
_VIEW_TYPES = {"floating_timestamp": "calendar_date"}
# Display names, as the views API gives them beside the field names.
_DISPLAY_NAMES = {"station_complex_id": "Station Complex ID"}

# Fare classes in their row order, most used first, with their share of a complex's riders (2023-ish).
FARE_CLASSES = (
    ("omny", "OMNY - Full Fare", 0.38),
    ("metrocard", "Metrocard - Full Fare", 0.16),
    ("metrocard", "Metrocard - Unlimited 30-Day", 0.15),
    ("metrocard", "Metrocard - Unlimited 7-Day", 0.08),
    ("metrocard", "Metrocard - Seniors & Disability", 0.05),
    ("metrocard", "Metrocard - Students", 0.05),
    ("metrocard", "Metrocard - Fair Fare", 0.04),
    ("omny", "OMNY - Seniors & Disability", 0.03),
    ("omny", "OMNY - Students", 0.02),
    ("metrocard", "Metrocard - Other", 0.02),
    ("omny", "OMNY - Fair Fare", 0.01),
    ("omny", "OMNY - Other", 0.01),
)
# Share of a day's riders in each hour of the day: the morning and evening peaks, a quiet night.
_HOUR_PROFILE = (0.8, 0.5, 0.35, 0.3, 0.5, 1.3, 3.0, 5.5, 7.5, 6.0, 4.5, 4.3, 4.5, 4.7, 5.2, 6.2, 7.2, 7.8, 6.3, 4.6, 3.6, 3.0,
                 2.4, 1.6)  # fmt: skip
# A (complex, class) has a row in an hour when a weekday would bring it at least this many riders: real data
# has no rows of zero riders, so quiet hours have fewer rows. Chosen for about 600,000 rows a week.
_FEWEST_EXPECTED_RIDERS = 2.6
# A day's level, in 64ths of a weekday's ridership, by weekday (Monday first).
_LEVEL_OF_WEEKDAY = (64, 66, 66, 65, 62, 42, 34)
_BOROUGHS = (
    ("Manhattan", 0.28, 40.76, -73.98),
    ("Brooklyn", 0.34, 40.66, -73.95),
    ("Queens", 0.21, 40.72, -73.83),
    ("Bronx", 0.17, 40.84, -73.89),
)
_LINES = "1234567ACEBDFMGJZLNQRW"

EPOCH = datetime(2017, 1, 1)  # a Sunday; hours are numbered from here
_HOUR = timedelta(hours=1)
_TIMEZONE = ZoneInfo("America/New_York")
NEWEST_HOUR = datetime(2025, 6, 30, 23)
STATS_PATH = "/_stats"  # the requests counted so far, by kind


@dataclass(frozen=True)
class HourlyDataset:
    id: str
    name: str
    first_day: datetime
    end_day: datetime | None  # the day after its last, or None: it goes on to the server's newest hour


DATASETS = {
    dataset.id: dataset
    for dataset in (
        HourlyDataset("t69i-h2me", "MTA Subway Hourly Ridership: 2017-2019", datetime(2017, 1, 1), datetime(2020, 1, 1)),
        HourlyDataset("wujg-7c2s", "MTA Subway Hourly Ridership: 2020-2024", datetime(2020, 1, 1), datetime(2025, 1, 1)),
        HourlyDataset("5wq4-mkjj", "MTA Subway Hourly Ridership: Beginning 2025", datetime(2025, 1, 1), None),
    )
}


@dataclass(frozen=True)
class StationComplex:
    fields: dict[str, str]  # its fields of every row: mode, id, name, borough, place
    weekday_riders: float  # riders on a weekday, all day


def _station_complexes(rng: random.Random) -> list[StationComplex]:
    """The station complexes in `:id` order: ids 1..447 without every 25th (the real ids have gaps), Staten
    Island Railway from 427 on and subway before, then the Roosevelt Island Tram's two stations."""
    complexes = []
    for number in (number for number in range(1, 448) if number % 25):
        if number >= 427:
            mode, borough, latitude, longitude, lines = "staten_island_railway", "Staten Island", 40.58, -74.12, "SIR"
        else:
            borough, _, latitude, longitude = rng.choices(_BOROUGHS, [share for _, share, _, _ in _BOROUGHS])[0]
            mode, lines = "subway", ",".join(sorted(rng.sample(_LINES, rng.randint(1, 4))))
        name = f"{rng.randint(1, 240)} {rng.choice(['St', 'Av'])} ({lines})"
        riders = rng.lognormvariate(8.5, 0.9) * (0.1 if mode == "staten_island_railway" else 1)
        place = (latitude + rng.uniform(-0.06, 0.06), longitude + rng.uniform(-0.06, 0.06))
        complexes.append(_station_complex(str(number), mode, name, borough, place, riders))
    complexes.append(_station_complex("TRAM1", "tram", "Roosevelt Island Tramway (59 St)", "Manhattan", (40.7614, -73.9647), 900))
    complexes.append(_station_complex("TRAM2", "tram", "Roosevelt Island Tramway (Roosevelt Island)", "Manhattan", (40.7574, -73.9545), 900))
    return complexes


def _station_complex(complex_id: str, mode: str, name: str, borough: str, place: tuple[float, float], riders: float) -> StationComplex:
    latitude, longitude = f"{place[0]:.6f}", f"{place[1]:.6f}"
    fields = {"transit_mode": mode, "station_complex_id": complex_id, "station_complex": name, "borough": borough,
              "latitude": latitude, "longitude": longitude, "georeference": f"POINT ({longitude} {latitude})"}  # fmt: skip
    return StationComplex(fields, riders)


@dataclass(frozen=True)
class HourOfDay:
    """The rows every hour at one hour of the day has, in order, with what their ridership is made of."""

    constants: list[dict]  # the fields that do not change from hour to hour
    weekday_riders: list[int]  # ridership on a weekday (level 64), before noise
    noise: list[int]  # added to ridership, rotated by a different amount every hour (so its sum is constant)
    transfer_sixteenths: list[int]  # transfers, in 16ths of ridership


def _hours_of_day() -> tuple[HourOfDay, ...]:
    rng = random.Random(2017)
    complexes = _station_complexes(rng)
    profile_total = sum(_HOUR_PROFILE)
    hours = []
    for share_of_day in (share / profile_total for share in _HOUR_PROFILE):
        constants, weekday_riders = [], []
        for station in complexes:
            for payment_method, fare_class, share in FARE_CLASSES:
                expected = station.weekday_riders * share_of_day * share
                if expected >= _FEWEST_EXPECTED_RIDERS:
                    constants.append({**station.fields, "payment_method": payment_method, "fare_class_category": fare_class})
                    weekday_riders.append(round(expected))
        noise = [rng.randint(1, 4) for _ in constants]  # at least 1: no row has zero riders
        hours.append(HourOfDay(constants, weekday_riders, noise, [rng.randint(0, 3) for _ in constants]))
    return tuple(hours)


HOURS_OF_DAY = _hours_of_day()
ROWS_PER_HOUR_OF_DAY = tuple(len(hour.constants) for hour in HOURS_OF_DAY)
ROWS_PER_DAY = sum(ROWS_PER_HOUR_OF_DAY)
# Rows in a day before each hour of the day (and, last, the whole day's).
_ROWS_BEFORE_HOUR_OF_DAY = tuple(sum(ROWS_PER_HOUR_OF_DAY[:hour]) for hour in range(25))


def _hour_number(moment: datetime) -> int:
    """Hours from EPOCH to `moment`, rounded up: the first hour at or after it."""
    return -((EPOCH - moment) // _HOUR)


def _rows_before(hour_number: int) -> int:
    """Rows of all hours from EPOCH up to `hour_number`: the `:id` position of that hour's first row."""
    day, hour_of_day = divmod(hour_number, 24)
    return day * ROWS_PER_DAY + _ROWS_BEFORE_HOUR_OF_DAY[hour_of_day]


def _level(day_number: int) -> int:
    """A day's ridership in 64ths of a weekday's: its weekday's level and a little (-4..4) from the date."""
    weekday = (EPOCH.weekday() + day_number) % 7
    return _LEVEL_OF_WEEKDAY[weekday] + (day_number * 2654435761 >> 7) % 9 - 4


def _rotation(hour_number: int, rows: int) -> int:
    return (hour_number * 2654435761 >> 5) % rows


def _timestamp(hour_number: int) -> str:
    return f"{EPOCH + hour_number * _HOUR:%Y-%m-%dT%H:%M:%S}.000"


def hour_total(hour_number: int) -> int:
    """Ridership of the hour `hour_number` hours from EPOCH, without generating its rows."""
    return _hour_totals(hour_number % 24, _level(hour_number // 24))[0]


def hour_transfers(hour_number: int) -> int:
    """Transfers of the hour `hour_number` hours from EPOCH, without generating its rows."""
    return _hour_totals(hour_number % 24, _level(hour_number // 24))[1]


@cache
def _hour_totals(hour_of_day: int, level: int) -> tuple[int, int]:
    """An hour's ridership and transfers depend on its hour of day and its day's level alone: the noise only moves."""
    hour = HOURS_OF_DAY[hour_of_day]
    base = [riders * level // 64 for riders in hour.weekday_riders]
    return sum(base) + sum(hour.noise), sum(riders * sixteenths // 16 for riders, sixteenths in zip(base, hour.transfer_sixteenths))


def _updated_at(hour_number: int) -> str:
    """When an hour's rows were published: the end of the hour, as Socrata writes a fixed timestamp (UTC)."""
    return f"{datetime.fromtimestamp(_epoch_seconds(hour_number + 1), timezone.utc):%Y-%m-%dT%H:%M:%S}.000Z"


def _quoted(value: str) -> str:
    """A CSV cell as Socrata writes a non-null one: double-quoted, quotes doubled."""
    return '"' + value.replace('"', '""') + '"'


@dataclass(frozen=True)
class _HourCells:
    """An hour of day's rows as CSV pieces, in pyarrow arrays: what a page is joined from without a Python loop."""

    before_counts: pa.Array  # `"subway","1",...,"OMNY - Full Fare","`: the cells between the time and ridership
    after_counts: pa.Array  # `","40.1","-73.9","POINT (...)"` and the line's end: the cells after transfers
    weekday_riders: pa.Array
    noise: pa.Array
    transfer_sixteenths: pa.Array


@cache
def _hour_cells(hour_of_day: int) -> _HourCells:
    hour = HOURS_OF_DAY[hour_of_day]
    before, after = FIELDS[1 : FIELDS.index("ridership")], FIELDS[FIELDS.index("transfers") + 1 :]
    return _HourCells(
        before_counts=pa.array([",".join(_quoted(row[name]) for name in before) + ',"' for row in hour.constants]),
        after_counts=pa.array(['",' + ",".join(_quoted(row[name]) for name in after) + "\n" for row in hour.constants]),
        weekday_riders=pa.array(hour.weekday_riders, pa.int64()),
        noise=pa.array(hour.noise, pa.int64()),
        transfer_sixteenths=pa.array(hour.transfer_sixteenths, pa.int64()),
    )


@cache
def _hour_counts(hour_of_day: int, level: int) -> tuple[pa.Array, pa.Array]:
    """Ridership before noise and transfers (as text) of an hour of day's rows on a day of `level`."""
    cells = _hour_cells(hour_of_day)
    base = pc.divide(pc.multiply(cells.weekday_riders, level), 64)  # whole numbers, at least 0: floor division
    return base, pc.cast(pc.divide(pc.multiply(base, cells.transfer_sixteenths), 16), pa.string())


# The last four hex digits of a position, for every value: a page's ids are slices of it after a prefix.
_LOW_HEX_DIGITS = pa.array([f"{low:04x}" for low in range(1 << 16)])


def _row_id_cells(first_position: int, count: int) -> pa.Array:
    """`"row-000000abcd",` for each `:id` position from `first_position`: row- and the position in 10 hex digits."""
    runs = []
    position, end = first_position, first_position + count
    while position < end:  # in runs of the same first six digits
        high, low = divmod(position, 1 << 16)
        rows = min(end - position, (1 << 16) - low)
        runs.append(pc.binary_join_element_wise(f'"row-{high:06x}', _LOW_HEX_DIGITS.slice(low, rows), '",', ""))
        position += rows
    return pa.concat_arrays(runs)


def _position(row_id_text: str) -> int:
    if not re.fullmatch(r"row-[0-9a-f]{10}", row_id_text):
        raise _malformed(f"Not a row identifier: {row_id_text!r}")
    return int(row_id_text[4:], 16)


def rows_csv(fields: list[str], first_position: int, count: int) -> bytes:
    """The CSV of `count` rows from the `:id` position `first_position` (counted from EPOCH's first row), header
    included, with `:id` first if `fields` has it."""
    lines = []
    position, end = first_position, first_position + count
    while position < end:
        day, row_of_day = divmod(position, ROWS_PER_DAY)
        hour_of_day = bisect_right(_ROWS_BEFORE_HOUR_OF_DAY, row_of_day) - 1
        hour_number, cells = day * 24 + hour_of_day, _hour_cells(hour_of_day)
        first_row = row_of_day - _ROWS_BEFORE_HOUR_OF_DAY[hour_of_day]
        rows = min(len(cells.noise), first_row + end - position) - first_row
        base, transfers = _hour_counts(hour_of_day, _level(day))
        # The noise rotated by the hour's amount: row r gets noise[(r + rotation) % len(noise)].
        rotation = _rotation(hour_number, len(cells.noise))
        noise = pa.concat_arrays([cells.noise[rotation:], cells.noise[:rotation]])
        ridership = pc.cast(pc.add(base.slice(first_row, rows), noise.slice(first_row, rows)), pa.string())
        pieces = [_row_id_cells(position, rows)] if ":id" in fields else []
        pieces += [
            f'"{_timestamp(hour_number)}",', cells.before_counts.slice(first_row, rows), ridership, '","',
            transfers.slice(first_row, rows), cells.after_counts.slice(first_row, rows),
        ]  # fmt: skip
        lines.append(pc.binary_join_element_wise(*pieces, ""))
        position += rows
    header = (",".join(_quoted(name) for name in fields) + "\n").encode()
    if not lines:
        return header
    text = pa.concat_arrays(lines)
    return header + text.buffers()[2].slice(0, pc.sum(pc.binary_length(text)).as_py()).to_pybytes()


def _compact(select: str | None) -> str | None:
    return None if select is None else re.sub(r"\s+", "", select).lower()


_ID_AND_FIELDS = _compact(":id, *")
_TOTALS = _compact("count(*) AS rows, sum(ridership) AS ridership, sum(transfers) AS transfers")
_VERSION = _compact("transit_timestamp, count(*) AS rows, max(:updated_at) AS updated_at")
_DAILY = _compact(
    "date_trunc_ymd(transit_timestamp) AS day, count(*) AS rows, sum(ridership) AS ridership, sum(transfers) AS transfers, "
    "max(:updated_at) AS updated_at"
)
_NEWEST = _compact("max(transit_timestamp) AS newest")
_GROUPED = {"$select", "$where", "$group", "$order"}


def request_kind(params: dict[str, str]) -> str:
    """pages, totals, hourly, daily or newest: which of the hourly client's requests `params` is; 400 for any other."""
    names, select = set(params), _compact(params.get("$select"))
    page_names = {"$where", "$order", "$limit", "$offset"}
    if select in (None, _ID_AND_FIELDS) and {"$where", "$order"} <= names - {"$select"} <= page_names and params["$order"].strip() == ":id":
        return "pages"
    if select == _TOTALS and names == {"$select", "$where"}:
        return "totals"
    if select == _VERSION and _GROUPED <= names <= _GROUPED | {"$limit"} and params["$group"].strip() == params["$order"].strip() == "transit_timestamp":
        return "hourly"
    if select == _DAILY and _GROUPED <= names <= _GROUPED | {"$limit"} and params["$group"].strip() == params["$order"].strip() == "day":
        return "daily"
    if select == _NEWEST and names == {"$select"}:
        return "newest"
    raise _malformed(
        f"Unsupported query {params!r}: this server answers rows by $order=:id with a $where range (and :id after one), "
        "their count(*) and sums, the rows and newest :updated_at per hour, the totals by date_trunc_ymd day, and "
        "max(transit_timestamp)"
    )


def _limit_and_offset(params: dict[str, str]) -> tuple[int, int]:
    try:
        limit, offset = int(params.get("$limit", "1000")), int(params.get("$offset", "0"))
    except ValueError:
        raise _malformed("$limit and $offset must be integers") from None
    if not 0 <= limit <= MAX_LIMIT or offset < 0:
        raise _malformed(f"$limit must be between 0 and {MAX_LIMIT}, $offset at least 0")
    return limit, offset


_WHERE = re.compile(
    r"^\s*transit_timestamp\s*>=\s*'(?P<low>[^']*)'\s+AND\s+transit_timestamp\s*<\s*'(?P<high>[^']*)'"
    r"(?:\s+AND\s+:id\s*>\s*'(?P<after>[^']*)')?\s*$",
    re.I,
)


def _where_hours(where: str) -> tuple[int, int, int | None]:
    """The hours (numbers from EPOCH, end excluded) of `transit_timestamp >= 'A' AND transit_timestamp < 'B'`,
    and the position of the row after which the rows are asked for (`AND :id > 'row-...'`), if any."""
    match = _WHERE.match(where)
    if match is None:
        raise _malformed(
            f"Could not parse $where: {where!r}; expected transit_timestamp >= 'A' AND transit_timestamp < 'B' [AND :id > 'C']"
        )
    try:
        low, high = _hour_number(datetime.fromisoformat(match["low"])), _hour_number(datetime.fromisoformat(match["high"]))
    except ValueError:
        raise _malformed(f"Not a floating timestamp in $where: {where!r}") from None
    return low, high, None if match["after"] is None else _position(match["after"])


@dataclass
class GeneratedHourlyServer:
    """The three hourly ridership datasets, generated, at http://127.0.0.1:PORT/resource/{id}.csv.

    `newest_hour` is the last hour of 5wq4-mkjj (and no dataset has a later one); `rows_updated_at` sets a
    dataset's rowsUpdatedAt (epoch seconds; otherwise the end of its last hour, New York time). `requests`
    counts the answered requests by kind: pages, totals, daily, newest, views, and refused (400 or 404);
    STATS_PATH answers it as JSON and is not counted.
    """

    newest_hour: datetime = NEWEST_HOUR
    rows_updated_at: dict[str, int] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def hours_of(self, dataset: HourlyDataset) -> tuple[int, int]:
        """The dataset's hours (numbers from EPOCH, end excluded), cut at `newest_hour`."""
        first, end = _hour_number(dataset.first_day), (self.newest_hour - EPOCH) // _HOUR + 1
        if dataset.end_day is not None:
            end = min(end, _hour_number(dataset.end_day))
        return first, max(first, end)

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a GET of `path` with the query `params`; counts it (but STATS_PATH)."""
        if path == STATS_PATH:
            with self._lock:
                return _json(200, dict(self.requests))
        kind, (status, headers, body) = self._answer(path, params)
        with self._lock:
            self.requests[kind] += 1
        return status, headers, body

    def _answer(self, path: str, params: dict[str, str]) -> tuple[str, tuple[int, dict[str, str], bytes]]:
        """The request's kind (refused for a 400 or 404) and its answer."""
        match = re.match(r"^/(?:resource/(?P<rows>[a-z0-9]{4}-[a-z0-9]{4})\.csv|api/views/(?P<view>[a-z0-9]{4}-[a-z0-9]{4})\.json)$", path)
        if match is None:
            return "refused", _json(404, {"code": "not.found", "error": True, "message": f"No route {path}"})
        dataset_id = match["rows"] or match["view"]
        if dataset_id not in DATASETS:
            return "refused", _json(404, {"code": "dataset.missing", "error": True, "message": f"Cannot find view {dataset_id}", "data": {}})
        dataset = DATASETS[dataset_id]
        if match["view"]:
            return "views", _json(200, self.view(dataset))
        try:
            kind = request_kind(params)
            fields, body = self._query(kind, dataset, params)
        except _QueryError as error:
            return "refused", _json(400, error.body)
        headers = {
            "Content-Type": "text/csv; charset=UTF-8",
            "X-SODA2-Fields": json.dumps(fields, separators=(",", ":")),
            "X-SODA2-Types": json.dumps([_TYPES.get(name, "text") for name in fields], separators=(",", ":")),
        }
        return kind, (200, headers, body)

    def _query(self, kind: str, dataset: HourlyDataset, params: dict[str, str]) -> tuple[list[str], bytes]:
        """The answer's fields and its CSV."""
        first, end = self.hours_of(dataset)
        if kind == "newest":
            return _fields_and_csv(["newest"], [{"newest": _timestamp(end - 1) if end > first else None}])
        low, high, after = _where_hours(params["$where"])
        first = max(first, low)
        end = max(first, min(end, high))
        if kind == "pages":
            limit, offset = _limit_and_offset(params)
            start, stop = _rows_before(first) + offset, _rows_before(end)
            if after is not None:
                start = max(start, after + 1)
            fields = [":id", *FIELDS] if params.get("$select") else list(FIELDS)
            return fields, rows_csv(fields, start, max(0, min(limit, stop - start)))
        if kind == "totals":
            rows = _rows_before(end) - _rows_before(first)
            sums = [str(sum(total(hour) for hour in range(first, end))) if rows else None for total in (hour_total, hour_transfers)]
            return _fields_and_csv(["rows", "ridership", "transfers"], [{"rows": str(rows), "ridership": sums[0], "transfers": sums[1]}])
        limit, _ = _limit_and_offset(params)
        if kind == "hourly":
            hours = [
                {"transit_timestamp": _timestamp(hour), "rows": str(ROWS_PER_HOUR_OF_DAY[hour % 24]), "updated_at": _updated_at(hour)}
                for hour in range(first, end)
            ]
            return _fields_and_csv(["transit_timestamp", "rows", "updated_at"], hours[:limit])
        days = []
        # Every day from the range's first to its last hour has some of its hours in it.
        for day in range(first // 24, -(-end // 24) if end > first else first // 24):
            hours = range(max(first, day * 24), min(end, day * 24 + 24))
            days.append({
                "day": _timestamp(day * 24),
                "rows": str(_rows_before(hours.stop) - _rows_before(hours.start)),
                "ridership": str(sum(hour_total(hour) for hour in hours)),
                "transfers": str(sum(hour_transfers(hour) for hour in hours)),
                "updated_at": _updated_at(hours[-1]),
            })
        return _fields_and_csv(["day", "rows", "ridership", "transfers", "updated_at"], days[:limit])

    def view(self, dataset: HourlyDataset) -> dict:
        """The dataset's metadata, as GET /api/views/{id}.json has it."""
        first, end = self.hours_of(dataset)
        updated = self.rows_updated_at.get(dataset.id, _epoch_seconds(end))
        columns = [
            {"fieldName": name, "name": _DISPLAY_NAMES.get(name, name.replace("_", " ").title()),
             "dataTypeName": _VIEW_TYPES.get(_TYPES.get(name, "text"), _TYPES.get(name, "text"))}
            for name in FIELDS
        ]  # fmt: skip
        return {"id": dataset.id, "name": dataset.name, "rowsUpdatedAt": updated, "viewLastModified": _epoch_seconds(first), "columns": columns}

    def start(self, port: int = 0) -> "GeneratedHourlyServer":
        for hour_of_day in range(24):  # made before the first request: a benchmark's first page costs what any other does
            _hour_cells(hour_of_day)
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                status, headers, body = server.answer(parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)))
                self.send_whole(status, headers, body)

        self._server = serve_on_loopback(Handler, port)
        return self

    def stop(self) -> None:
        stop_serving(self._server)


def _fields_and_csv(fields: list[str], rows: list[dict]) -> tuple[list[str], bytes]:
    return fields, _csv(fields, rows)


def _epoch_seconds(hour_number: int) -> int:
    return int((EPOCH + hour_number * _HOUR).replace(tzinfo=_TIMEZONE).timestamp())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--newest-hour", type=datetime.fromisoformat, default=NEWEST_HOUR, help="the last hour of 5wq4-mkjj")
    arguments = parser.parse_args()
    # Started from a background job, the process inherits an ignored SIGTERM; it stops on one all the same.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    running = GeneratedHourlyServer(newest_hour=arguments.newest_hour).start(arguments.port)
    print(running.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        running.stop()
