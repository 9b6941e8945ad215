"""A SODA 2 server on 127.0.0.1 that answers as NY Open Data does (see shared/ny-open-data.md), and
misbehaves on request.

Datasets are held by id as rows of text (field name -> value, None for null). `GET /resource/{id}.csv`
takes `$where` as comparisons of a field with a literal joined by AND (`F between 'A' and 'B'`, `F >= 'A'`,
`F < 'B'`, `:id > 'row-...'`), `$select` (fields, `*`, the system fields `:*`, and `count(*)`, `sum(f)`,
`max(f)`, `min(f)`, `date_trunc_ymd(f)`, each with an optional `AS alias`), `$group` (by alias or field),
`$order` (`:id`, or an alias or field, optionally `DESC`), `$limit` (at most 50,000) and `$offset`.
Every row has Socrata's system fields `:id` (`row-` and hex digits, in the order rows were added),
`:created_at` and `:updated_at`, given when the server first sees the row. Rows change between requests
through `changes` and `changes_before_page` (callbacks by request number, or by the number of the page
of rows) calling `insert`, `revise` and `delete`, which stamp `:updated_at` and the dataset's
rowsUpdatedAt from the server's own clock, a second a change: deterministic, whatever the timing.

Answers are CSV as Socrata writes it: a header of field names (or aliases), every non-null cell
double-quoted, LF, with X-SODA2-Fields and X-SODA2-Types; a sum, max or min over no rows is an empty cell. `GET /api/views/{id}.json` is the dataset's metadata (name,
rowsUpdatedAt, viewLastModified, columns). Errors are JSON bodies in both of Socrata's shapes (`code` and
`errorCode`).
"""

import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from http.server import ThreadingHTTPServer

from urllib.parse import parse_qsl, urlsplit

from loopback.serving import QuietHandler, serve_on_loopback, stop_serving
from mta_assets.turnstile.parsing import week_bounds

MAX_LIMIT = 50_000
TURNSTILE_FIELDS = ("c_a", "unit", "scp", "station", "line_name", "division", "date", "time", "description", "entries", "exits")
# 2014's dataset spells two fields differently.
TURNSTILE_FIELDS_2014 = ("c_a", "unit", "scp", "station", "linename", "division", "date", "time", "desc", "entries", "exits")
HOURLY_FIELDS = (
    "transit_timestamp", "transit_mode", "station_complex_id", "station_complex", "borough", "payment_method",
    "fare_class_category", "ridership", "transfers", "latitude", "longitude", "georeference",
)  # fmt: skip
# The older version of wujg-7c2s: `routes`, no transit_mode or fare_class_category, counts as decimals.
HOURLY_FIELDS_OLD = (
    "transit_timestamp", "station_complex_id", "station_complex", "borough", "routes", "payment_method", "ridership",
    "transfers", "latitude", "longitude", "georeference",
)  # fmt: skip
# Socrata's system fields, hidden unless selected (`:*` selects them all).
SYSTEM_FIELDS = (":id", ":created_at", ":updated_at")
_TYPES = {
    ":id": "row_identifier", ":created_at": "fixed_timestamp", ":updated_at": "fixed_timestamp",
    "date": "floating_timestamp", "entries": "number", "exits": "number", "transit_timestamp": "floating_timestamp",
    "ridership": "number", "transfers": "number", "latitude": "number", "longitude": "number", "georeference": "point",
}  # fmt: skip
# The metadata's dataTypeName where it is not the SODA2 type.
_DATA_TYPE_NAMES = {"floating_timestamp": "calendar_date"}
# Metadata of a dataset whose times are not set: 2023-11-14 and an hour later.
DEFAULT_ROWS_UPDATED_AT = 1_700_000_000
DEFAULT_VIEW_LAST_MODIFIED = 1_700_003_600
_RESOURCE = re.compile(r"^/resource/(?P<id>[a-z0-9]{4}-[a-z0-9]{4})\.csv$")
_VIEW = re.compile(r"^/api/views/(?P<id>[a-z0-9]{4}-[a-z0-9]{4})\.json$")
_SELECTION = re.compile(
    r"^\s*(?:(?P<function>\w+)\s*\(\s*(?P<argument>\*|:?\w+)\s*\)|(?P<field>:?\w+|:?\*))(?:\s+as\s+(?P<alias>\w+))?\s*$", re.I
)
_AGGREGATES = frozenset({"count", "sum", "max", "min"})
_LITERAL = r"'(?P<{}>[^']*)'"
_BETWEEN = re.compile(rf"^\s*(?P<field>:?\w+)\s+between\s+{_LITERAL.format('low')}\s+and\s+{_LITERAL.format('high')}\s*", re.I)
_COMPARISON = re.compile(rf"^\s*(?P<field>:?\w+)\s*(?P<operator>>=|<=|>|<|=)\s*{_LITERAL.format('value')}\s*", re.I)
_AND = re.compile(r"^and\s+", re.I)
_OPERATORS = {">=": str.__ge__, "<=": str.__le__, ">": str.__gt__, "<": str.__lt__, "=": str.__eq__}
_ID_AFTER = re.compile(r"\s+and\s+:id\s*>\s*'[^']*'", re.I)
_ID_AFTER_CLAUSE = re.compile(r":id\s*>\s*'[^']*'", re.I)
# The server's clock for :created_at and :updated_at: epoch seconds, a second a change.
_CLOCK_START = 1_700_000_000


def turnstile_rows(lines: list[str], fields: tuple[str, ...] = TURNSTILE_FIELDS, station: bool = True) -> list[dict]:
    """Rows of a Turnstile Usage Data dataset holding the readings of MTA file lines (loopback.turnstile_files).

    Counters lose their zero padding and dates become floating timestamps, as on NY Open Data; without
    `station` the station is empty, as in 2022's dataset.
    """
    rows = []
    for line in lines:
        control_area, unit, scp, name, line_name, division, day, time, description, entries, exits = line.rstrip().split(",")
        values = (
            control_area, unit, scp, name if station else None, line_name, division,
            f"{datetime.strptime(day, '%m/%d/%Y'):%Y-%m-%dT%H:%M:%S.000}", time, description, str(int(entries)), str(int(exits)),
        )  # fmt: skip
        rows.append(dict(zip(fields, values)))
    return rows


@dataclass(frozen=True)
class StationComplex:
    """A station complex as hourly ridership names it (ids, names and places as NY Open Data writes them)."""

    id: str
    name: str
    borough: str
    routes: str  # the older version's field
    latitude: str
    longitude: str
    transit_mode: str = "subway"
    riders_per_hour: int = 400  # at the busiest hour, by MetroCard and OMNY together


STATION_COMPLEXES = (
    StationComplex(
        "611", "Times Sq-42 St (N,Q,R,W,S,1,2,3,7)/42 St (A,C,E)", "Manhattan", "N,Q,R,W,S,1,2,3,7,A,C,E", "40.75731",
        "-73.98612", riders_per_hour=4000,
    ),
    StationComplex("610", "Grand Central-42 St (S,4,5,6,7)", "Manhattan", "S,4,5,6,7", "40.75178", "-73.97685", riders_per_hour=3500),
    StationComplex("636", "Jay St-MetroTech (A,C,F,R)", "Brooklyn", "A,C,F,R", "40.69234", "-73.98734", riders_per_hour=900),
    StationComplex("447", "Flushing-Main St (7)", "Queens", "7", "40.7596", "-73.83003", riders_per_hour=1500),
    StationComplex("TRAM1", "Roosevelt Island Tramway (Manhattan)", "Manhattan", "TRAM", "40.76133", "-73.96406", "tram", 60),
    StationComplex("501", "St George (SIR)", "Staten Island", "SIR", "40.64375", "-74.07364", "staten_island_railway", 300),
)  # fmt: skip
# Fare classes of the current versions, by payment method, with their share of the method's riders.
_FARE_CLASSES = {
    "omny": (("OMNY - Full Fare", 0.8), ("OMNY - Seniors & Disability", 0.2)),
    "metrocard": (("Metrocard - Full Fare", 0.5), ("Metrocard - Unlimited 30-Day", 0.5)),
}
_OMNY_SHARE = 0.45
# The share of a day's riders in each hour: a morning and an evening peak, little at night.
_HOUR_SHARES = (1, 0.5, 0.3, 0.3, 0.6, 1.5, 4, 7, 9, 6, 4.5, 4.5, 5, 5, 5.5, 6.5, 8, 9, 6.5, 4.5, 3.5, 3, 2.5, 1.5)


def hourly_rows(
    week: date, complexes: tuple[StationComplex, ...] = STATION_COMPLEXES[:3], old_version: bool = False, seed: int = 0
) -> list[dict]:
    """Rows of MTA Subway Hourly Ridership for the 168 hours of the week to Saturday `week`, in hour order.

    A row for each complex, hour and fare class (the current versions), or complex, hour and payment
    method with `routes` and decimal counts (`old_version`, as wujg-7c2s once was). Weekends are quieter.
    """
    rng = random.Random(seed * 100_003 + week.toordinal())
    start, _ = week_bounds(week)
    rows = []
    for hour in range(7 * 24):
        at = start + timedelta(hours=hour)
        weekday = 1.0 if at.weekday() < 5 else 0.55
        for complex_ in complexes:
            peak = complex_.riders_per_hour * weekday * _HOUR_SHARES[at.hour] / max(_HOUR_SHARES)
            for method, fare_classes in _FARE_CLASSES.items():
                method_riders = peak * (_OMNY_SHARE if method == "omny" else 1 - _OMNY_SHARE)
                classes = ((None, 1.0),) if old_version else fare_classes
                for fare_class, share in classes:
                    riders = int(method_riders * share * rng.uniform(0.8, 1.2))
                    transfers = int(riders * rng.uniform(0, 0.1))
                    values = {
                        "transit_timestamp": f"{at:%Y-%m-%dT%H:%M:%S}.000",
                        "transit_mode": complex_.transit_mode,
                        "station_complex_id": complex_.id,
                        "station_complex": complex_.name,
                        "borough": complex_.borough,
                        "routes": complex_.routes,
                        "payment_method": method,
                        "fare_class_category": fare_class,
                        "ridership": f"{riders}.0" if old_version else str(riders),
                        "transfers": f"{transfers}.0" if old_version else str(transfers),
                        "latitude": complex_.latitude,
                        "longitude": complex_.longitude,
                        "georeference": f"POINT ({complex_.longitude} {complex_.latitude})",
                    }
                    rows.append({name: values[name] for name in (HOURLY_FIELDS_OLD if old_version else HOURLY_FIELDS)})
    return rows


@dataclass
class SodaMisbehaviour:
    """How the server answers one dataset, beyond the rules of the API."""

    throttled: int = 0  # answer this many requests with 429 (and Retry-After), then as usual
    retry_after: str = "0"
    cut_pages: int = 0  # serve this many pages cut in the middle of their last row (with a matching length)
    repeat_without_order: bool = False  # without $order, every $offset gets the first page: unstable paging
    repeat_page: bool = False  # every page after the first serves the page before it (by $offset) or the first (by :id) again
    answer: tuple[int, dict] | None = None  # answer this status and JSON body every time
    lost_rows: int = 0  # leave this many rows out of the pages (cut at a row boundary); aggregates still have them
    ignore_where: bool = False  # pages of rows leave out the $where (aggregates keep it): rows outside the range
    stale_rows: list[dict] | None = None  # pages of rows come from these (a replica behind); aggregates from the dataset


@dataclass(frozen=True)
class SodaRequest:
    path: str
    params: dict[str, str]
    app_token: str | None
    ranged: bool  # a length probe (Range header), not a read of rows
    at: float  # time.monotonic() on arrival


@dataclass
class SodaServer:
    """Datasets by id, served at http://127.0.0.1:PORT/resource/{id}.csv; records every request.

    A dataset's fields are its rows' field names (`empty_fields` for one without rows, else the turnstile
    fields); its metadata takes its name, rowsUpdatedAt and viewLastModified from the dicts here (by id,
    with defaults).
    """

    datasets: dict[str, list[dict]] = field(default_factory=dict)
    empty_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    misbehaviours: dict[str, SodaMisbehaviour] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    rows_updated_at: dict[str, int] = field(default_factory=dict)
    view_last_modified: dict[str, int] = field(default_factory=dict)
    requests: list[SodaRequest] = field(default_factory=list)
    # Changes to the datasets, by the number of the request (1 for the first) they are made before: what
    # NY Open Data's own updates do between two requests of a read, at a point a test chooses.
    changes: dict[int, Callable[["SodaServer"], None]] = field(default_factory=dict)
    # The same, by the number of the read of rows (a request with no aggregate: a page) they are made before.
    changes_before_page: dict[int, Callable[["SodaServer"], None]] = field(default_factory=dict)
    _pages_read: int = 0
    clock: int = _CLOCK_START  # epoch seconds of the latest change; rows first seen are stamped with it
    _rows_given_ids: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def requests_per_path(self) -> Counter:
        """Reads of rows per path (length probes left out)."""
        return Counter(request.path for request in self.requests if not request.ranged)

    def app_tokens_seen(self) -> set[str | None]:
        return {request.app_token for request in self.requests}

    def insert(self, dataset_id: str, rows: list[dict]) -> None:
        """Add `rows` to the dataset as a change now: after every row there by :id, or where their own `:id` sorts."""
        with self._lock:
            self._stamp(self.datasets[dataset_id])
            self._change(dataset_id)
            self._stamp(rows)
            self.datasets[dataset_id].extend(rows)

    def revise(self, dataset_id: str, which: Callable[[dict], bool], **values: str) -> int:
        """Set `values` in the rows `which` picks, as a change now (:updated_at); how many rows changed."""
        with self._lock:
            rows = self.datasets[dataset_id]
            self._stamp(rows)
            self._change(dataset_id)
            revised = [row for row in rows if which(row)]
            for row in revised:
                row.update(values, **{":updated_at": _stamp_text(self.clock)})
            return len(revised)

    def delete(self, dataset_id: str, which: Callable[[dict], bool]) -> int:
        """Remove the rows `which` picks, as a change now; how many were removed."""
        with self._lock:
            rows = self.datasets[dataset_id]
            self._stamp(rows)
            self._change(dataset_id)
            kept = [row for row in rows if not which(row)]
            removed = len(rows) - len(kept)
            rows[:] = kept
            return removed

    def _change(self, dataset_id: str) -> None:
        self.clock += 1
        self.rows_updated_at[dataset_id] = self.clock

    def _stamp(self, rows: list[dict]) -> None:
        """Give the rows not seen before their system fields: the next :id, created and updated now."""
        for row in rows:
            if ":id" not in row:
                self._rows_given_ids += 1
                row[":id"] = f"row-{self._rows_given_ids:08x}"
            if ":updated_at" not in row:
                row.update({":created_at": _stamp_text(self.clock), ":updated_at": _stamp_text(self.clock)})

    def answer(self, dataset_id: str, params: dict[str, str], ranged: bool) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a read of `dataset_id` with the query `params`."""
        refused = self._refusal(dataset_id, ranged)
        if refused is not None:
            return refused
        rule = self.misbehaviours.get(dataset_id, SodaMisbehaviour())
        with self._lock:
            rows = list(self.datasets[dataset_id])
            self._stamp(rows)
            self._stamp(rule.stale_rows or [])
        try:
            selected, types, page = _query(rows, self.fields(dataset_id), params, rule)
        except _QueryError as error:
            return _json(400, error.body)
        body = _csv(selected, page)
        with self._lock:
            if not ranged and rule.cut_pages > 0 and page:
                rule.cut_pages -= 1
                last_row = body.rindex(b"\n", 0, len(body) - 1) + 1
                body = body[: last_row + (len(body) - last_row) // 2]
        headers = {
            "Content-Type": "text/csv; charset=UTF-8",
            "X-SODA2-Fields": json.dumps(selected, separators=(",", ":")),
            "X-SODA2-Types": json.dumps(types, separators=(",", ":")),
        }
        return 200, headers, body

    def view(self, dataset_id: str) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for the metadata of `dataset_id`."""
        refused = self._refusal(dataset_id, ranged=False)
        if refused is not None:
            return refused
        columns = [
            {"fieldName": name, "name": name.replace("_", " ").title(), "dataTypeName": _DATA_TYPE_NAMES.get(_type(name), _type(name))}
            for name in self.fields(dataset_id)
        ]
        return _json(200, {
            "id": dataset_id,
            "name": self.names.get(dataset_id, f"Dataset {dataset_id}"),
            "rowsUpdatedAt": self.rows_updated_at.get(dataset_id, DEFAULT_ROWS_UPDATED_AT),
            "viewLastModified": self.view_last_modified.get(dataset_id, DEFAULT_VIEW_LAST_MODIFIED),
            "columns": columns,
        })

    def fields(self, dataset_id: str) -> list[str]:
        """The dataset's own fields (the system fields left out)."""
        rows = self.datasets[dataset_id]
        fields = list(rows[0]) if rows else list(self.empty_fields.get(dataset_id, TURNSTILE_FIELDS))
        return [name for name in fields if name not in SYSTEM_FIELDS]

    def _refusal(self, dataset_id: str, ranged: bool) -> tuple[int, dict[str, str], bytes] | None:
        """The answer to anything about `dataset_id` when it is refused: set to, missing, or throttled."""
        rule = self.misbehaviours.get(dataset_id, SodaMisbehaviour())
        if rule.answer is not None:
            return _json(*rule.answer)
        if dataset_id not in self.datasets:
            return _json(404, {"code": "dataset.missing", "error": True, "message": f"Cannot find view {dataset_id}", "data": {}})
        with self._lock:
            if not ranged and rule.throttled > 0:
                rule.throttled -= 1
                status, headers, body = _json(429, {"code": "too.many.requests", "error": True, "message": "Too many requests"})
                return status, {**headers, "Retry-After": rule.retry_after}, body
        return None

    def start(self) -> "SodaServer":
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                ranged = bool(self.headers.get("Range"))  # ignored, as the range of a query's rows has no meaning
                with server._lock:
                    token = self.headers.get("X-App-Token")
                    server.requests.append(SodaRequest(parts.path, params, token, ranged, time.monotonic()))
                    if _RESOURCE.match(parts.path) and not ranged and _reads_rows(params):
                        server._pages_read += 1
                        page_change = server.changes_before_page.pop(server._pages_read, None)
                        if page_change is not None:
                            page_change(server)
                    change = server.changes.pop(len(server.requests), None)
                    if change is not None:
                        change(server)
                if match := _RESOURCE.match(parts.path):
                    status, headers, body = server.answer(match["id"], params, ranged)
                elif match := _VIEW.match(parts.path):
                    status, headers, body = server.view(match["id"])
                else:
                    status, headers, body = _json(404, {"code": "not.found", "error": True, "message": f"No route {parts.path}"})
                self.send_whole(status, headers, body)

        self._server = serve_on_loopback(Handler)
        return self

    def stop(self) -> None:
        stop_serving(self._server)


class _QueryError(Exception):
    """A query Socrata would refuse with 400; `body` is its JSON error."""

    def __init__(self, body: dict) -> None:
        super().__init__(body.get("message"))
        self.body = body


def _malformed(message: str) -> _QueryError:
    return _QueryError({"code": "query.compiler.malformed", "error": True, "message": message, "data": {}})


def _no_such_column(name: str) -> _QueryError:
    # The query coordinator's shape: errorCode, not code.
    return _QueryError({
        "message": f"Query coordinator error: query.soql.no-such-column; No such column: {name}",
        "errorCode": "query.soql.no-such-column",
        "data": {"column": name},
    })


def _column(name: str, fields: list[str]) -> str:
    if name not in fields and name not in SYSTEM_FIELDS:
        raise _no_such_column(name)
    return name


def _type(name: str) -> str:
    return _TYPES.get(name, "text")


@dataclass(frozen=True)
class _Selection:
    """One item of `$select`: a field, or a function of one (`*` for count), named by its alias."""

    name: str
    function: str | None
    argument: str

    @property
    def aggregate(self) -> bool:
        return self.function in _AGGREGATES

    @property
    def type(self) -> str:
        if self.function in ("count", "sum"):
            return "number"
        return "floating_timestamp" if self.function == "date_trunc_ymd" else _type(self.argument)

    def value(self, row: dict) -> str | None:
        """The item of one row (not an aggregate)."""
        value = row[self.argument]
        return f"{value[:10]}T00:00:00.000" if self.function == "date_trunc_ymd" and value is not None else value

    def over(self, rows: list[dict]) -> str | None:
        """The aggregate over `rows`: None (an empty cell) for a sum, max or min over no value."""
        if self.function == "count":
            return str(len(rows))
        values = [row[self.argument] for row in rows if row[self.argument] is not None]
        if not values:
            return None
        if self.function == "sum":
            return str(sum(Decimal(value) for value in values))
        key = Decimal if self.type == "number" else str
        return (max if self.function == "max" else min)(values, key=key)


def _selections(select: str | None, fields: list[str]) -> list[_Selection]:
    if select is None:
        return [_Selection(name, None, name) for name in fields]
    selections = []
    for item in select.split(","):
        match = _SELECTION.match(item)
        if match is None:
            raise _malformed(f"Could not parse $select item {item.strip()!r}")
        function = match["function"].lower() if match["function"] else None
        if match["field"] in ("*", ":*"):
            selections.extend(_Selection(name, None, name) for name in (fields if match["field"] == "*" else SYSTEM_FIELDS))
            continue
        if function is None:
            argument = _column(match["field"], fields)
        elif function not in _AGGREGATES | {"date_trunc_ymd"}:
            raise _malformed(f"Unknown function {function}")
        elif match["argument"] == "*":
            if function != "count":
                raise _malformed(f"{function}(*) is not a function")
            argument = "*"
        else:
            argument = _column(match["argument"], fields)
        default_name = argument if function is None else "count" if argument == "*" else f"{function}_{argument}"
        selections.append(_Selection(match["alias"] or default_name, function, argument))
    return selections


def _query(rows: list[dict], fields: list[str], params: dict[str, str], rule: SodaMisbehaviour) -> tuple[list[str], list[str], list[dict]]:
    """The names and types of the answer's columns, and the page of answer rows the query asks for."""
    known = ("$select", "$where", "$group", "$order", "$limit", "$offset")
    unknown = sorted(name for name in params if name.startswith("$") and name not in known)
    if unknown:
        raise _malformed(f"Unrecognized arguments [{', '.join(unknown)}]")
    selections = _selections(params.get("$select"), fields)
    try:
        limit, offset = int(params.get("$limit", "1000")), int(params.get("$offset", "0"))
    except ValueError:
        raise _malformed("$limit and $offset must be integers") from None
    if not 0 <= limit <= MAX_LIMIT or offset < 0:
        raise _malformed(f"$limit must be between 0 and {MAX_LIMIT}, $offset at least 0")
    grouped = "$group" in params or any(selection.aggregate for selection in selections)
    if not grouped and rule.stale_rows is not None:
        rows = rule.stale_rows
    where = params.get("$where")
    if rule.ignore_where and not grouped and where is not None:  # the range goes, paging by :id stays
        where = " AND ".join(_ID_AFTER_CLAUSE.findall(where)) or None
    if rule.repeat_page and not grouped and where is not None:
        where = _ID_AFTER.sub("", where)  # by :id, every page is the first
    matching = [row for row in rows if _matches(row, fields, where)]
    if params.get("$order", "").strip() == ":id":
        matching.sort(key=lambda row: row[":id"])
    if grouped:
        answer = _grouped(matching, selections, params.get("$group"))
    else:
        answer = [{selection.name: selection.value(row) for selection in selections} for row in matching]
    order = params.get("$order")
    if order is not None and order.strip() != ":id":
        name, *direction = order.split()
        if name in (selection.name for selection in selections):  # an alias, or a selected field
            keys = [row[name] for row in answer]
        elif not grouped:  # a field left out of $select still orders the rows
            keys = [row[_column(name, fields)] for row in matching]
        else:
            raise _malformed(f"$order {name} is not a column of the answer")
        ordered = sorted(range(len(answer)), key=lambda index: keys[index] or "", reverse=[word.lower() for word in direction] == ["desc"])
        answer = [answer[index] for index in ordered]
    if order is None and rule.repeat_without_order:
        offset = 0  # no order, no stable paging: here, every page is the first
    if rule.repeat_page and offset >= limit > 0:
        offset -= limit  # the page before, whatever the order
    page = answer[offset : offset + limit]
    if rule.lost_rows and not grouped:
        page = page[: max(len(page) - rule.lost_rows, 0)]
    return [selection.name for selection in selections], [selection.type for selection in selections], page


def _reads_rows(params: dict[str, str]) -> bool:
    """Whether a query asks for rows (a page), not aggregates."""
    return "$group" not in params and not any(f"{name}(" in params.get("$select", "").lower() for name in _AGGREGATES)


def _grouped(rows: list[dict], selections: list[_Selection], group: str | None) -> list[dict]:
    """One answer row per group (one over all `rows` without `$group`, even none), in first-seen order."""
    keys = [name.strip() for name in group.split(",")] if group else []
    by_name = {selection.name: selection for selection in selections}
    for selection in selections:
        if not selection.aggregate and selection.name not in keys and selection.argument not in keys:
            raise _malformed(f"{selection.name} must be grouped or aggregated")
    grouping = []
    for key in keys:
        if key in by_name and not by_name[key].aggregate:
            grouping.append(by_name[key])
        elif any(selection.argument == key and selection.function is None for selection in selections):
            grouping.append(next(selection for selection in selections if selection.argument == key))
        else:
            raise _malformed(f"$group {key} is not a selected field or alias")
    groups: dict[tuple, list[dict]] = {(): []} if not keys else {}
    for row in rows:
        groups.setdefault(tuple(selection.value(row) for selection in grouping), []).append(row)
    answer = []
    for members in groups.values():
        first = members[0] if members else None
        answer.append({
            selection.name: selection.over(members) if selection.aggregate else selection.value(first)
            for selection in selections
        })  # fmt: skip
    return answer


def _matches(row: dict, fields: list[str], where: str | None) -> bool:
    """Whether `row` meets every comparison of `where`; values compare as text cut to the literal's length
    (timestamps sort by time as text, and `'2023-05-27'` takes the whole day)."""
    if where is None:
        return True
    rest = where
    while True:
        if match := _BETWEEN.match(rest):
            value = (row[_column(match["field"], fields)] or "")[: len(match["low"])]
            if not match["low"] <= value <= match["high"]:
                return False
        elif match := _COMPARISON.match(rest):
            value = (row[_column(match["field"], fields)] or "")[: len(match["value"])]
            if not _OPERATORS[match["operator"]](value, match["value"]):
                return False
        else:
            raise _malformed(f"Could not parse $where: {where!r}; expected comparisons like F >= 'A' joined by AND")
        rest = rest[match.end() :]
        if not rest:
            return True
        if not (joined := _AND.match(rest)):
            raise _malformed(f"Could not parse $where: {where!r}; expected comparisons like F >= 'A' joined by AND")
        rest = rest[joined.end() :]


def _csv(fields: list[str], rows: list[dict]) -> bytes:
    def cell(value: str | None) -> str:
        return "" if value is None else '"' + value.replace('"', '""') + '"'

    lines = [",".join(cell(name) for name in fields)] + [",".join(cell(row[name]) for name in fields) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _stamp_text(epoch_seconds: int) -> str:
    """A fixed timestamp as Socrata writes :created_at and :updated_at."""
    return f"{datetime.fromtimestamp(epoch_seconds, timezone.utc):%Y-%m-%dT%H:%M:%S}.000Z"


def _json(status: int, body: dict) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body).encode()
