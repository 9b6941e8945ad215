"""Exact duplicate readings (a line repeated whole) in a parsed week: removed when few, refused when many.

A mirror that appends the file on each sync repeats every line. DuckDB finds the repeats in the staged
parquet with a small memory limit, spilling what does not fit to a folder beside it, so a file many times
a week's size does not grow memory with it.
"""

import dataclasses
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mta_assets.lib.parquet import ROW_GROUP_ROWS, parquet_writer
from mta_assets.lib.tables import TURNSTILE
from mta_assets.turnstile.parsing import PREVIEW_ROWS, ParsedWeek

_COLUMNS = ", ".join(TURNSTILE.column_names)
# The row numbers (from 0, in file order) of every copy of a row after its first. Rows with different
# hashes differ, so only the rows whose hash repeats are compared whole: none in a clean week.
_LATER_COPIES = f"""
    SELECT file_row_number FROM read_parquet($path, file_row_number = true)
    WHERE hash({_COLUMNS}) IN (SELECT hash({_COLUMNS}) FROM read_parquet($path) GROUP BY ALL HAVING count(*) > 1)
    QUALIFY row_number() OVER (PARTITION BY {_COLUMNS} ORDER BY file_row_number) > 1
"""
# Measured on a week repeated 4 and 10 times: one thread under 64 MB spills and grows the process by about
# 75 MB whatever the file's size; under 32 MB, or on two threads, DuckDB gives up for want of memory.
_MEMORY_LIMIT = "64MB"


class TooManyDuplicateReadings(ValueError):
    """More readings repeat another line exactly than the configured share allows: the file looks doubled."""


@contextmanager
def _duckdb(spill: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(
        config={"memory_limit": _MEMORY_LIMIT, "threads": 1, "temp_directory": str(spill), "preserve_insertion_order": False}
    )
    try:
        yield connection
    finally:
        connection.close()


def _rewrite_without(path: Path, row_numbers: pa.Array) -> tuple[dict, ...]:
    """Rewrite `path` without the rows at `row_numbers`, keeping the others' order; returns its first rows."""
    rewritten = path.with_name(f".{path.name}.rewritten")
    preview: list[dict] = []
    first = 0
    try:
        with pq.ParquetFile(path) as parquet, parquet_writer(rewritten, TURNSTILE.arrow_schema) as writer:
            for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS):
                batch = batch.cast(TURNSTILE.arrow_schema)  # parquet keeps the timestamps in milliseconds
                numbers = pa.array(range(first, first + batch.num_rows), pa.int64())
                kept = batch.filter(pc.invert(pc.is_in(numbers, value_set=row_numbers)))
                first += batch.num_rows
                preview += kept.slice(0, PREVIEW_ROWS - len(preview)).to_pylist()
                writer.write_batch(kept)
        os.replace(rewritten, path)
    finally:
        rewritten.unlink(missing_ok=True)
    return tuple(preview)


def remove_exact_duplicates(parsed: ParsedWeek, file_name: str, max_duplicate_share: float) -> ParsedWeek:
    """`parsed` with one copy (the first) of each row that repeats another in every column.

    Above `max_duplicate_share` of the rows, removes the parsed parquet and raises TooManyDuplicateReadings.
    Readings of a turnstile at the same time with other counters are not duplicates: they stay.
    """
    allowed = int(max_duplicate_share * parsed.rows)
    path = str(parsed.path)
    with tempfile.TemporaryDirectory(prefix=".spill-", dir=parsed.path.parent) as spill, _duckdb(Path(spill)) as connection:
        # At most one more than allowed: a doubled file's row numbers would grow with its size.
        later_copies = connection.sql(f"{_LATER_COPIES} LIMIT $limit", params={"path": path, "limit": allowed + 1})
        later_copies = later_copies.to_arrow_table()["file_row_number"].combine_chunks()
        if len(later_copies) > allowed:
            duplicates = connection.execute(f"SELECT count(*) FROM ({_LATER_COPIES})", {"path": path}).fetchone()[0]
            parsed.path.unlink()
            raise TooManyDuplicateReadings(
                f"{file_name}: {duplicates:,} of {parsed.rows:,} readings ({duplicates / parsed.rows:.1%}) repeat "
                f"another line exactly, above MTA_MAX_DUPLICATE_SHARE ({max_duplicate_share * 100:g}%): the file "
                f"looks doubled, and nothing was stored; fix the mirror or raise the share."
            )
    if not len(later_copies):
        return parsed
    return dataclasses.replace(
        parsed,
        rows=parsed.rows - len(later_copies),
        duplicate_readings_removed=len(later_copies),
        preview=_rewrite_without(parsed.path, later_copies),
    )
