"""Reading an MTA turnstile file (modern layout) into the typed turnstile table.

Real files are right-padded with spaces, sometimes CRLF, sometimes truncated mid-line. Lines that cannot
be read are kept (never silently dropped) and counted; too large a share of them means the file is
corrupt, and nothing is produced.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from mta_assets.lib.turnstile_table import ARROW_SCHEMA, COLUMNS

MODERN_HEADER = ("C/A", "UNIT", "SCP", "STATION", "LINENAME", "DIVISION", "DATE", "TIME", "DESC", "ENTRIES", "EXITS")
_RAW_NAMES = [name.replace("/", "") for name in MODERN_HEADER]
_LEGACY_DATE = re.compile(r"^\d{2}-\d{2}-\d{2}$")
_COUNTER = r"^\d{1,18}$"
_TEXT_FIELDS = ("CA", "UNIT", "SCP", "STATION", "LINENAME", "DIVISION", "DATE", "DESC")
_HEADER_PROBE_BYTES = 4096


class NotATurnstileFile(ValueError):
    """The bytes are not an MTA turnstile file in the modern layout."""


class TooManyRejectedLines(ValueError):
    """More lines failed to parse than the configured share allows: the file is likely corrupt."""


@dataclass
class ParsedWeek:
    """One week's readings, with the lines that could not be read."""

    week: date
    table: pa.Table
    rejected_lines: list[str] = field(default_factory=list)
    blank_lines: int = 0


def check_header(head: bytes, file_name: str) -> None:
    """Raise NotATurnstileFile unless `head` (the first bytes of a file) starts with the modern header."""
    text = head.decode("ascii", errors="replace").lstrip("\ufeff")
    if not text.strip():
        raise NotATurnstileFile(f"{file_name} is empty.")
    lowered = text.lstrip().lower()
    if lowered.startswith("<") or "<html" in lowered:
        raise NotATurnstileFile(
            f"{file_name} is an HTML page, not a turnstile file: the server answered with an error or "
            f"landing page. Check that MTA_SOURCE_URL points at the folder holding the turnstile_*.txt files."
        )
    first_line = text.splitlines()[0]
    fields = [value.strip() for value in first_line.split(",")]
    if tuple(fields) == MODERN_HEADER:
        return
    if len(fields) >= 8 and _LEGACY_DATE.match(fields[3]):
        raise NotATurnstileFile(
            f"{file_name} is in the legacy layout (2010-05 to 2014-10: no header, several readings per "
            f"line), which mta_assets does not read. Modern files start with the header "
            f"{','.join(MODERN_HEADER)}; the first modern week is 2014-10-18."
        )
    raise NotATurnstileFile(
        f"{file_name} does not start with the modern header {','.join(MODERN_HEADER)}; its first line is "
        f"{first_line[:120].rstrip()!r}. Check that MTA_SOURCE_URL serves the MTA's turnstile files."
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


class _NeedsLineChecks(Exception):
    """The typed read found a value it cannot use; the file is read again line by line."""


def _read_csv(path: Path, column_types: dict[str, pa.DataType], bad_lines: _BadLines) -> pa.Table:
    return pv.read_csv(
        path,
        read_options=pv.ReadOptions(column_names=_RAW_NAMES, skip_rows=1),
        parse_options=pv.ParseOptions(invalid_row_handler=bad_lines),
        convert_options=pv.ConvertOptions(column_types=column_types),
    )


def _strings(raw: pa.Table) -> dict[str, pa.ChunkedArray]:
    return {name: pc.ascii_trim_whitespace(raw[name]) for name in _TEXT_FIELDS}


def _typed_read(path: Path, bad_lines: _BadLines) -> dict[str, pa.ChunkedArray]:
    """The fast path for a clean file: Arrow converts times and counters while it reads."""
    column_types = {name: pa.string() for name in _RAW_NAMES}
    column_types.update(TIME=pa.time32("s"), ENTRIES=pa.int64(), EXITS=pa.int64())
    raw = _read_csv(path, column_types, bad_lines)
    fields = _strings(raw)
    day = pc.strptime(fields["DATE"], format="%m/%d/%Y", unit="s", error_is_null=True)
    if day.null_count or not pc.all(_has_keys(fields)).as_py():
        raise _NeedsLineChecks
    seconds = pc.cast(pc.cast(raw["TIME"], pa.int32()), pa.int64())
    fields["reading_at"] = pc.add(day, pc.cast(seconds, pa.duration("s")))
    fields["ENTRIES"], fields["EXITS"] = raw["ENTRIES"], raw["EXITS"]
    return fields


def _checked_read(path: Path, bad_lines: _BadLines) -> dict[str, pa.ChunkedArray]:
    """The slow path: read every field as text, keep the lines with a bad value, convert the rest."""
    raw = _read_csv(path, {name: pa.string() for name in _RAW_NAMES}, bad_lines)
    fields = _strings(raw)
    for name in ("TIME", "ENTRIES", "EXITS"):
        fields[name] = pc.ascii_trim_whitespace(raw[name])
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
                pc.match_substring_regex(fields["ENTRIES"], _COUNTER),
                pc.match_substring_regex(fields["EXITS"], _COUNTER),
            ),
        ),
        False,
    )
    invalid = pc.invert(valid)
    bad_lines.lines.extend(
        pc.binary_join_element_wise(*[pc.filter(fields[name], invalid) for name in _RAW_NAMES], ",").to_pylist()
    )
    kept = {name: pc.filter(values, valid) for name, values in fields.items()}
    kept["reading_at"] = pc.filter(reading_at, valid)
    kept["ENTRIES"] = pc.cast(kept["ENTRIES"], pa.int64())
    kept["EXITS"] = pc.cast(kept["EXITS"], pa.int64())
    return kept


def _has_keys(fields: dict[str, pa.ChunkedArray]) -> pa.ChunkedArray:
    """A reading needs the turnstile's identity: control area, unit and SCP."""
    return pc.and_(
        pc.and_(pc.greater(pc.utf8_length(fields["CA"]), 0), pc.greater(pc.utf8_length(fields["UNIT"]), 0)),
        pc.greater(pc.utf8_length(fields["SCP"]), 0),
    )


def parse_turnstile_file(path: Path, week: date, max_rejected_share: float) -> ParsedWeek:
    """Parse a downloaded modern-layout file into the typed table of `week`."""
    with open(path, "rb") as file:
        check_header(file.read(_HEADER_PROBE_BYTES), path.name)
    bad_lines = _BadLines()
    try:
        fields = _typed_read(path, bad_lines)
    except (pa.ArrowInvalid, _NeedsLineChecks):
        bad_lines = _BadLines()
        fields = _checked_read(path, bad_lines)

    rows = len(fields["reading_at"])
    total = rows + len(bad_lines.lines)
    if len(bad_lines.lines) > max_rejected_share * total:
        raise TooManyRejectedLines(
            f"{path.name}: {len(bad_lines.lines):,} of {total:,} lines ({len(bad_lines.lines) / total:.1%}) "
            f"could not be parsed, more than the allowed {max_rejected_share:.1%}, so the file looks corrupt "
            f"and nothing was stored. First bad line: {bad_lines.lines[0][:120]!r}. If the file is right, "
            f"raise the allowed share (MTA_MAX_REJECTED_SHARE)."
        )
    if rows == 0:
        raise NotATurnstileFile(f"{path.name} has a header but no readings.")
    columns = {column.name: fields[column.source.replace("/", "")] for column in COLUMNS if column.source}
    columns["reading_at"] = fields["reading_at"]
    columns["week_ending"] = pa.repeat(pa.scalar(week, pa.date32()), rows)
    table = pa.Table.from_pydict({name: columns[name] for name in ARROW_SCHEMA.names}, schema=ARROW_SCHEMA)
    return ParsedWeek(week=week, table=table, rejected_lines=bad_lines.lines, blank_lines=bad_lines.blank)
