"""NY Open Data's yearly "Turnstile Usage Data" datasets (2014-2022) as a source of turnstile weeks.

They hold the readings of the MTA's weekly files. A week is read through Socrata's SODA 2 API as CSV
pages (`GET {base}/resource/{id}.csv`, `$where` on the week's dates, `$order=:id` for stable paging,
`$limit`/`$offset`), each page whole (lib/http) under the one retry layer (lib/retries), typed page by page
into the same parquet table as a parsed MTA file: a week is never held in memory whole.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import requests
from pydantic import Field

from mta_assets.duplicates import remove_exact_duplicates
from mta_assets.lib.http import BodyCut, Deadline, DeadlineExceeded, describe_error, read_whole_body, redact_url
from mta_assets.lib.retries import RetriesExhausted, Retryable, retry_after_seconds
from mta_assets.lib.tables import TURNSTILE
from mta_assets.parsing import COUNTER_PATTERN, ParsedWeek, has_turnstile_keys, week_bounds, write_week
from mta_assets.partitions import file_stem
from mta_assets.source import SourceError, SourceUnavailable, WeekNotPublished, WeekSource
from mta_assets.station_key import with_station_names

OPEN_DATA_URL = "https://data.ny.gov"
# Turnstile Usage Data, one dataset per year. No dataset is known for 2023 on.
TURNSTILE_DATASETS = {
    2014: "i55r-43gk",
    2015: "ug6q-shqc",
    2016: "ekwu-khcy",
    2017: "v5y5-mwpb",
    2018: "bjcb-yee3",
    2019: "xfn5-qji9",
    2020: "py8k-a8wg",
    2021: "uu7b-3kff",
    2022: "k7j9-jnct",
}
MAX_PAGE_ROWS = 50_000  # Socrata's most rows per request on these endpoints
# The fields read, by turnstile column: their spellings in the header (2014 has `linename` and `desc`).
# The header a dataset actually returns decides, not its year.
_FIELDS = {
    "control_area": ("c_a",),
    "unit": ("unit",),
    "scp": ("scp",),
    "station": ("station",),
    "line_name": ("line_name", "linename"),
    "division": ("division",),
    "date": ("date",),
    "time": ("time",),
    "description": ("description", "desc"),
    "entries": ("entries",),
    "exits": ("exits",),
}
_TEXT_COLUMNS = ("control_area", "unit", "scp", "station", "line_name", "division", "description")
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_ERROR_TEXT_CHARS = 300
# The answer to `$select=count(*)`.
_COUNT = {"count": ("count",)}


class WeekNotInOpenData(WeekNotPublished):
    """NY Open Data has no dataset, or no readings, for the week: read it from another source."""


class DatasetColumnsChanged(SourceError):
    """A dataset no longer has a field the week needs: its columns changed."""


@dataclass(frozen=True)
class OpenDataWeek:
    """A week read from NY Open Data, with what its materialization reports."""

    parsed: ParsedWeek
    dataset_ids: tuple[str, ...]
    urls: tuple[str, ...]  # every page read, in order; no secret (the app token travels in a header)


class OpenDataTurnstileSource(WeekSource):
    """Reads a week's turnstile readings from NY Open Data's yearly Turnstile Usage Data datasets.

    Retries, Retry-After and the deadline (one for the whole week, every page included) work as in
    MtaTurnstileSource. The app token, if set, is sent as X-App-Token and never logged.
    """

    base_url: str = Field(default=OPEN_DATA_URL, description="NY Open Data's address (MTA_OPEN_DATA_URL).")
    app_token: str = Field(
        default="", description="Socrata app token sent as X-App-Token (MTA_SOCRATA_APP_TOKEN); empty reads without one."
    )
    page_rows: int = Field(default=MAX_PAGE_ROWS, ge=1, le=MAX_PAGE_ROWS, description="Rows per request ($limit).")

    def dataset_ids(self, week: date) -> tuple[str, ...]:
        """The datasets of the years the week's days fall in (two across New Year); asks nothing of the server."""
        start, _ = week_bounds(week)
        years = sorted({(start + timedelta(days=day)).year for day in range(7)})
        missing = [year for year in years if year not in TURNSTILE_DATASETS]
        if missing:
            raise WeekNotInOpenData(
                f"Week {week}: NY Open Data has no Turnstile Usage Data for {' and '.join(map(str, missing))} (its "
                f"datasets cover {min(TURNSTILE_DATASETS)} to {max(TURNSTILE_DATASETS)}); read the week from the "
                f"MTA's files (MTA_SOURCE_URL) instead."
            )
        return tuple(TURNSTILE_DATASETS[year] for year in years)

    def read_week(self, week: date, directory: Path) -> OpenDataWeek:
        """The week's readings as a parsed week in `directory`: typed, station names filled, exact repeats removed."""
        dataset_ids = self.dataset_ids(week)
        reading = _WeekReading(self, week, directory, Deadline.after(self.deadline_seconds))
        destination = directory / f"{file_stem(week)}.parquet"
        try:
            summary = write_week(reading.batches(dataset_ids), week, destination)
            parsed = ParsedWeek(
                week=week,
                path=destination,
                rows=summary.rows,
                rejected_lines=tuple(reading.rejected_rows),
                blank_lines=0,
                first_reading=summary.first,
                last_reading=summary.last,
                preview=tuple(summary.preview),
                readings_without_station=reading.unknown_stations,
            )
            self._check(parsed, dataset_ids)
        except BaseException:
            destination.unlink(missing_ok=True)
            raise
        described = f"Week {week} in NY Open Data ({', '.join(dataset_ids)})"
        return OpenDataWeek(
            parsed=remove_exact_duplicates(parsed, described, self.max_duplicate_share),
            dataset_ids=dataset_ids,
            urls=tuple(reading.urls),
        )

    def _check(self, parsed: ParsedWeek, dataset_ids: tuple[str, ...]) -> None:
        """The rules a parsed MTA file meets: some readings, few rejected ones."""
        datasets = ", ".join(dataset_ids)
        if parsed.rows == 0 and not parsed.rejected_lines:
            start, end = week_bounds(parsed.week)
            raise WeekNotInOpenData(
                f"Week {parsed.week}: NY Open Data ({datasets}) has no readings from {start:%Y-%m-%d} to "
                f"{end - timedelta(days=1):%Y-%m-%d}; read the week from the MTA's files (MTA_SOURCE_URL) instead."
            )
        total = parsed.rows + len(parsed.rejected_lines)
        if len(parsed.rejected_lines) > self.max_rejected_share * total:
            raise SourceError(
                f"Week {parsed.week}: {len(parsed.rejected_lines):,} of {total:,} rows of NY Open Data ({datasets}) "
                f"could not be read, more than MTA_MAX_REJECTED_SHARE ({self.max_rejected_share:.1%}), and nothing "
                f"was stored. First bad row: {parsed.rejected_lines[0][:120]!r}. Read the week from the MTA's files, "
                f"or raise the share if the rows are right."
            )

    def page_url(self, dataset_id: str, week: date, offset: int) -> str:
        """The SODA request for the week's rows of `dataset_id` from `offset` on, in the dataset's own order."""
        return self._url(dataset_id, week, {
            "$order": ":id",  # without an order, pages may repeat or skip rows
            "$limit": str(self.page_rows),
            "$offset": str(offset),
        })

    def count_url(self, dataset_id: str, week: date) -> str:
        """The SODA request for how many rows of `dataset_id` the week has."""
        return self._url(dataset_id, week, {"$select": "count(*)"})

    def _url(self, dataset_id: str, week: date, query: dict[str, str]) -> str:
        start, end = week_bounds(week)
        # `date` is a floating timestamp at midnight; `time` is text, so the day alone bounds the week.
        where = {"$where": f"date >= '{start:%Y-%m-%dT%H:%M:%S}' AND date < '{end:%Y-%m-%dT%H:%M:%S}'"}
        return f"{self.base_url.rstrip('/')}/resource/{dataset_id}.csv?{urlencode({**where, **query}, quote_via=quote, safe='$:()*')}"


class _WeekReading:
    """One week's pages read in turn, with the URLs read, the rows rejected and the stations not known."""

    def __init__(self, source: OpenDataTurnstileSource, week: date, directory: Path, deadline: Deadline) -> None:
        self.source = source
        self.week = week
        self.page_file = directory / f".{file_stem(week)}.page.csv"
        self.deadline = deadline
        self.urls: list[str] = []
        self.rejected_rows: list[str] = []
        self.unknown_stations = 0

    def batches(self, dataset_ids: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
        """Typed batches of every page of every dataset; a short page ends a dataset, whose count then checks it.

        A page cut at a row boundary reads like a last page: only the dataset's own count of the week's rows
        tells the two apart.
        """
        try:
            for dataset_id in dataset_ids:
                offset = 0
                while True:
                    page = self._page(self.source.page_url(dataset_id, self.week, offset), dataset_id, f"rows from {offset:,}", _FIELDS)
                    yield from self._typed(page)
                    offset += page.num_rows
                    if page.num_rows < self.source.page_rows:
                        break
                count_url = self.source.count_url(dataset_id, self.week)
                expected = int(self._page(count_url, dataset_id, "its count of the week's rows", _COUNT)["count"][0].as_py())
                if offset != expected:
                    raise SourceUnavailable(
                        f"Week {self.week}: NY Open Data dataset {dataset_id} gave {offset:,} rows for the week in its "
                        f"pages but counts {expected:,} ({_shown(count_url)}): rows were lost or the dataset changed "
                        f"while it was read, and nothing was stored. Retry later, or read the week from the MTA's files."
                    )
        finally:
            self.page_file.unlink(missing_ok=True)

    def _page(self, url: str, dataset_id: str, what_rows: str, fields: dict[str, tuple[str, ...]]) -> pa.Table:
        shown = _shown(url)
        self.urls.append(shown)
        what = f"Week {self.week}: NY Open Data dataset {dataset_id}, {what_rows}"
        try:
            return self.source.with_retries(lambda: self._page_once(url, dataset_id, fields), self.deadline, what)
        except DeadlineExceeded as late:
            raise self._too_late(shown, str(late)) from None
        except RetriesExhausted as exhausted:
            if exhausted.out_of_time:
                raise self._too_late(shown, f"last error: {exhausted.last_error}") from None
            raise SourceUnavailable(
                f"{what}: {shown} failed {exhausted}. NY Open Data may be down or throttling: retry later, set "
                f"MTA_SOCRATA_APP_TOKEN if it answers 429, or read the week from the MTA's files."
            ) from None

    def _too_late(self, url: str, detail: str) -> SourceUnavailable:
        return SourceUnavailable(
            f"Week {self.week}: NY Open Data did not send the week whole within the download deadline of "
            f"{self.source.deadline_seconds:g}s, at {url} ({detail}). Retry later, or raise MTA_DOWNLOAD_DEADLINE_SECONDS."
        )

    def _page_once(self, url: str, dataset_id: str, fields: dict[str, tuple[str, ...]]) -> pa.Table:
        """One attempt at one page: the body whole on disk, then read as CSV (every value as text)."""
        source = self.source
        timeout = (source.connect_timeout_seconds, source.read_timeout_seconds)
        headers = {"Accept": "text/csv", **({"X-App-Token": source.app_token} if source.app_token else {})}
        try:
            with requests.get(url, headers=headers, stream=True, timeout=self.deadline.timeout(*timeout)) as response:
                if response.status_code != 200:
                    raise self._refusal(response, url, dataset_id)
                with open(self.page_file, "wb") as sink:
                    # No length probe: it would run the query again; the page's own end is checked below.
                    size = read_whole_body(response, sink, self.deadline, timeout, probe=False)
        except BodyCut as cut:
            raise Retryable(str(cut)) from None
        except (requests.ConnectionError, requests.Timeout) as error:  # the texts quote the URL: scrubbed
            raise Retryable(describe_error(error, url)) from None
        return self._read_page(size, dataset_id, fields)

    def _read_page(self, size: int, dataset_id: str, fields: dict[str, tuple[str, ...]]) -> pa.Table:
        """The page as a table of text, once it ends whole and has every one of `fields` (by any spelling)."""
        with open(self.page_file, "rb") as page:
            header_line = page.readline()
            page.seek(max(size - 1, 0))
            last_byte = page.read(1)
        if last_byte != b"\n":
            # Socrata ends every row (the header too) with LF: a body that does not was cut, whatever its length said.
            raise Retryable(f"the page ends mid-row after {size:,} bytes")
        header = next(csv.reader([header_line.decode("utf-8", errors="replace")]))
        missing = [spellings[0] for spellings in fields.values() if not set(spellings) & set(header)]
        if missing:
            raise DatasetColumnsChanged(
                f"Week {self.week}: NY Open Data dataset {dataset_id} has no field {', '.join(missing)} (its fields: "
                f"{', '.join(header)}): its columns changed. Map the new fields in mta_assets/open_data.py, or read "
                f"the week from the MTA's files."
            )
        try:
            return pv.read_csv(
                self.page_file,
                convert_options=pv.ConvertOptions(column_types={name: pa.string() for name in header}),
                read_options=pv.ReadOptions(use_threads=False),
            )
        except pa.ArrowInvalid as error:  # a row with fewer cells, an open quote: the page is not whole
            raise Retryable(f"the page does not read as CSV ({error})") from None

    def _typed(self, page: pa.Table) -> Iterator[pa.RecordBatch]:
        """The page as turnstile batches: rows with a bad value rejected (kept as text), station names filled."""
        header = set(page.column_names)
        fields = {column: next(name for name in spellings if name in header) for column, spellings in _FIELDS.items()}
        text = {column: pc.ascii_trim_whitespace(page[name]) for column, name in fields.items()}
        reading_at = pc.strptime(
            # The date's own time is always midnight: the reading's time is the `time` field.
            pc.binary_join_element_wise(pc.utf8_slice_codeunits(text["date"], 0, 10), text["time"], " "),
            format="%Y-%m-%d %H:%M:%S",
            unit="s",
            error_is_null=True,
        )
        valid = pc.fill_null(
            pc.and_(
                pc.and_(pc.is_valid(reading_at), has_turnstile_keys(text["control_area"], text["unit"], text["scp"])),
                pc.and_(
                    pc.match_substring_regex(text["entries"], COUNTER_PATTERN),
                    pc.match_substring_regex(text["exits"], COUNTER_PATTERN),
                ),
            ),
            False,
        )
        invalid = pc.invert(valid)
        self.rejected_rows.extend(
            pc.binary_join_element_wise(*[pc.filter(page[name], invalid) for name in fields.values()], ",").to_pylist()
        )
        columns = {column: pc.filter(text[column], valid) for column in _TEXT_COLUMNS}
        columns["reading_at"] = pc.filter(reading_at, valid)
        columns["entries"] = pc.cast(pc.filter(text["entries"], valid), pa.int64())
        columns["exits"] = pc.cast(pc.filter(text["exits"], valid), pa.int64())
        columns["week_ending"] = pa.repeat(pa.scalar(self.week, pa.date32()), len(columns["reading_at"]))
        readings = pa.table({name: columns[name] for name in TURNSTILE.column_names}, schema=TURNSTILE.arrow_schema)
        if pc.any(pc.equal(pc.utf8_length(readings["station"]), 0)).as_py():  # 2022 names no station
            readings, unknown = with_station_names(readings)
            self.unknown_stations += unknown
        yield from readings.to_batches()

    def _refusal(self, response: requests.Response, url: str, dataset_id: str) -> Exception:
        """The exception for an answer other than 200: Retryable for throttling and server errors."""
        status = response.status_code
        said = f"HTTP {status}{_socrata_error(response)}"
        if status in _RETRIED_STATUSES:
            return Retryable(said, retry_after_seconds(response.headers.get("Retry-After")))
        where = f"Week {self.week}: NY Open Data dataset {dataset_id} ({_shown(url)}) answered {said}."
        if status in (404, 410):
            return WeekNotInOpenData(
                f"{where} The dataset is not there (moved or withdrawn): read the week from the MTA's files, or check "
                f"MTA_OPEN_DATA_URL and the dataset id in mta_assets/open_data.py."
            )
        if status == 400:
            return SourceError(
                f"{where} The query was refused; the dataset's columns may have changed: compare its fields "
                f"({self.source.base_url.rstrip('/')}/resource/{dataset_id}.json?$limit=1) with those in "
                f"mta_assets/open_data.py."
            )
        if status in (401, 403):
            return SourceError(f"{where} Check MTA_SOCRATA_APP_TOKEN, or unset it to read without a token.")
        return SourceError(f"{where} Check MTA_OPEN_DATA_URL.")


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


def _shown(url: str) -> str:
    """`url` for logs and metadata: no user or password; the query (ours, no secret in it) kept whole."""
    base, _, query = url.partition("?")
    return f"{redact_url(base)}?{query}"
