"""NY Open Data's "MTA Subway Hourly Ridership" as a source of weeks.

Partition S (a Saturday) holds the hours from S-7 00:00 to S-1 23:00. They come from the dataset of
their days (three datasets split the years; a week across New Year reads two), through open_data/soda.py: CSV
pages by `:id` (each the rows after the last id read, the next one read while one is stored), each
normalised to HOURLY_RIDERSHIP and written to parquet at once, so a week is never held in memory whole. A
week is read only once its dataset holds every one of its hours.

A load is exact although NY Open Data changes while it is read: the rows of each hour and the newest
`:updated_at` of the week's rows, per dataset, are asked before the pages and again after them (and after
the dataset's own totals). Equal, the pages and totals are the dataset's rows at one moment, and the
pages must add up to its count and to the sums of every count column; different, a row was inserted,
revised or deleted during the read, and the week is read again from the start (WEEK_READ_ATTEMPTS in all).
Every row is checked (no bad value is skipped).
"""

import re
import time as clock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from mta_assets.lake.facts import NO_ROWS, Fingerprint
from mta_assets.lib.parquet import parquet_writer
from mta_assets.open_data.soda import MAX_PAGE_ROWS, SodaAdvice, SodaReading, SodaSource, shown, time_range, whole_number
from mta_assets.lib.tables import HOURLY_RIDERSHIP
from mta_assets.partitions import TIMEZONE, week_bounds
from mta_assets.lib.week_source import SourceError, SourceUnavailable, WeekNotPublished

_MODULE = "mta_assets/hourly/source.py"
# Socrata's floating timestamps: 2023-05-27T00:00:00.000; the milliseconds are optional.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?")
# A whole number, as an integer or an integral decimal (31.0), of at most 18 digits: it fits an int64.
_COUNT_PATTERN = r"^[0-9]{1,18}(\.0*)?$"
_COORDINATE_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
# The fields every version of the datasets has, and those only the current versions have (the older
# version of wujg-7c2s had `routes` instead).
_NEEDED_FIELDS = (
    "transit_timestamp", "station_complex_id", "station_complex", "borough", "payment_method", "ridership",
    "transfers", "latitude", "longitude",
)  # fmt: skip
_NEEDED = {name: (name,) for name in _NEEDED_FIELDS}
_NEWER_FIELDS = ("transit_mode", "fare_class_category")
# The rows and every count column summed: what the pages must add up to.
_TOTALS = "count(*) AS rows, sum(ridership) AS ridership, sum(transfers) AS transfers"
# What changes with any insert, revision or delete: the rows of each hour, the newest :updated_at
# (Socrata's system field). No sums: they are asked after the pages, whose rows are checked first.
_VERSION = "transit_timestamp, count(*) AS rows, max(:updated_at) AS updated_at"
# Reads of a week that NY Open Data changed during the read, before the week fails (to be loaded later).
WEEK_READ_ATTEMPTS = 3


@dataclass(frozen=True)
class HourlyDataset:
    """One of the datasets hourly ridership is split into, with the days it holds."""

    id: str
    first_day: date
    last_day: date | None  # None: it still grows

    def clip(self, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
        """The part of [start, end) on the dataset's days, or None if there is none."""
        first = max(start, datetime.combine(self.first_day, time()))
        end = end if self.last_day is None else min(end, datetime.combine(self.last_day + timedelta(days=1), time()))
        return (first, end) if first < end else None


HOURLY_DATASETS = (
    HourlyDataset("t69i-h2me", date(2017, 1, 1), date(2019, 12, 31)),
    HourlyDataset("wujg-7c2s", date(2020, 1, 1), date(2024, 12, 31)),
    HourlyDataset("5wq4-mkjj", date(2025, 1, 1), None),
)


class WeekNotInHourlyData(WeekNotPublished):
    """Hourly ridership does not hold the week: before 2017, not yet (its dataset's newest hour is before the
    week's last), or not at all (its dataset is missing, or has later hours but none of the week's)."""


class HourlyRowsInvalid(SourceError):
    """A row the week cannot be stored with: a malformed time or one outside the week, a count that is not a
    whole number, a coordinate that is not a number, no station complex."""


@dataclass(frozen=True)
class _PartVersion:
    """The rows of each hour of a week's part and their newest :updated_at: unchanged unless no row changed."""

    rows_by_hour: tuple[tuple[str, int], ...]  # YYYY-MM-DDTHH
    updated_at: str

    def __str__(self) -> str:
        return f"{sum(rows for _, rows in self.rows_by_hour):,} rows last changed {self.updated_at or 'never'}"


class HourlyWeekChanging(SourceUnavailable):
    """The dataset changed during every read of the week: nothing was stored; the week is read again later."""


@dataclass(frozen=True)
class DatasetVersion:
    """A dataset's metadata: what says that its rows changed, and the fields it has now."""

    dataset_id: str
    name: str
    rows_updated_at: int  # epoch seconds: when the rows last changed
    view_last_modified: int  # epoch seconds: when the metadata last changed
    fields: tuple[str, ...]


@dataclass(frozen=True)
class HourlyWeek:
    """A week read from hourly ridership into a parquet file, with what its materialization reports."""

    week: date
    path: Path  # HOURLY_RIDERSHIP's columns, exactly
    rows: int
    ridership: int
    fingerprint: Fingerprint  # the datasets' own, before and after the read: what the rows are
    attempts: int  # reads of the week, the last one whole (more when the dataset changed during one)
    dataset_ids: tuple[str, ...]
    urls: tuple[str, ...]  # every request, in order; no secret (the app token travels in a header)
    first_page_url: str  # the request for the week's first rows
    pages: int  # pages of rows read (aggregate queries left out)
    first_hour: datetime
    last_hour: datetime
    days: int  # service days with rows
    station_complexes: int  # distinct station complex ids

    @property
    def rejected_lines(self) -> tuple[str, ...]:
        """None: a bad row fails the week rather than being left out."""
        return ()


@dataclass(frozen=True)
class _WeekPart:
    """The hours of a week one dataset holds."""

    dataset_id: str
    start: datetime
    end: datetime

    @property
    def last_hour(self) -> datetime:
        return self.end - timedelta(hours=1)

    def hours(self) -> list[datetime]:
        """Every hour the part must hold."""
        return local_hours(self.start, self.end)


_NEW_YORK = ZoneInfo(TIMEZONE)


def local_hours(start: datetime, end: datetime) -> list[datetime]:
    """The New York hours from `start` to `end` (naive local times, as transit_timestamp is) that exist: the
    hour skipped when clocks spring forward (02:00 on the second Sunday of March) has no rows to hold."""
    hours = [start + timedelta(hours=n) for n in range((end - start) // timedelta(hours=1))]
    return [hour for hour in hours if hour.replace(tzinfo=_NEW_YORK).astimezone(UTC).astimezone(_NEW_YORK).replace(tzinfo=None) == hour]


def published_hours(week: date) -> list[datetime]:
    """The week's hours that NY Open Data's hourly datasets cover: all of them, but for the first week, whose
    Saturday (2016-12-31) comes before the datasets' first day."""
    return [hour for dataset in HOURLY_DATASETS if (span := dataset.clip(*week_bounds(week))) for hour in local_hours(*span)]


class _Tally:
    """What the written rows add up to, page by page."""

    def __init__(self) -> None:
        self.rows = self.ridership = self.transfers = self.pages = 0
        self.first_hour: datetime | None = None
        self.last_hour: datetime | None = None
        self.days: set[date] = set()
        self.station_complexes: set[str] = set()

    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "ridership": self.ridership, "transfers": self.transfers}

    def add(self, table: pa.Table) -> None:
        self.pages += 1
        if table.num_rows == 0:
            return
        self.rows += table.num_rows
        self.ridership += pc.sum(table["ridership"]).as_py()
        self.transfers += pc.sum(table["transfers"]).as_py()
        first, last = (value.as_py() for value in pc.min_max(table["transit_timestamp"]).values())
        self.first_hour = first if self.first_hour is None else min(self.first_hour, first)
        self.last_hour = last if self.last_hour is None else max(self.last_hour, last)
        self.days.update(pc.unique(pc.cast(table["transit_timestamp"], pa.date32())).to_pylist())
        self.station_complexes.update(pc.unique(table["station_complex_id"]).to_pylist())


class HourlyRidershipSource(SodaSource):
    """Reads weeks of MTA Subway Hourly Ridership from NY Open Data, and the datasets' own totals.

    Retries, Retry-After and the deadline (one for a whole week, every request included) work as in the
    turnstile sources. The app token, if set, is sent as X-App-Token and never shown.
    """

    def dataset_ids(self, week: date) -> tuple[str, ...]:
        """The datasets holding the week's days (two across New Year 2020 and 2025); asks nothing of the server."""
        return tuple(part.dataset_id for part in self._parts(week))

    def read_week(self, week: date, directory: Path) -> HourlyWeek:
        """The week's rows as HOURLY_RIDERSHIP in a parquet file in `directory`: the datasets' rows at one moment.

        Raises WeekNotInHourlyData for a week a dataset does not hold every hour of, HourlyWeekChanging when
        the dataset changed during every read; on any error no file is left.
        """
        parts = self._parts(week)
        destination = directory / f"hourly_ridership_{week:%y%m%d}.parquet"
        advice = SodaAdvice(missing=WeekNotInHourlyData, module=_MODULE)
        changes = []
        try:
            with SodaReading(self, f"Week {week}", advice, directory / f".{destination.stem}.page.csv") as reading:
                for part in parts:
                    self._check_published(reading, week, part)
                for attempt in range(1, WEEK_READ_ATTEMPTS + 1):
                    before = [self._version(reading, week, part) for part in parts]
                    first_page = len(reading.urls)
                    tally, read = self._read_pages(reading, week, parts, destination)
                    totals = [self._totals(reading, part) for part in parts]
                    after = [self._version(reading, week, part) for part in parts]
                    changed = [f"{part.dataset_id} from {was} to {now}" for part, was, now in zip(parts, before, after) if was != now]
                    if not changed:
                        break
                    changes.append(f"read {attempt}: " + "; ".join(changed))
                    if attempt < WEEK_READ_ATTEMPTS:  # NY Open Data's update may still be landing: give it time
                        clock.sleep(min(self.backoff_seconds * attempt, max(reading.deadline.remaining(), 0)))
                else:
                    raise HourlyWeekChanging(
                        f"Week {week}: NY Open Data changed the week's rows during each of {WEEK_READ_ATTEMPTS} reads ("
                        + " | ".join(changes) + "), so no read is the dataset at one moment, and nothing was stored. Retry "
                        "later, once NY Open Data's update has landed."
                    )
                for part, counted, counts in zip(parts, totals, read):
                    reading.compare_totals(part.dataset_id, self._totals_url(part), counts, counted)
        except BaseException:
            destination.unlink(missing_ok=True)
            raise
        return HourlyWeek(
            week=week,
            path=destination,
            rows=tally.rows,
            ridership=tally.ridership,
            fingerprint=sum(
                (Fingerprint(**counted, updated_at=version.updated_at) for counted, version in zip(totals, before)), NO_ROWS
            ),
            attempts=attempt,
            dataset_ids=tuple(part.dataset_id for part in parts),
            urls=tuple(reading.urls),
            first_page_url=reading.urls[first_page],
            pages=tally.pages,
            first_hour=tally.first_hour,
            last_hour=tally.last_hour,
            days=len(tally.days),
            station_complexes=len(tally.station_complexes),
        )

    def _read_pages(
        self, reading: SodaReading, week: date, parts: list["_WeekPart"], destination: Path
    ) -> tuple[_Tally, list[dict[str, int]]]:
        """Every page of the week's parts into `destination` (replacing it); the tally and what each part's pages gave."""
        tally, read = _Tally(), []
        with parquet_writer(destination, HOURLY_RIDERSHIP.arrow_schema) as writer:
            for part in parts:
                counts_before = tally.counts()
                for page in reading.keyset_pages(part.dataset_id, partial(self._page_url, part), _NEEDED, _NEWER_FIELDS):
                    table = _normalised(page, week, part)
                    writer.write_table(table)
                    tally.add(table)
                read.append({name: value - counts_before[name] for name, value in tally.counts().items()})
        return tally, read

    def missing_hours(self, week: date) -> list[datetime]:
        """The hours of the week its datasets hold no rows of (every hour before 2017): what keeps it from loading."""
        try:
            parts = self._parts(week)
        except WeekNotInHourlyData:
            start, end = week_bounds(week)
            return _WeekPart("", start, end).hours()
        missing = []
        with self._reading(f"Week {week}") as reading:
            for part in parts:
                rows_by_hour, _ = self._rows_by_hour(reading, part)
                missing += [hour for hour in part.hours() if f"{hour:%Y-%m-%dT%H}" not in rows_by_hour]
        return missing

    def week_fingerprints(self, dataset_ids: tuple[str, ...] | None, first_week: date, last_week: date) -> dict[date, Fingerprint]:
        """Each week's fingerprint (by Saturday) from `first_week` to `last_week`, from the datasets' daily ones.

        `dataset_ids` picks the datasets to count (None: all); a week across New Year sums both of its
        datasets. Weeks without rows are left out.
        """
        if first_week.weekday() != 5 or last_week.weekday() != 5:
            raise ValueError(f"Weeks are named by Saturdays: {first_week} and {last_week} are not both Saturdays.")
        unknown = set(dataset_ids or ()) - {dataset.id for dataset in HOURLY_DATASETS}
        if unknown:
            raise ValueError(f"{', '.join(sorted(unknown))} is not among HOURLY_DATASETS in {_MODULE}.")
        start, end = week_bounds(first_week)[0], week_bounds(last_week)[1]
        weeks: dict[date, Fingerprint] = {}
        with self._reading(f"Hourly ridership of the weeks {first_week} to {last_week}") as reading:
            for dataset in HOURLY_DATASETS:
                span = dataset.clip(start, end)
                if span is None or dataset_ids is not None and dataset.id not in dataset_ids:
                    continue
                for day, fingerprint in self._daily(reading, dataset.id, *span).items():
                    saturday = day + timedelta(days=(5 - day.weekday()) % 7 or 7)  # the week holding the day
                    weeks[saturday] = weeks.get(saturday, NO_ROWS) + fingerprint
        return dict(sorted(weeks.items()))

    def dataset_version(self, dataset_id: str) -> DatasetVersion:
        """The dataset's metadata (`/api/views/{id}.json`): when its rows last changed, its name and fields."""
        with self._reading("Hourly ridership") as reading:
            view = reading.view(dataset_id)
        try:
            return DatasetVersion(
                dataset_id=dataset_id,
                name=str(view["name"]),
                rows_updated_at=int(view["rowsUpdatedAt"]),
                view_last_modified=int(view["viewLastModified"]),
                fields=tuple(str(column["fieldName"]) for column in view["columns"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SourceError(
                f"Hourly ridership: the metadata of NY Open Data dataset {dataset_id} ({self.view_url(dataset_id)}) "
                f"lacks or garbles {error}: check MTA_OPEN_DATA_URL, which may not be a SODA server."
            ) from None

    def _parts(self, week: date) -> list[_WeekPart]:
        start, end = week_bounds(week)
        parts = [_WeekPart(dataset.id, *span) for dataset in HOURLY_DATASETS if (span := dataset.clip(start, end))]
        if not parts:
            first = HOURLY_DATASETS[0]
            raise WeekNotInHourlyData(
                f"Week {week}: NY Open Data's hourly ridership begins on {first.first_day} ({first.id}), after the "
                f"week; read the week's ridership from the turnstile feed instead."
            )
        return parts

    def _reading(self, subject: str) -> SodaReading:
        """A reading for questions about a dataset (not a week's rows): a missing dataset is a SourceError."""
        return SodaReading(self, subject, SodaAdvice(missing=SourceError, module=_MODULE))

    def _check_published(self, reading: SodaReading, week: date, part: _WeekPart) -> None:
        newest = self._newest(reading, part.dataset_id)
        if newest is None or newest < part.last_hour:
            holds = f"holds hours up to {newest:%Y-%m-%d %H:%M}" if newest else "holds no rows"
            raise WeekNotInHourlyData(
                f"Week {week}: NY Open Data dataset {part.dataset_id} {holds}, not yet the week's last hour "
                f"({part.last_hour:%Y-%m-%d %H:%M}): the week is not published yet. Materialize it again once the "
                f"dataset holds it."
            )

    def _newest(self, reading: SodaReading, dataset_id: str) -> datetime | None:
        url = self.resource_url(dataset_id, {"$select": "max(transit_timestamp) AS newest"})
        newest = reading.one_row(url, dataset_id, "its newest hour", ("newest",))["newest"]
        return _timestamp(newest, reading, dataset_id, url) if newest else None

    def _daily(self, reading: SodaReading, dataset_id: str, start: datetime, end: datetime) -> dict[date, Fingerprint]:
        url = self.resource_url(dataset_id, {
            "$select": f"date_trunc_ymd(transit_timestamp) AS day, {_TOTALS}, max(:updated_at) AS updated_at",
            "$where": time_range("transit_timestamp", start, end),
            "$group": "day",
            "$order": "day",
            "$limit": str(MAX_PAGE_ROWS),  # a day a row: 50,000 rows are 136 years
        })  # fmt: skip
        days = {}
        columns = ("day", "rows", "ridership", "transfers", "updated_at")
        for row in reading.answer(url, dataset_id, "its daily totals", columns).to_pylist():
            try:
                rows, ridership, transfers = (whole_number(row[name]) for name in ("rows", "ridership", "transfers"))
                if rows is None:
                    raise ValueError("an empty count")
            except ValueError as error:
                raise SourceError(
                    f"{reading.subject}: NY Open Data dataset {dataset_id} answered {shown(url)} with a total that is "
                    f"not a whole number ({error}). Check MTA_OPEN_DATA_URL: it may not be a SODA server."
                ) from None
            day = _timestamp(row["day"], reading, dataset_id, url).date()
            days[day] = Fingerprint(rows, ridership or 0, transfers or 0, row["updated_at"] or "")
        return days

    def _page_url(self, part: _WeekPart, after: str | None) -> str:
        """The request for the part's rows after the row `after` (None: from the first), in `:id` order."""
        where = time_range("transit_timestamp", part.start, part.end)
        return self.resource_url(part.dataset_id, {
            "$select": ":id, *",  # the row id too (a system field, hidden unless selected): it pages the week
            "$where": where if after is None else f"{where} AND :id > '{after}'",
            "$order": ":id",
            "$limit": str(self.page_rows),
        })  # fmt: skip

    def _version_url(self, part: _WeekPart) -> str:
        """The request for the rows of each of the part's hours and their newest change."""
        return self.resource_url(part.dataset_id, {
            "$select": _VERSION,
            "$where": time_range("transit_timestamp", part.start, part.end),
            "$group": "transit_timestamp",
            "$order": "transit_timestamp",
            "$limit": str(MAX_PAGE_ROWS),  # an hour a row: a week is 168
        })  # fmt: skip

    def _totals_url(self, part: _WeekPart) -> str:
        """The request for the dataset's own count and sums of every count column over the part's hours."""
        return self.resource_url(part.dataset_id, {"$select": _TOTALS, "$where": time_range("transit_timestamp", part.start, part.end)})

    def _totals(self, reading: SodaReading, part: _WeekPart) -> dict[str, int]:
        """The dataset's count and sums over the part's hours (a sum over no rows: 0)."""
        url = self._totals_url(part)
        answer = reading.one_row(url, part.dataset_id, "its totals for the week", ("rows", "ridership", "transfers"))
        try:
            return {name: whole_number(value) or 0 for name, value in answer.items()}
        except ValueError as error:
            raise SourceError(f"{reading.subject}: NY Open Data dataset {part.dataset_id} answered {shown(url)} with {error}.") from None

    def _rows_by_hour(self, reading: SodaReading, part: _WeekPart) -> tuple[dict[str, int], str]:
        """The rows of each hour of the part (by YYYY-MM-DDTHH), and their newest :updated_at.

        A time in another form is kept as written (it is a change too); its rows fail the pages' check.
        """
        url = self._version_url(part)
        answer = reading.answer(url, part.dataset_id, "its rows per hour", ("transit_timestamp", "rows", "updated_at")).to_pylist()
        rows_by_hour: dict[str, int] = {}
        for row in answer:
            text = row["transit_timestamp"]
            hour = f"{parsed:%Y-%m-%dT%H}" if (parsed := _parsed_timestamp(text)) else text
            try:
                rows_by_hour[hour] = rows_by_hour.get(hour, 0) + (whole_number(row["rows"]) or 0)
            except ValueError as error:
                raise SourceError(f"{reading.subject}: NY Open Data dataset {part.dataset_id} answered {shown(url)} with {error}.") from None
        return rows_by_hour, max((row["updated_at"] or "" for row in answer), default="")

    def _version(self, reading: SodaReading, week: date, part: _WeekPart) -> _PartVersion:
        """The part's version, once the dataset holds every one of its hours (else WeekNotInHourlyData)."""
        rows_by_hour, updated_at = self._rows_by_hour(reading, part)
        hours = part.hours()
        missing = [hour for hour in hours if f"{hour:%Y-%m-%dT%H}" not in rows_by_hour]
        if len(missing) == len(hours):
            raise WeekNotInHourlyData(
                f"Week {week}: NY Open Data dataset {part.dataset_id} has no rows from {part.start:%Y-%m-%d %H:%M} to "
                f"{part.last_hour:%Y-%m-%d %H:%M}, though it holds later hours. Check the datasets' days in {_MODULE}."
            )
        if missing:
            raise WeekNotInHourlyData(
                f"Week {week}: NY Open Data dataset {part.dataset_id} lacks {len(missing)} of the week's {len(hours)} hours "
                f"({hour_spans(missing)}): the week is not whole there, and nothing was stored. Materialize it again once "
                f"NY Open Data holds every hour."
            )
        return _PartVersion(tuple(sorted(rows_by_hour.items())), updated_at)


def hour_spans(hours: list[datetime], most: int = 5) -> str:
    """`2023-05-29 00:00 to 23:00, 2023-05-31 07:00`: sorted hours as runs, the first `most` of them."""
    runs: list[list[datetime]] = []
    for hour in sorted(hours):
        if runs and hour - runs[-1][-1] == timedelta(hours=1):
            runs[-1].append(hour)
        else:
            runs.append([hour])
    shown_runs = [
        f"{run[0]:%Y-%m-%d %H:%M}" if len(run) == 1 else f"{run[0]:%Y-%m-%d %H:%M} to {run[-1]:%Y-%m-%d %H:%M}" for run in runs[:most]
    ]
    return ", ".join(shown_runs) + (f" and {len(runs) - most} more runs" if len(runs) > most else "")


def _parsed_timestamp(text: str | None) -> datetime | None:
    """A floating timestamp (YYYY-MM-DDTHH:MM:SS, milliseconds optional); None for anything else."""
    if text and _TIMESTAMP.fullmatch(text):
        try:
            return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
        except ValueError:  # well formed, but no such time: month 13
            pass
    return None


def _timestamp(text: str, reading: SodaReading, dataset_id: str, url: str) -> datetime:
    """A floating timestamp of an aggregate answer (YYYY-MM-DDTHH:MM:SS, milliseconds optional)."""
    if parsed := _parsed_timestamp(text):
        return parsed
    raise SourceError(
        f"{reading.subject}: NY Open Data dataset {dataset_id} answered {shown(url)} with {text!r}, not a "
        f"timestamp (YYYY-MM-DDTHH:MM:SS). Check MTA_OPEN_DATA_URL: it may not be a SODA server."
    )


def _normalised(page: pa.Table, week: date, part: _WeekPart) -> pa.Table:
    """A page of text as HOURLY_RIDERSHIP rows; HourlyRowsInvalid names the first row that cannot be one."""

    def check(bad: pa.ChunkedArray, problem: str, field: str | None = None) -> None:
        """Fail on the rows `bad` marks (a null counts as bad), quoting the first one's `field` if given."""
        bad = pc.fill_null(bad, True)
        if not pc.any(bad).as_py():  # None for a page of no rows
            return
        first = pc.indices_nonzero(bad)[0].as_py()

        def cell(name: str) -> str:
            """The first bad row's cell as written (a null as the empty cell it was)."""
            return repr(page[name][first].as_py() or "")

        raise HourlyRowsInvalid(
            f"Week {week}: NY Open Data dataset {part.dataset_id} has {pc.sum(bad).as_py():,} rows with {problem}, the "
            f"first at station complex {cell('station_complex_id')}, "
            f"{cell('transit_timestamp')}{f' ({field} {cell(field)})' if field else ''}; nothing was stored. If NY Open Data changed how it writes "
            f"the dataset, map the new form in {_MODULE}; if the rows are wrong, materialize the week again once NY "
            f"Open Data has corrected them."
        )

    # Empty cells are nulls already (keyset_pages). A page repeats its hours and its station complexes' places:
    # those are checked and typed once per distinct value.
    at = _by_value(page["transit_timestamp"], _hour_or_null)
    check(pc.is_null(at), "a transit_timestamp that is not YYYY-MM-DDTHH:MM:SS[.fff]")
    outside = pc.or_(pc.less(at, part.start), pc.greater_equal(at, part.end))
    check(outside, f"hours outside those asked for, {part.start:%Y-%m-%d %H:%M} to {part.last_hour:%Y-%m-%d %H:%M}")
    check(pc.is_null(page["station_complex_id"]), "an unknown station complex (no station_complex_id)")
    counts = {}
    for name in ("ridership", "transfers"):
        counts[name] = _count_or_null(page[name])
        check(pc.is_null(counts[name]), f"a {name} that is not a whole number of at least 0 (and at most 18 digits)", name)
    coordinates = {}
    for name in ("latitude", "longitude"):  # may be missing (null), never anything but a number
        coordinates[name] = _by_value(page[name], _coordinate_or_nan)
        check(pc.fill_null(pc.is_nan(coordinates[name]), False), f"a {name} that is not a number", name)
    rows = page.num_rows
    columns = {name: page[name] if name in page.column_names else None for name in HOURLY_RIDERSHIP.column_names}
    for name in _NEWER_FIELDS:  # null where the dataset's version lacks the field
        if columns[name] is None:
            columns[name] = pa.nulls(rows, pa.string())
    columns.update(counts, **coordinates, transit_timestamp=at)
    columns["dataset_id"] = pa.repeat(pa.scalar(part.dataset_id), rows)
    columns["week_ending"] = pa.repeat(pa.scalar(week, pa.date32()), rows)
    return pa.table([columns[name] for name in HOURLY_RIDERSHIP.column_names], schema=HOURLY_RIDERSHIP.arrow_schema)


def _by_value(column: pa.ChunkedArray, typed: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """`typed(values)` for each row of a text column, computed once per distinct value (a null stays null)."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    return pc.take(typed(encoded.dictionary), encoded.indices)


def _hour_or_null(text: pa.Array) -> pa.Array:
    """Floating timestamps (YYYY-MM-DDTHH:MM:SS, milliseconds optional) as timestamp[s]; null for anything else."""
    at = pc.strptime(pc.utf8_slice_codeunits(text, 0, 19), format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True)
    return pc.if_else(pc.match_substring_regex(text, f"^{_TIMESTAMP.pattern}$"), at, None)


def _count_or_null(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """Counts as Socrata writes them (_COUNT_PATTERN: `31`, or `31.0` from a decimal column) as int64; null for
    anything else (a fraction, a sign, text, 19 digits or more)."""
    plain = pc.and_(pc.ascii_is_decimal(text), pc.less_equal(pc.binary_length(text), 18))
    if pc.all(plain).as_py():  # every cell 1 to 18 ASCII digits (or null, which stays null): typed at once
        return pc.cast(text, pa.int64())
    whole = pc.match_substring_regex(text, _COUNT_PATTERN)
    return pc.cast(pc.if_else(whole, pc.replace_substring_regex(text, r"\.0*$", ""), None), pa.int64())


def _coordinate_or_nan(text: pa.Array) -> pa.Array:
    """Coordinates (_COORDINATE_PATTERN) as float64; null stays null (no place), anything else is NaN."""
    is_number = pc.match_substring_regex(text, _COORDINATE_PATTERN)
    return pc.if_else(pc.fill_null(is_number, True), pc.cast(pc.if_else(is_number, text, None), pa.float64()), float("nan"))
