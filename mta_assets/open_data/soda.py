"""Reading NY Open Data through Socrata's SODA 2 API, for every source that reads it.

Rows come as CSV pages (`GET {base}/resource/{id}.csv`, `$order=:id` for stable paging, with `$limit` and
`$offset`, or by key: each page the rows after the last `:id` read, which no concurrent insert or delete
can shift, the next page read while the caller stores one), each page read whole onto disk (lib/http) and
handed on as a table of text; aggregate queries
and a dataset's metadata (`GET {base}/api/views/{id}.json`) are small answers read into memory. Every
request goes through the one retry layer (lib/retries) under one deadline, 429 and 5xx are retried (after
Retry-After, if sent), and Socrata's JSON error bodies (`code` or `errorCode`) are quoted in the errors.
The app token travels in the X-App-Token header only, so no URL shown carries it.
"""

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import requests
from pydantic import Field

from mta_assets.lib.http import BodyCut, Deadline, DeadlineExceeded, describe_error, read_whole_body, redact_url
from mta_assets.lib.retries import RetriesExhausted, Retryable, retry_after_seconds
from mta_assets.lib.week_source import SourceError, SourceUnavailable, WeekSource

T = TypeVar("T")

OPEN_DATA_URL = "https://data.ny.gov"
MAX_PAGE_ROWS = 50_000  # Socrata's most rows per request on these endpoints
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_ERROR_TEXT_CHARS = 300


class DatasetColumnsChanged(SourceError):
    """A dataset no longer has a field the week needs: its columns changed."""


class UnstablePaging(SourceUnavailable):
    """A page repeated an earlier page's rows: the server's paging lost its order, and rows were skipped."""


def soql_query(query: dict[str, str]) -> str:
    """A SODA query string: spaces as %20, SoQL's `$`, `:`, `(`, `)` and `*` left as they are."""
    return urlencode(query, quote_via=quote, safe="$:()*")


def time_range(field_name: str, start: datetime, end: datetime) -> str:
    """A `$where` keeping the rows whose floating timestamp `field_name` is in [start, end)."""
    return f"{field_name} >= '{start:%Y-%m-%dT%H:%M:%S}' AND {field_name} < '{end:%Y-%m-%dT%H:%M:%S}'"


def whole_number(text: str) -> int | None:
    """A count or sum as Socrata writes it (`31`, or `31.0` from a decimal column); None for an empty cell.

    Raises ValueError for anything else: a fraction, a sign, text.
    """
    digits, _, fraction = text.partition(".")
    if text == "":
        return None
    if not (digits.isascii() and digits.isdigit()) or fraction.strip("0"):
        raise ValueError(f"{text!r} is not a whole number")
    return int(digits)


class SodaSource(WeekSource):
    """A source of weeks read from NY Open Data: where it is, the token to send, and the rows per page."""

    base_url: str = Field(default=OPEN_DATA_URL, description="NY Open Data's address (MTA_OPEN_DATA_URL).")
    app_token: str = Field(
        default="", description="Socrata app token sent as X-App-Token (MTA_SOCRATA_APP_TOKEN); empty reads without one."
    )
    page_rows: int = Field(default=MAX_PAGE_ROWS, ge=1, le=MAX_PAGE_ROWS, description="Rows per request ($limit).")

    def resource_url(self, dataset_id: str, query: dict[str, str]) -> str:
        """The SODA request for `dataset_id`'s rows (or aggregates) that `query` asks for, as CSV."""
        return f"{self.base_url.rstrip('/')}/resource/{dataset_id}.csv?{soql_query(query)}"

    def view_url(self, dataset_id: str) -> str:
        """Where the dataset's metadata is: its name, columns and when its rows last changed."""
        return f"{self.base_url.rstrip('/')}/api/views/{dataset_id}.json"


@dataclass(frozen=True)
class SodaAdvice:
    """What a source's errors say beyond the failure itself, since that differs between the sources."""

    missing: type[SourceError]  # raised when a dataset is not there (404, 410)
    module: str  # where the source maps dataset ids and fields, for the messages on changed datasets
    elsewhere: str | None = None  # another way to get the data, offered in most messages

    def options(self, *steps: str) -> str:
        """`A, b, or c.`: the steps and, last, the other way to get the data, as a sentence."""
        steps = (*steps, self.elsewhere) if self.elsewhere else steps
        text = steps[0] if len(steps) == 1 else f"{', '.join(steps[:-1])}, or {steps[-1]}"
        return f"{text[0].upper()}{text[1:]}."


@dataclass
class SodaReading:
    """One task's requests to NY Open Data (a week's, say): one deadline, every URL read, one page file.

    `subject` starts every message ("Week 2023-06-03"). Use it as a context manager: the page file, if
    any, is gone when the `with` ends.
    """

    source: SodaSource
    subject: str
    advice: SodaAdvice
    page_file: Path | None = None  # where pages of rows are read to; answers to aggregates stay in memory
    urls: list[str] = field(default_factory=list)  # every request, in order, as `shown` writes it
    deadline: Deadline = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = Deadline.after(self.source.deadline_seconds)

    def __enter__(self) -> "SodaReading":
        return self

    def __exit__(self, *exc_info) -> None:
        if self.page_file is not None:
            self.page_file.unlink(missing_ok=True)

    def pages(self, dataset_id: str, page_url: Callable[[int], str], fields: dict[str, tuple[str, ...]]) -> Iterator[pa.Table]:
        """Each page of rows as a table of text, from offset 0 on, until a page shorter than `page_rows`.

        `page_url(offset)` is the request for the page; `fields` the fields every page must have, by any
        of their spellings. A page repeating an earlier one whole is UnstablePaging. A page cut at a row
        boundary reads like a last page: the caller checks the total against the dataset's own.
        """
        assert self.page_file is not None, "reading pages needs a page file"
        seen: dict[bytes, int] = {}  # each page's digest, by its offset
        offset = 0
        while True:
            url = page_url(offset)
            page = self._get(url, dataset_id, f"rows from {offset:,}", lambda: self._page_once(url, dataset_id, fields))
            with open(self.page_file, "rb") as body:  # the page read whole, still on disk
                digest = hashlib.file_digest(body, "blake2b").digest()
            if page.num_rows and digest in seen:
                raise UnstablePaging(
                    f"{self.subject}: NY Open Data dataset {dataset_id} sent the rows from {seen[digest]:,} again as "
                    f"the rows from {offset:,} ({shown(url)}): its paging lost its order, so rows were skipped, and "
                    f"nothing was stored. {self.advice.options('Retry later')}"
                )
            seen[digest] = offset
            yield page
            offset += page.num_rows
            if page.num_rows < self.source.page_rows:
                return

    def keyset_pages(
        self,
        dataset_id: str,
        page_url: Callable[[str | None], str],
        fields: dict[str, tuple[str, ...]],
        optional: tuple[str, ...] = (),
    ) -> Iterator[pa.Table]:
        """Each page of rows in `:id` order, each the rows after the last `:id` read, until a page shorter than `page_rows`.

        `page_url(after)` is the request for the rows after the id `after` (None: from the first). Rows are
        found by their id, not their place, so a row inserted or deleted during the read shifts no page.
        Every page must carry `:id`, increasing and after the last one read; a server that pages otherwise
        (another `:id` form, say) is UnstablePaging, and nothing is stored. A page holds `:id`, `fields` and
        those of the `optional` fields it has, as text, an empty cell as null (Socrata writes a null so).
        """
        assert self.page_file is not None, "reading pages needs a page file"
        fields = {**fields, ":id": (":id",)}
        columns = {spelling for spellings in fields.values() for spelling in spellings} | set(optional)

        def fetch(after: str | None) -> tuple[str, pa.Table]:
            url = page_url(after)
            what = f"rows after {after or 'none'}"
            return url, self._get(url, dataset_id, what, lambda: self._page_once(url, dataset_id, fields, columns))

        # The next page is read (into the page file, free once a page is parsed) while the caller stores this
        # one: the server's time and the caller's overlap. One page ahead, no more. A caller that stops waits
        # for the page on its way (within the reading's deadline), so no request outlives the reading.
        with ThreadPoolExecutor(1, thread_name_prefix="soda-next-page") as ahead:
            coming, after = ahead.submit(fetch, None), None
            while True:
                url, page = coming.result()
                if page.num_rows:
                    ids = page[":id"]
                    first, last = ids[0].as_py(), ids[-1].as_py()
                    increasing = pc.all(pc.less(ids[:-1], ids[1:])).as_py() is not False
                    if ids.null_count or (after is not None and first <= after) or not increasing or "'" in last:
                        raise UnstablePaging(
                            f"{self.subject}: NY Open Data dataset {dataset_id} answered the rows after :id {after or 'none'} "
                            f"({shown(url)}) with :ids from {first!r} to {last!r}, not increasing after it: its "
                            f"paging by :id does not hold, so rows could be skipped or repeated, and nothing was stored. "
                            f"{self.advice.options('Retry later')}"
                        )
                    after = last
                full = page.num_rows >= self.source.page_rows
                if full:
                    coming = ahead.submit(fetch, after)
                yield page
                if not full:
                    return

    def answer(self, url: str, dataset_id: str, what: str, columns: tuple[str, ...]) -> pa.Table:
        """The CSV answer to an aggregate query as a table of text (an empty cell as ""), with `columns`."""
        fields = {name: (name,) for name in columns}

        def attempt() -> pa.Table:
            return self._text_table(self._fetch_to_memory(url, dataset_id, "text/csv"), dataset_id, fields)

        return self._get(url, dataset_id, what, attempt)

    def one_row(self, url: str, dataset_id: str, what: str, columns: tuple[str, ...]) -> dict[str, str]:
        """The one row of an aggregate query's answer (`count(*)`, `max(f)` over a range), by column."""
        table = self.answer(url, dataset_id, what, columns)
        if table.num_rows == 0:  # an aggregate over no rows may come as no row at all (unconfirmed): nulls
            return dict.fromkeys(columns)
        if table.num_rows != 1:
            raise SourceError(
                f"{self.subject}: NY Open Data dataset {dataset_id} answered {table.num_rows:,} rows to {shown(url)}, "
                f"which has one. Check MTA_OPEN_DATA_URL: it may not be a SODA server."
            )
        return {name: table[name][0].as_py() for name in columns}

    def check_totals(self, dataset_id: str, url: str, read: dict[str, int]) -> None:
        """The dataset's own totals (the answer to `url`, one row with `read`'s keys) equal what the pages gave.

        A sum over no rows is an empty cell: 0 here.
        """
        answer = self.one_row(url, dataset_id, "its totals for the week", tuple(read))
        try:
            counted = {name: whole_number(value) or 0 for name, value in answer.items()}
        except ValueError as error:
            raise SourceError(f"{self.subject}: NY Open Data dataset {dataset_id} answered {shown(url)} with {error}.") from None
        self.compare_totals(dataset_id, url, read, counted)

    def compare_totals(self, dataset_id: str, url: str, read: dict[str, int], counted: dict[str, int]) -> None:
        """What the pages gave (`read`) equals the dataset's own totals (`counted`, its answer to `url`)."""
        if counted != read:
            raise SourceUnavailable(
                f"{self.subject}: NY Open Data dataset {dataset_id} gave {_amounts(read)} for the week in its pages but "
                f"counts {_amounts(counted)} ({shown(url)}): rows were lost or the dataset changed while it was read, "
                f"and nothing was stored. {self.advice.options('Retry later')}"
            )

    def view(self, dataset_id: str) -> dict:
        """The dataset's metadata (`/api/views/{id}.json`): name, columns, rowsUpdatedAt and more."""
        url = self.source.view_url(dataset_id)

        def attempt() -> dict:
            body = self._fetch_to_memory(url, dataset_id, "application/json").getvalue()
            try:
                view = json.loads(body)
            except ValueError:
                raise Retryable(f"the answer of {len(body):,} bytes does not read as JSON") from None
            if not isinstance(view, dict):
                raise Retryable(f"the answer is a JSON {type(view).__name__}, not an object")
            return view

        return self._get(url, dataset_id, "its metadata", attempt)

    def _get(self, url: str, dataset_id: str, what: str, attempt: Callable[[], T]) -> T:
        """`attempt()` (one request to `url`, for `what`) under the retries and this reading's deadline."""
        url_shown = shown(url)
        self.urls.append(url_shown)
        asking = f"{self.subject}: NY Open Data dataset {dataset_id}, {what}"
        try:
            return self.source.with_retries(attempt, self.deadline, asking)
        except DeadlineExceeded as late:
            raise self._too_late(url_shown, str(late)) from None
        except RetriesExhausted as exhausted:
            if exhausted.out_of_time:
                raise self._too_late(url_shown, f"last error: {exhausted.last_error}") from None
            raise SourceUnavailable(
                f"{asking}: {url_shown} failed {exhausted}. NY Open Data may be down or throttling. "
                + self.advice.options("retry later", "set MTA_SOCRATA_APP_TOKEN if it answers 429")
            ) from None

    def _too_late(self, url: str, detail: str) -> SourceUnavailable:
        return SourceUnavailable(
            f"{self.subject}: NY Open Data did not answer whole within the download deadline of "
            f"{self.source.deadline_seconds:g}s, at {url} ({detail}). Retry later, or raise MTA_DOWNLOAD_DEADLINE_SECONDS."
        )

    def _page_once(
        self, url: str, dataset_id: str, fields: dict[str, tuple[str, ...]], columns: set[str] | None = None
    ) -> pa.Table:
        """One attempt at one page, its body whole on disk (the page file): the page (see `_text_table`)."""
        with open(self.page_file, "w+b") as page:
            self._fetch(url, dataset_id, "text/csv", page)
            return self._text_table(page, dataset_id, fields, columns)

    def _fetch_to_memory(self, url: str, dataset_id: str, accept: str) -> io.BytesIO:
        body = io.BytesIO()
        self._fetch(url, dataset_id, accept, body)
        return body

    def _fetch(self, url: str, dataset_id: str, accept: str, sink: BinaryIO) -> None:
        """One request: the body whole into `sink`, or Retryable (a cut, a connection error, 429, 5xx)."""
        source = self.source
        timeout = (source.connect_timeout_seconds, source.read_timeout_seconds)
        headers = {"Accept": accept, **({"X-App-Token": source.app_token} if source.app_token else {})}
        try:
            with requests.get(url, headers=headers, stream=True, timeout=self.deadline.timeout(*timeout)) as response:
                if response.status_code != 200:
                    raise self._refusal(response, url, dataset_id)
                # No length probe: it would run the query again; the caller checks the answer's own end.
                read_whole_body(response, sink, self.deadline, timeout, probe=False)
        except BodyCut as cut:
            raise Retryable(str(cut)) from None
        except (requests.ConnectionError, requests.Timeout) as error:  # the texts quote the URL: scrubbed
            raise Retryable(describe_error(error, url)) from None

    def _text_table(
        self, body: BinaryIO, dataset_id: str, fields: dict[str, tuple[str, ...]], columns: set[str] | None = None
    ) -> pa.Table:
        """A CSV body as a table of text, once it ends whole and has every one of `fields` (by any spelling).

        With `columns`, only those of them the body has are read, and an empty cell is null; otherwise every
        column, an empty cell as "".
        """
        size = body.seek(0, io.SEEK_END)
        body.seek(max(size - 1, 0))
        if body.read(1) != b"\n":
            # Socrata ends every row (the header too) with LF: a body that does not was cut, whatever its length said.
            raise Retryable(f"the page ends mid-row after {size:,} bytes")
        body.seek(0)
        header = next(csv.reader([body.readline().decode("utf-8", errors="replace")]))
        missing = [spellings[0] for spellings in fields.values() if not set(spellings) & set(header)]
        if missing:
            raise DatasetColumnsChanged(
                f"{self.subject}: NY Open Data dataset {dataset_id} has no field {', '.join(missing)} (its fields: "
                f"{', '.join(header)}): its columns changed. " + self.advice.options(f"map the new fields in {self.advice.module}")
            )
        body.seek(0)
        try:
            return pv.read_csv(
                body,
                convert_options=pv.ConvertOptions(
                    column_types={name: pa.string() for name in header},
                    include_columns=None if columns is None else [name for name in header if name in columns],
                    strings_can_be_null=columns is not None,
                    null_values=[""],  # not "NA", "null" and the rest of pyarrow's defaults: names are text
                ),
                read_options=pv.ReadOptions(use_threads=False),
                # In a one-column answer an empty line is a null (a max over no rows); no other is expected (unconfirmed).
                parse_options=pv.ParseOptions(ignore_empty_lines=False),
            )
        except pa.ArrowInvalid as error:  # a row with fewer cells, an open quote: the page is not whole
            raise Retryable(f"the page does not read as CSV ({error})") from None

    def _refusal(self, response: requests.Response, url: str, dataset_id: str) -> Exception:
        """The exception for an answer other than 200: Retryable for throttling and server errors."""
        status = response.status_code
        said = f"HTTP {status}{_socrata_error(response)}"
        if status in _RETRIED_STATUSES:
            return Retryable(said, retry_after_seconds(response.headers.get("Retry-After")))
        where = f"{self.subject}: NY Open Data dataset {dataset_id} ({shown(url)}) answered {said}."
        if status in (404, 410):
            return self.advice.missing(
                f"{where} The dataset is not there (moved or withdrawn). "
                + self.advice.options(f"check MTA_OPEN_DATA_URL and the dataset id in {self.advice.module}")
            )
        if status == 400:
            return SourceError(
                f"{where} The query was refused; the dataset's columns may have changed: compare its fields "
                f"({self.source.base_url.rstrip('/')}/resource/{dataset_id}.json?$limit=1) with those in "
                f"{self.advice.module}."
            )
        if status in (401, 403):
            return SourceError(f"{where} Check MTA_SOCRATA_APP_TOKEN, or unset it to read without a token.")
        return SourceError(f"{where} Check MTA_OPEN_DATA_URL.")


def _amounts(totals: dict[str, int]) -> str:
    """`1,512 rows and 45,678 ridership`: each total before its name (`count(*)` unnamed is `count`: rows)."""
    return " and ".join(f"{value:,} {'rows' if name == 'count' else name}" for name, value in totals.items())


def _socrata_error(response: requests.Response) -> str:
    """`: code: message` from Socrata's JSON error body (its `code` or `errorCode`), else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:_ERROR_TEXT_CHARS]
        return f": {text}" if text else ""
    if not isinstance(body, dict):
        return f": {str(body)[:_ERROR_TEXT_CHARS]}"
    code = body.get("code") or body.get("errorCode")
    message = str(body.get("message") or "")[:_ERROR_TEXT_CHARS]
    return "".join(f": {part}" for part in (code, message) if part)


def shown(url: str) -> str:
    """`url` for logs and metadata: no user or password; the query (ours, no secret in it) kept whole."""
    base, _, query = url.partition("?")
    return f"{redact_url(base)}?{query}" if query else redact_url(base)
