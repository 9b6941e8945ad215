"""A SODA 2 server on 127.0.0.1 that answers as NY Open Data does (see shared/ny-open-data.md), and
misbehaves on request.

Datasets are held by id as rows of text (field name -> value, None for null). `GET /resource/{id}.csv`
takes `$where` on one field as a range (`F between 'A' and 'B'`, or `F >= 'A' AND F < 'B'`), `$order`
(`:id` or a field), `$limit` (at most 50,000), `$offset` and `$select`. Answers are CSV as Socrata writes
it: a header of field names, every non-null cell double-quoted, LF, with X-SODA2-Fields and
X-SODA2-Types; errors are JSON bodies in both of Socrata's shapes (`code` and `errorCode`).
"""

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback.serving import serve_on_loopback, stop_serving
from urllib.parse import parse_qsl, urlsplit

MAX_LIMIT = 50_000
TURNSTILE_FIELDS = ("c_a", "unit", "scp", "station", "line_name", "division", "date", "time", "description", "entries", "exits")
# 2014's dataset spells two fields differently.
TURNSTILE_FIELDS_2014 = ("c_a", "unit", "scp", "station", "linename", "division", "date", "time", "desc", "entries", "exits")
_TYPES = {"date": "floating_timestamp", "entries": "number", "exits": "number"}
_RESOURCE = re.compile(r"^/resource/(?P<id>[a-z0-9]{4}-[a-z0-9]{4})\.csv$")
_LITERAL = r"'(?P<{}>[^']*)'"
_BETWEEN = re.compile(rf"^\s*(?P<field>\w+)\s+between\s+{_LITERAL.format('low')}\s+and\s+{_LITERAL.format('high')}\s*$", re.I)
_HALF_OPEN = re.compile(
    rf"^\s*(?P<field>\w+)\s*>=\s*{_LITERAL.format('low')}\s+and\s+(?P<field2>\w+)\s*<\s*{_LITERAL.format('high')}\s*$", re.I
)


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


@dataclass
class SodaMisbehaviour:
    """How the server answers one dataset, beyond the rules of the API."""

    throttled: int = 0  # answer this many requests with 429 (and Retry-After), then as usual
    retry_after: str = "0"
    cut_pages: int = 0  # serve this many pages cut in the middle of their last row (with a matching length)
    repeat_without_order: bool = False  # without $order, every $offset gets the first page: unstable paging
    answer: tuple[int, dict] | None = None  # answer this status and JSON body every time
    lost_rows: int = 0  # leave this many rows out of the pages (cut at a row boundary); count(*) still has them


@dataclass(frozen=True)
class SodaRequest:
    path: str
    params: dict[str, str]
    app_token: str | None
    ranged: bool  # a length probe (Range header), not a read of rows
    at: float  # time.monotonic() on arrival


@dataclass
class SodaServer:
    """Datasets by id, served at http://127.0.0.1:PORT/resource/{id}.csv; records every request."""

    datasets: dict[str, list[dict]] = field(default_factory=dict)
    misbehaviours: dict[str, SodaMisbehaviour] = field(default_factory=dict)
    requests: list[SodaRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def requests_per_path(self) -> Counter:
        """Reads of rows per path (length probes left out)."""
        return Counter(request.path for request in self.requests if not request.ranged)

    def app_tokens_seen(self) -> set[str | None]:
        return {request.app_token for request in self.requests}

    def answer(self, dataset_id: str, params: dict[str, str], ranged: bool) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for a read of `dataset_id` with the query `params`."""
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
        rows = self.datasets[dataset_id]
        fields = list(rows[0]) if rows else list(TURNSTILE_FIELDS)
        try:
            if params.get("$select", "").replace(" ", "") == "count(*)":
                count = sum(1 for row in rows if _matches(row, fields, params.get("$where")))
                selected, page = ["count"], [{"count": str(count)}]
            else:
                selected, page = _query(rows, fields, params, unordered_repeat=rule.repeat_without_order)
                page = page[: max(len(page) - rule.lost_rows, 0)] if rule.lost_rows else page
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
            "X-SODA2-Types": json.dumps([_TYPES.get(name, "text") for name in selected], separators=(",", ":")),
        }
        return 200, headers, body

    def start(self) -> "SodaServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                ranged = bool(self.headers.get("Range"))  # ignored, as the range of a query's rows has no meaning
                with server._lock:
                    token = self.headers.get("X-App-Token")
                    server.requests.append(SodaRequest(parts.path, params, token, ranged, time.monotonic()))
                match = _RESOURCE.match(parts.path)
                if match is None:
                    status, headers, body = _json(404, {"code": "not.found", "error": True, "message": f"No route {parts.path}"})
                else:
                    status, headers, body = server.answer(match["id"], params, ranged)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

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
    if name not in fields:
        raise _no_such_column(name)
    return name


def _query(rows: list[dict], fields: list[str], params: dict[str, str], unordered_repeat: bool) -> tuple[list[str], list[dict]]:
    """The selected fields and the page of rows the query asks for."""
    known = ("$select", "$where", "$order", "$limit", "$offset")
    unknown = sorted(name for name in params if name.startswith("$") and name not in known)
    if unknown:
        raise _malformed(f"Unrecognized arguments [{', '.join(unknown)}]")
    selected = [_column(name.strip(), fields) for name in params["$select"].split(",")] if "$select" in params else fields
    try:
        limit, offset = int(params.get("$limit", "1000")), int(params.get("$offset", "0"))
    except ValueError:
        raise _malformed("$limit and $offset must be integers") from None
    if not 0 <= limit <= MAX_LIMIT or offset < 0:
        raise _malformed(f"$limit must be between 0 and {MAX_LIMIT}, $offset at least 0")
    matching = [index for index, row in enumerate(rows) if _matches(row, fields, params.get("$where"))]
    order = params.get("$order")
    if order is not None and order.strip() != ":id":
        name = _column(order.split()[0], fields)
        matching.sort(key=lambda index: rows[index][name] or "")
    if order is None and unordered_repeat:
        offset = 0  # no order, no stable paging: here, every page is the first
    return selected, [{name: rows[index][name] for name in selected} for index in matching[offset : offset + limit]]


def _matches(row: dict, fields: list[str], where: str | None) -> bool:
    """Whether `row` is in the range `where` gives; timestamps compare as text (their format sorts by time)."""
    if where is None:
        return True
    match = _BETWEEN.match(where) or _HALF_OPEN.match(where)
    if match is None:
        raise _malformed(f"Could not parse $where: {where!r}; expected F between 'A' and 'B' or F >= 'A' AND F < 'B'")
    name = _column(match["field"], fields)
    if "field2" in match.groupdict() and match["field2"] != name:
        raise _malformed("Both bounds of a range must name the same field")
    value = (row[name] or "")[: len(match["low"])]
    high_included = match.re is _BETWEEN
    return match["low"] <= value and (value <= match["high"] if high_included else value < match["high"])


def _csv(fields: list[str], rows: list[dict]) -> bytes:
    def cell(value: str | None) -> str:
        return "" if value is None else '"' + value.replace('"', '""') + '"'

    lines = [",".join(cell(name) for name in fields)] + [",".join(cell(row[name]) for name in fields) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _json(status: int, body: dict) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body).encode()
