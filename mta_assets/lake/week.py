"""A week's object in the lake: where it is, and how to read it a batch at a time."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

from mta_assets.lake.formats import LakeFormat, Readable
from mta_assets.lake.storage import LakeStorage
from mta_assets.partitions import file_stem


def object_name(week: date, lake_format: LakeFormat) -> str:
    """The lake object of a week, named after the MTA file: turnstile_230603.parquet."""
    return f"{file_stem(week)}.{lake_format.value}"


def rejected_lines_name(week: date) -> str:
    """Where a week's unreadable lines are kept, beside its object."""
    return f"{file_stem(week)}.rejected.txt"


@dataclass(frozen=True)
class LakeWeek:
    week: date
    format: LakeFormat
    storage: LakeStorage

    @property
    def name(self) -> str:
        return object_name(self.week, self.format)

    @property
    def uri(self) -> str:
        return self.storage.uri(self.name)

    @property
    def local_path(self) -> Path | None:
        """The object's file when the lake is a local folder, for readers that open files themselves."""
        return self.storage.local_path(self.name)

    def exists(self) -> bool:
        return self.storage.exists(self.name)

    @contextmanager
    def _source(self) -> Iterator[Readable]:
        if self.local_path is not None:
            yield self.local_path
            return
        with self.storage.open(self.name) as stream:
            yield stream

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        with self._source() as source:
            yield from self.format.batches(source, columns)

    def read_table(self, columns: list[str] | None = None, text_as_codes: bool = False) -> pa.Table:
        with self._source() as source:
            return self.format.read_table(source, columns, text_as_codes)

    def column_names(self) -> list[str]:
        with self._source() as source:
            return self.format.column_names(source)

    def row_count(self) -> int:
        with self._source() as source:
            return self.format.row_count(source)
