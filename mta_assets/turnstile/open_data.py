"""NY Open Data's yearly "Turnstile Usage Data" datasets (2014-2022) as a source of turnstile weeks.

They hold the readings of the MTA's weekly files. A week is read through Socrata's SODA 2 API as CSV
pages (open_data/soda.py: `$where` on the week's dates, `$order=:id` for stable paging, `$limit`/`$offset`),
typed page by page into the same parquet table as a parsed MTA file: a week is never held in memory whole.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mta_assets.turnstile.duplicates import remove_exact_duplicates
from mta_assets.open_data.soda import SodaAdvice, SodaReading, SodaSource, time_range
from mta_assets.lib.tables import TURNSTILE
from mta_assets.turnstile.parsing import ParsedWeek, has_turnstile_keys, is_counter, write_week
from mta_assets.partitions import file_stem, week_bounds
from mta_assets.lib.week_source import SourceError, WeekNotPublished
from mta_assets.turnstile.station_key import with_station_names

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
# The fields read, by turnstile column: their spellings in the header (2014 has `linename` and `desc`).
# The header a dataset actually returns decides, not its year.
FIELDS = {
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


class WeekNotInOpenData(WeekNotPublished):
    """NY Open Data has no dataset, or no readings, for the week: read it from another source."""


@dataclass(frozen=True)
class OpenDataWeek:
    """A week read from NY Open Data, with what its materialization reports."""

    parsed: ParsedWeek
    dataset_ids: tuple[str, ...]
    urls: tuple[str, ...]  # every page read, in order; no secret (the app token travels in a header)


class OpenDataTurnstileSource(SodaSource):
    """Reads a week's turnstile readings from NY Open Data's yearly Turnstile Usage Data datasets.

    Retries, Retry-After and the deadline (one for the whole week, every page included) work as in
    MtaTurnstileSource. The app token, if set, is sent as X-App-Token and never logged.
    """

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
        reading = _WeekReading(self, week, directory)
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
        # `date` is a floating timestamp at midnight; `time` is text, so the day alone bounds the week.
        return self.resource_url(dataset_id, {"$where": time_range("date", *week_bounds(week)), **query})


_ADVICE = SodaAdvice(missing=WeekNotInOpenData, module="mta_assets/turnstile/open_data.py", elsewhere="read the week from the MTA's files")


class _WeekReading:
    """One week's pages read in turn, with the URLs read, the rows rejected and the stations not known."""

    def __init__(self, source: OpenDataTurnstileSource, week: date, directory: Path) -> None:
        self.source = source
        self.week = week
        self.soda = SodaReading(source, f"Week {week}", _ADVICE, directory / f".{file_stem(week)}.page.csv")
        self.rejected_rows: list[str] = []
        self.unknown_stations = 0

    @property
    def urls(self) -> list[str]:
        return self.soda.urls

    def batches(self, dataset_ids: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
        """Typed batches of every page of every dataset, each dataset's rows then checked against its count.

        A page cut at a row boundary reads like a last page: only the dataset's own count of the week's rows
        tells the two apart.
        """
        with self.soda:
            for dataset_id in dataset_ids:
                rows = 0
                for page in self.soda.pages(dataset_id, partial(self.source.page_url, dataset_id, self.week), FIELDS):
                    yield from self._typed(page)
                    rows += page.num_rows
                self.soda.check_totals(dataset_id, self.source.count_url(dataset_id, self.week), {"count": rows})

    def _typed(self, page: pa.Table) -> Iterator[pa.RecordBatch]:
        """The page as turnstile batches: rows with a bad value rejected (kept as text), station names filled."""
        header = set(page.column_names)
        fields = {column: next(name for name in spellings if name in header) for column, spellings in FIELDS.items()}
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
                    is_counter(text["entries"]),
                    is_counter(text["exits"]),
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
