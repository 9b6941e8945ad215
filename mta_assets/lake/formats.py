"""The lake's file formats: parquet (the default) or gzip CSV, written and read in record batches."""

import gzip
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from mta_assets.lib.errors import ConfigurationError
from mta_assets.lib.tables import TURNSTILE, Table

Readable = Path | BinaryIO


class LakeFormat(str, Enum):
    PARQUET = "parquet"
    CSV_GZ = "csv.gz"

    @classmethod
    def from_setting(cls, value: str) -> "LakeFormat":
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ConfigurationError(
                f"MTA_LAKE_FORMAT={value!r} is not a lake format; use 'parquet' (the default) or 'csv.gz'."
            ) from None

    def from_parquet(self, parquet: Path, directory: Path, table: Table = TURNSTILE) -> Path:
        """The week in `parquet` as a file of this format: the file itself, or a gzip CSV beside it."""
        if self is LakeFormat.PARQUET:
            return parquet
        target = directory / f"{parquet.stem}.csv.gz"
        # zlib's level 3 is several times faster than Arrow's gzip stream for nearly the same size.
        with gzip.GzipFile(target, "wb", compresslevel=3, mtime=0) as compressed:
            for number, batch in enumerate(LakeFormat.PARQUET.batches(parquet, table=table)):
                sink = pa.BufferOutputStream()
                pv.write_csv(batch, sink, pv.WriteOptions(include_header=number == 0, quoting_style="needed"))
                compressed.write(sink.getvalue())
        return target

    def batches(self, source: Readable, columns: list[str] | None = None, table: Table = TURNSTILE) -> Iterator[pa.RecordBatch]:
        """The stored week's rows, typed as `table`, a batch at a time."""
        schema = self._schema(table, columns)
        if self is LakeFormat.PARQUET:
            # Parquet has no second-resolution timestamps; the cast brings milliseconds back to seconds.
            for batch in pq.ParquetFile(source).iter_batches(columns=columns):
                yield batch.cast(schema)
            return
        arrow_file = pa.OSFile(str(source)) if isinstance(source, Path) else pa.PythonFile(source, mode="r")
        reader = pv.open_csv(
            pa.CompressedInputStream(arrow_file, "gzip"),
            # The writer quotes text ("" for an empty string) and leaves a null as an empty cell: read back so.
            convert_options=pv.ConvertOptions(
                column_types=table.arrow_schema,
                include_columns=columns,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            yield batch.select(schema.names)

    def read_table(
        self, source: Readable, columns: list[str] | None = None, text_as_codes: bool = False, table: Table = TURNSTILE
    ) -> pa.Table:
        """The stored week (or some of its columns); with `text_as_codes`, text columns as dictionaries.

        Dictionaries are what parquet stores the text columns as: read so, they never become strings,
        and grouping on their codes costs a third of the time and memory of grouping on the text.
        """
        names = columns or list(table.column_names)
        text = [name for name in names if table.arrow_schema.field(name).type == pa.string()]
        if self is LakeFormat.PARQUET and text_as_codes:
            return pq.read_table(source, columns=names, read_dictionary=text).unify_dictionaries().combine_chunks()
        rows = pa.Table.from_batches(list(self.batches(source, columns, table)), schema=self._schema(table, columns))
        if not text_as_codes:
            return rows
        encoded = [pc.dictionary_encode(rows[name]) if name in text else rows[name] for name in names]
        return pa.table(dict(zip(names, encoded))).unify_dictionaries().combine_chunks()

    def column_names(self, source: Readable) -> list[str]:
        """The stored columns, from the parquet footer or the CSV header."""
        if self is LakeFormat.PARQUET:
            return pq.read_schema(source).names
        with gzip.open(source, "rt") as text:
            return [name.strip('"') for name in text.readline().strip().split(",")]

    def row_count(self, source: Readable, table: Table = TURNSTILE) -> int:
        if self is LakeFormat.PARQUET:
            return pq.read_metadata(source).num_rows
        return sum(batch.num_rows for batch in self.batches(source, ["week_ending"], table))

    @staticmethod
    def _schema(table: Table, columns: list[str] | None) -> pa.Schema:
        schema = table.arrow_schema
        return pa.schema([schema.field(name) for name in columns]) if columns else schema
