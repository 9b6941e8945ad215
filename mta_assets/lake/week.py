"""A week's object in the lake: where it is, and how to read it a batch at a time."""

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
from dagster import AssetKey
from requests import RequestException

from mta_assets.asset_keys import HOURLY_RIDERSHIP_LAKE, TURNSTILE_LAKE
from mta_assets.lake.formats import LakeFormat, Readable
from mta_assets.lake.storage import LakeStorage
from mta_assets.lib.tables import HOURLY_RIDERSHIP, TURNSTILE, Table
from mta_assets.partitions import file_stem


@dataclass(frozen=True)
class LakeDataset:
    """What the lake keeps a week of: its table, how its objects are named, and the asset that stores them."""

    table: Table
    asset_key: AssetKey
    stem: Callable[[date], str]  # a week's object name without extension

    def object_name(self, week: date, lake_format: LakeFormat) -> str:
        return f"{self.stem(week)}.{lake_format.value}"

    def rejected_lines_name(self, week: date) -> str:
        """Where a week's unreadable lines are kept, beside its object."""
        return f"{self.stem(week)}.rejected.txt"


# Turnstile weeks are named after the MTA's file (turnstile_230603.parquet); hourly weeks after their
# Saturday the same way (hourly_ridership_230603.parquet), so a week's objects sort together.
TURNSTILE_OBJECTS = LakeDataset(TURNSTILE, TURNSTILE_LAKE, file_stem)
HOURLY_OBJECTS = LakeDataset(HOURLY_RIDERSHIP, HOURLY_RIDERSHIP_LAKE, lambda week: f"hourly_ridership_{week:%y%m%d}")


class LakeObjectUnreadable(ValueError):
    """A lake object that cannot be read back (truncated, corrupt, or not what its name says)."""

    @classmethod
    def of(cls, lake_week: "LakeWeek", error: BaseException) -> "LakeObjectUnreadable":
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return cls(
            f"Week {lake_week.week}: the lake object {lake_week.uri} cannot be read ({detail}); "
            f"materialize {lake_week.dataset.asset_key.to_user_string()} for {lake_week.week} again to rewrite it."
        )


# What reading a damaged parquet or gzip CSV raises: a short gzip stream, a bad deflate block, Arrow's
# errors on a bad footer or a broken CSV, and I/O errors from the storage.
_UNREADABLE = (EOFError, zlib.error, OSError, pa.ArrowException)


@dataclass(frozen=True)
class LakeWeek:
    week: date
    format: LakeFormat
    storage: LakeStorage
    dataset: LakeDataset = TURNSTILE_OBJECTS

    @property
    def name(self) -> str:
        return self.dataset.object_name(self.week, self.format)

    @property
    def uri(self) -> str:
        return self.storage.uri(self.name)

    @property
    def local_path(self) -> Path | None:
        """The object's file when the lake is a local folder, for readers that open files themselves."""
        return self.storage.local_path(self.name)

    @contextmanager
    def _source(self) -> Iterator[Readable]:
        if self.local_path is not None:
            yield self.local_path
            return
        with self.storage.open(self.name) as stream:
            yield stream

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        try:
            with self._source() as source:
                yield from self.format.batches(source, columns, self.dataset.table)
        except RequestException:
            raise  # the network failed on the way to the object, which says nothing of the object
        except _UNREADABLE as error:
            raise LakeObjectUnreadable.of(self, error) from None

    def read_table(self, columns: list[str] | None = None, text_as_codes: bool = False) -> pa.Table:
        return self._read(lambda source: self.format.read_table(source, columns, text_as_codes, self.dataset.table))

    def column_names(self) -> list[str]:
        return self._read(self.format.column_names)

    def row_count(self) -> int:
        return self._read(lambda source: self.format.row_count(source, self.dataset.table))

    def _read(self, read):
        try:
            with self._source() as source:
                return read(source)
        except RequestException:
            raise  # the network failed on the way to the object, which says nothing of the object
        except _UNREADABLE as error:
            raise LakeObjectUnreadable.of(self, error) from None
