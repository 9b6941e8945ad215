"""Reading an MTA turnstile file, in either layout, into the typed turnstile table, in record batches.

The layout is recognised from the first line: the modern header, or a legacy line (legacy_layout.py).
Real files are right-padded with spaces, sometimes CRLF, sometimes truncated mid-line. Lines that cannot
be read are kept (never silently dropped) and counted; too large a share of them means the file is
corrupt, and nothing is produced. The typed rows go to a parquet file batch by batch, so a week never
sits in memory whole.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from mta_assets.turnstile.legacy_layout import is_legacy_line, legacy_readings
from mta_assets.lib.parquet import ROW_GROUP_ROWS, parquet_writer
from mta_assets.lib.tables import TURNSTILE
from mta_assets.partitions import week_bounds
from mta_assets.turnstile.station_key import with_station_names

MODERN_HEADER = ("C/A", "UNIT", "SCP", "STATION", "LINENAME", "DIVISION", "DATE", "TIME", "DESC", "ENTRIES", "EXITS")
_RAW_NAMES = [name.replace("/", "") for name in MODERN_HEADER]
# Legacy lines are read whole, as one column: split on a character the MTA never writes. A line that has
# it anyway has two columns, and is a bad line.
_LINE = "LINE"
_NEVER_WRITTEN = "\x1f"
_HEADER_PROBE_BYTES = 4096
# About 2,000 lines per block. The streaming reader keeps several blocks in flight: 256 KB blocks peaked at
# 14 MB of Arrow memory where 1 MB blocks peaked at 36 MB (measured before the blocks were grouped below).
_BLOCK_BYTES = 1 << 18
# Every compute call has a fixed cost: the batches are typed 8 blocks (2 MB, about 16,000 modern lines) at
# a time, for a parse with 20% less CPU than block by block, and a few MB more held.
_BLOCKS_PER_BATCH = 8
PREVIEW_ROWS = 5
# A few readings dated outside the file's week are kept (the lake check flags them); more than this share
# (and more than a handful, which in a small file can be a large share) means the file is not this
# week's, and the week is refused like a corrupt file. A real week has about 250,000 readings.
MAX_SHARE_OUTSIDE_WEEK = 0.01
HANDFUL_OUTSIDE_WEEK = 100


class NotATurnstileFile(ValueError):
    """The bytes are not an MTA turnstile file in either layout."""


class Layout(Enum):
    """The two layouts of the MTA's files (shared/mta-turnstile-format.md)."""

    MODERN = "modern"  # from 2014-10-18: a header, one reading a line
    LEGACY = "legacy"  # 2010-05 to 2014-10: no header, up to 8 readings a line


class WebPageNotFile(NotATurnstileFile):
    """An HTML page where the file should be: the server's error or landing page, not a file."""


class TooManyRejectedLines(ValueError):
    """More lines failed to parse than the configured share allows: the file is likely corrupt."""


class TooManyReadingsOutsideWeek(ValueError):
    """More readings fall outside the file's seven days than MAX_SHARE_OUTSIDE_WEEK allows."""


def readings_outside_week(reading_at: pa.Array | pa.ChunkedArray, week: date) -> int:
    start, end = week_bounds(week)
    return pc.sum(pc.or_(pc.less(reading_at, start), pc.greater_equal(reading_at, end))).as_py() or 0


@dataclass(frozen=True)
class ParsedWeek:
    """One week's typed readings, in a parquet file, with what could not be read and a summary.

    `duplicate_readings_removed`: rows that repeated another exactly, removed after the parse (duplicates.py).
    `readings_without_station`: legacy readings whose unit and booth the station key does not know (their
    station, line_name and division are empty); 0 for modern files, which name their stations.
    """

    week: date
    path: Path
    rows: int
    rejected_lines: tuple[str, ...]
    blank_lines: int
    first_reading: datetime | None
    last_reading: datetime | None
    preview: tuple[dict, ...]
    duplicate_readings_removed: int = 0
    readings_without_station: int = 0


def check_header(head: bytes, file_name: str) -> Layout:
    """The layout of the file whose first bytes are `head`, from its first line; NotATurnstileFile if neither."""
    text = head.decode("ascii", errors="replace").lstrip("\ufeff")
    if not text.strip():
        raise NotATurnstileFile(f"{file_name} is empty.")
    lowered = text.lstrip().lower()
    if lowered.startswith("<") or "<html" in lowered:
        raise WebPageNotFile(
            f"{file_name} is an HTML page, not a turnstile file: the server answered with an error or "
            f"landing page. Check that MTA_SOURCE_URL points at the folder holding the turnstile_*.txt files."
        )
    first_line = text.splitlines()[0]
    fields = [value.strip() for value in first_line.split(",")]
    if tuple(fields) == MODERN_HEADER:
        return Layout.MODERN
    if is_legacy_line(fields):
        return Layout.LEGACY
    raise NotATurnstileFile(
        f"{file_name} does not start with the modern header {','.join(MODERN_HEADER)} nor with a legacy line "
        f"(C/A,UNIT,SCP,MM-DD-YY,...); its first line is {first_line[:120].rstrip()!r}. Check that "
        f"MTA_SOURCE_URL serves the MTA's turnstile files."
    )


class _BadLines:
    """Collects lines that cannot be read; whitespace-only lines are counted, not kept."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.blank = 0

    def __call__(self, row: pv.InvalidRow) -> str:
        if row.text.strip():
            self.lines.append(row.text.rstrip())
        else:
            self.blank += 1
        return "skip"


def _raw_batches(
    path: Path, column_types: dict[str, pa.DataType], bad_lines: _BadLines, skip_rows: int = 1, delimiter: str = ","
) -> Iterator[pa.RecordBatch]:
    """The file's lines as the columns `column_types` names; lines with another number of fields are bad."""
    blocks = pv.open_csv(
        path,
        # One thread: as fast here (the typing after each batch is the larger part), and no per-thread
        # allocator heaps left holding memory between weeks.
        read_options=pv.ReadOptions(
            column_names=list(column_types), skip_rows=skip_rows, block_size=_BLOCK_BYTES, use_threads=False
        ),
        # The MTA never quotes a field; a stray quote must not join the lines after it into one.
        parse_options=pv.ParseOptions(delimiter=delimiter, invalid_row_handler=bad_lines, quote_char=False),
        convert_options=pv.ConvertOptions(column_types=column_types),
    )
    group: list[pa.RecordBatch] = []
    for block in blocks:
        group.append(block)
        if len(group) == _BLOCKS_PER_BATCH:
            batch, group = pa.concat_batches(group), []  # the blocks go before the batch is worked on
            yield batch
    if group:
        yield pa.concat_batches(group)


def has_turnstile_keys(control_area: pa.Array, unit: pa.Array, scp: pa.Array) -> pa.Array:
    """A reading needs the turnstile's identity: control area, unit and SCP."""
    return pc.and_(
        pc.and_(pc.greater(pc.utf8_length(control_area), 0), pc.greater(pc.utf8_length(unit), 0)),
        pc.greater(pc.utf8_length(scp), 0),
    )


def is_counter(text: pa.Array) -> pa.Array:
    """A counter as the MTA writes it: 1 to 18 ASCII digits (so it fits an int64), nothing else."""
    return pc.and_(pc.ascii_is_decimal(text), pc.less_equal(pc.utf8_length(text), 18))


def _has_keys(fields: dict[str, pa.Array]) -> pa.Array:
    return has_turnstile_keys(fields["CA"], fields["UNIT"], fields["SCP"])


def _checked_readings(fields: dict[str, pa.Array]) -> tuple[pa.Array, pa.Array]:
    """Which readings (text fields by the modern header's names) have every value right, and their times."""
    reading_at = pc.strptime(
        pc.binary_join_element_wise(fields["DATE"], fields["TIME"], " "),
        format="%m/%d/%Y %H:%M:%S",
        unit="s",
        error_is_null=True,
    )
    valid = pc.fill_null(
        pc.and_(
            pc.and_(pc.is_valid(reading_at), _has_keys(fields)),
            pc.and_(
                is_counter(fields["ENTRIES"]),
                is_counter(fields["EXITS"]),
            ),
        ),
        False,
    )
    return valid, reading_at


def _kept_readings(fields: dict[str, pa.Array], reading_at: pa.Array, keep: pa.Array, week: date) -> pa.RecordBatch:
    """The readings `keep` selects, typed."""
    kept = {name: pc.filter(values, keep) for name, values in fields.items()}
    kept["reading_at"] = pc.filter(reading_at, keep)
    kept["ENTRIES"] = pc.cast(kept["ENTRIES"], pa.int64())
    kept["EXITS"] = pc.cast(kept["EXITS"], pa.int64())
    return _typed(kept, week)


def _modern_batches(path: Path, week: date, bad_lines: _BadLines) -> Iterator[pa.RecordBatch]:
    """A modern file's readings: every field read as text, the lines with a bad value kept aside, the rest converted.

    One set of rules for every line (a typed read that Arrow converts as it reads is 20% cheaper, but takes
    values these rules refuse: an empty or NA field as null, 0x10 as 16, 04:00 as a time).
    """
    for raw in _raw_batches(path, {name: pa.string() for name in _RAW_NAMES}, bad_lines):
        fields = {name: pc.ascii_trim_whitespace(raw[name]) for name in _RAW_NAMES}
        valid, reading_at = _checked_readings(fields)
        invalid = pc.invert(valid)
        bad_lines.lines.extend(
            pc.binary_join_element_wise(*[pc.filter(fields[name], invalid) for name in _RAW_NAMES], ",").to_pylist()
        )
        yield _kept_readings(fields, reading_at, valid, week)


class _LegacyBatches:
    """A legacy-layout file's readings, typed and named from the station key, batch by batch.

    A line is read whole or not at all: a line with a bad group, or with a field count that is not 3 + 5k,
    is a bad line. Counts the lines read and the readings the key has no station for.
    """

    def __init__(self, path: Path, week: date) -> None:
        self.path = path
        self.week = week
        self.bad_lines = _BadLines()
        self.lines = 0
        self.without_station = 0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for raw in _raw_batches(self.path, {_LINE: pa.string()}, self.bad_lines, skip_rows=0, delimiter=_NEVER_WRITTEN):
            lines = pc.ascii_rtrim_whitespace(raw[_LINE])
            blank = pc.equal(pc.utf8_length(lines), 0)
            self.bad_lines.blank += pc.sum(blank).as_py() or 0
            lines = pc.filter(lines, pc.invert(blank))
            readings = legacy_readings(lines)
            valid, reading_at = _checked_readings(readings.fields)
            bad_readings = np.bincount(
                readings.line_of_reading, weights=~valid.to_numpy(zero_copy_only=False), minlength=len(lines)
            )
            line_read = readings.well_formed & (bad_readings == 0)
            self.bad_lines.lines.extend(pc.filter(lines, pa.array(~line_read)).to_pylist())
            self.lines += int(line_read.sum())
            typed = _kept_readings(readings.fields, reading_at, pa.array(line_read[readings.line_of_reading]), self.week)
            named, without_station = with_station_names(typed)
            self.without_station += without_station
            yield from named.combine_chunks().to_batches()


def _typed(fields: dict[str, pa.Array], week: date) -> pa.RecordBatch:
    """The turnstile table's columns, in its order, from the raw fields of a batch."""
    columns = {column.name: fields[column.source.replace("/", "")] for column in TURNSTILE.columns if column.source}
    columns["reading_at"] = fields["reading_at"]
    columns["week_ending"] = pa.repeat(pa.scalar(week, pa.date32()), len(fields["reading_at"]))
    return pa.RecordBatch.from_pydict({name: columns[name] for name in TURNSTILE.column_names}, schema=TURNSTILE.arrow_schema)


class WeekSummary:
    """What the materialization reports about a week, gathered batch by batch."""

    def __init__(self, week: date) -> None:
        self.week = week
        self.rows = 0
        self.outside_week = 0
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.preview: list[dict] = []

    def add(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        self.outside_week += readings_outside_week(batch["reading_at"], self.week)
        if len(self.preview) < PREVIEW_ROWS:
            self.preview += batch.slice(0, PREVIEW_ROWS - len(self.preview)).to_pylist()
        bounds = pc.min_max(batch["reading_at"]).as_py()
        if bounds["min"] is not None:
            self.first = min(filter(None, (self.first, bounds["min"])))
            self.last = max(filter(None, (self.last, bounds["max"])))


def write_week(batches: Iterable[pa.RecordBatch], week: date, destination: Path) -> WeekSummary:
    """Batches into parquet row groups of ROW_GROUP_ROWS rows (the last one fewer), the warehouse's row group size."""
    summary = WeekSummary(week)
    pending = TURNSTILE.arrow_schema.empty_table()
    with parquet_writer(destination, TURNSTILE.arrow_schema) as writer:
        for batch in batches:
            summary.add(batch)
            pending = pa.concat_tables([pending, pa.Table.from_batches([batch])])
            while pending.num_rows >= ROW_GROUP_ROWS:
                writer.write_table(pending.slice(0, ROW_GROUP_ROWS))
                pending = pending.slice(ROW_GROUP_ROWS)
        if pending.num_rows:
            writer.write_table(pending)
    return summary


def parse_turnstile_file(path: Path, week: date, max_rejected_share: float, destination: Path) -> ParsedWeek:
    """Parse a downloaded file, in either layout, into `destination` (parquet) as the typed table of `week`."""
    with open(path, "rb") as file:
        layout = check_header(file.read(_HEADER_PROBE_BYTES), path.name)
    try:
        if layout is Layout.LEGACY:
            legacy = _LegacyBatches(path, week)
            summary = write_week(legacy, week, destination)
            bad_lines, lines_read, without_station = legacy.bad_lines, legacy.lines, legacy.without_station
        else:
            bad_lines = _BadLines()
            summary = write_week(_modern_batches(path, week, bad_lines), week, destination)
            lines_read, without_station = summary.rows, 0
    except pa.ArrowInvalid as error:  # not text at all: bytes that are not UTF-8, say
        destination.unlink(missing_ok=True)
        raise NotATurnstileFile(f"{path.name} cannot be read as a text file ({error}).") from None

    total = lines_read + len(bad_lines.lines)
    try:
        if len(bad_lines.lines) > max_rejected_share * total:
            raise TooManyRejectedLines(
                f"{path.name}: {len(bad_lines.lines):,} of {total:,} lines ({len(bad_lines.lines) / total:.1%}) "
                f"could not be parsed in the {layout.value} layout (recognised from the first line), more than "
                f"the allowed {max_rejected_share:.1%}, so the file looks corrupt and nothing was stored. First "
                f"bad line: {bad_lines.lines[0][:120]!r}. If the file is right, raise the allowed share "
                f"(MTA_MAX_REJECTED_SHARE)."
            )
        if summary.rows == 0:
            raise NotATurnstileFile(f"{path.name} has no readings.")
        if summary.outside_week > max(MAX_SHARE_OUTSIDE_WEEK * summary.rows, HANDFUL_OUTSIDE_WEEK):
            start, end = week_bounds(week)
            raise TooManyReadingsOutsideWeek(
                f"{path.name}: {summary.outside_week:,} of {summary.rows:,} readings "
                f"({summary.outside_week / summary.rows:.1%}) fall outside its week ({start:%Y-%m-%d} to "
                f"{end - timedelta(days=1):%Y-%m-%d}), more than {MAX_SHARE_OUTSIDE_WEEK:.0%}: it does not look "
                f"like this week's file, and nothing was stored. Check that MTA_SOURCE_URL serves the MTA's "
                f"files under their own names."
            )
    except ValueError:
        destination.unlink(missing_ok=True)
        raise
    return ParsedWeek(
        week=week,
        path=destination,
        rows=summary.rows,
        rejected_lines=tuple(bad_lines.lines),
        blank_lines=bad_lines.blank,
        first_reading=summary.first,
        last_reading=summary.last,
        preview=tuple(summary.preview),
        readings_without_station=without_station,
    )
