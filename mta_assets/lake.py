"""The data lake: one object per week under MTA_LAKE_URL (a local folder or gs://bucket/prefix).

The IO manager stores each parsed week as `turnstile_YYMMDD.parquet` or `.csv.gz`, with the lines that
could not be parsed beside it as `turnstile_YYMMDD.rejected.txt`. Objects appear whole or not at all:
local files are written under a temporary name and renamed; a GCS object exists only once its upload
is complete.
"""

import gzip
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
from dagster import AssetMaterialization, ConfigurableIOManager, Failure, InputContext, MetadataValue, OutputContext
from pydantic import Field, PrivateAttr

from mta_assets.lib.errors import ConfigurationError
from mta_assets.lib.turnstile_table import ARROW_SCHEMA
from mta_assets.parsing import ParsedWeek
from mta_assets.partitions import file_stem, week_of

DEFAULT_LAKE_URL = "data/lake"
# Names, codes and the week repeat on every line; times and counters rarely do, and trying a dictionary
# on them costs more than the rest of the parquet write.
_DICTIONARY_COLUMNS = [field.name for field in ARROW_SCHEMA if field.type in (pa.string(), pa.date32())]
# Bucket names: 3-63 characters of lowercase letters, digits, dashes, underscores and dots.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")


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

    def serialize(self, table: pa.Table) -> bytes:
        sink = pa.BufferOutputStream()
        if self is LakeFormat.PARQUET:
            pq.write_table(table, sink, compression="snappy", use_dictionary=_DICTIONARY_COLUMNS)
            return sink.getvalue().to_pybytes()
        pv.write_csv(table, sink, pv.WriteOptions(quoting_style="needed"))
        # zlib's level 3 is several times faster than Arrow's gzip stream for nearly the same size.
        return gzip.compress(sink.getvalue().to_pybytes(), compresslevel=3, mtime=0)

    def deserialize(self, data: bytes) -> pa.Table:
        if self is LakeFormat.PARQUET:
            # Parquet has no second-resolution timestamps; the cast brings milliseconds back to seconds.
            return pq.read_table(pa.BufferReader(data)).cast(ARROW_SCHEMA)
        return pv.read_csv(
            pa.BufferReader(gzip.decompress(data)), convert_options=pv.ConvertOptions(column_types=ARROW_SCHEMA)
        ).select(ARROW_SCHEMA.names)


class LakeStore(Protocol):
    """Whole-object storage under one folder or bucket prefix."""

    def uri(self, name: str) -> str: ...
    def write(self, name: str, data: bytes) -> None: ...
    def read(self, name: str) -> bytes: ...
    def delete(self, name: str) -> None: ...
    def exists(self, name: str) -> bool: ...
    def local_path(self, name: str) -> Path | None: ...


class LocalLakeStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def uri(self, name: str) -> str:
        return str((self.root / name).absolute())

    def write(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # A hidden temporary name in the same folder, then an atomic rename over the final name.
        descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=self.root)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, 0o644)  # mkstemp creates 0600; lake objects are for every reader
            os.replace(temporary, self.root / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def local_path(self, name: str) -> Path | None:
        return self.root / name


class GcsLakeStore:
    def __init__(self, bucket: str, prefix: str) -> None:
        from google.cloud import storage  # imported here so a local lake never loads the GCS client

        self.bucket_name = bucket
        self.prefix = prefix
        self._bucket = storage.Client().bucket(bucket)

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def uri(self, name: str) -> str:
        return f"gs://{self.bucket_name}/{self._key(name)}"

    def write(self, name: str, data: bytes) -> None:
        from google.api_core.exceptions import NotFound

        # A GCS object becomes visible only when its upload completes, so no reader sees part of it.
        try:
            self._bucket.blob(self._key(name)).upload_from_string(data, content_type="application/octet-stream")
        except NotFound:
            if self._bucket.exists():
                raise
            raise ConfigurationError(
                f"MTA_LAKE_URL points at gs://{self.bucket_name}, which does not exist: create the bucket "
                f"(gcloud storage buckets create gs://{self.bucket_name}) or fix MTA_LAKE_URL."
            ) from None

    def read(self, name: str) -> bytes:
        return self._bucket.blob(self._key(name)).download_as_bytes()

    def delete(self, name: str) -> None:
        from google.api_core.exceptions import NotFound

        try:
            self._bucket.blob(self._key(name)).delete()
        except NotFound:
            pass  # deleting what is already gone is the goal

    def exists(self, name: str) -> bool:
        return self._bucket.blob(self._key(name)).exists()

    def local_path(self, name: str) -> Path | None:
        return None


@dataclass(frozen=True)
class LakeLocation:
    """Where the lake is, parsed and checked from MTA_LAKE_URL."""

    bucket: str | None
    path: str

    @classmethod
    def from_setting(cls, url: str) -> "LakeLocation":
        url = url.strip()
        if not url:
            raise ConfigurationError("MTA_LAKE_URL is empty; unset it for the local lake (data/lake) or set a folder or gs:// URL.")
        if url.startswith("gs:"):
            match = re.match(r"^gs://([^/]+)(?:/(.*))?$", url)
            if not match or not _BUCKET.match(match.group(1)):
                raise ConfigurationError(
                    f"MTA_LAKE_URL={url!r} is not a valid gs:// URL; write it as gs://BUCKET or "
                    f"gs://BUCKET/PREFIX, with a bucket name of 3-63 lowercase letters, digits, dots, "
                    f"dashes or underscores."
                )
            return cls(bucket=match.group(1), path=(match.group(2) or "").strip("/"))
        if "://" in url and not url.startswith("file://"):
            raise ConfigurationError(
                f"MTA_LAKE_URL={url!r} uses a scheme the lake does not support; use a local folder, "
                f"file:///folder or gs://bucket/prefix."
            )
        return cls(bucket=None, path=url.removeprefix("file://"))

    def open(self) -> LakeStore:
        if self.bucket is not None:
            return GcsLakeStore(self.bucket, self.path)
        return LocalLakeStore(Path(self.path))


@dataclass(frozen=True)
class LakeWeek:
    """A week's object in the lake: where it is, and how to read it."""

    week: date
    name: str
    format: LakeFormat
    store: LakeStore

    @property
    def uri(self) -> str:
        return self.store.uri(self.name)

    @property
    def local_path(self) -> Path | None:
        """The object's file when the lake is a local folder, for readers that open files themselves."""
        return self.store.local_path(self.name)

    def read_bytes(self) -> bytes:
        return self.store.read(self.name)

    def read_table(self) -> pa.Table:
        return self.format.deserialize(self.read_bytes())

    def _parquet_source(self):
        return self.local_path if self.local_path else pa.BufferReader(self.read_bytes())

    def column_names(self) -> list[str]:
        """The stored object's columns, read from the parquet footer or the CSV header."""
        if self.format is LakeFormat.PARQUET:
            return pq.read_schema(self._parquet_source()).names
        with gzip.open(io.BytesIO(self.read_bytes()), "rt") as text:
            return [name.strip('"') for name in text.readline().strip().split(",")]

    def row_count(self) -> int:
        if self.format is LakeFormat.PARQUET:
            return pq.read_metadata(self._parquet_source()).num_rows
        return self.read_table().num_rows


class WeekFailed(Exception):
    """A week could not be produced; the message names the week and says what to do."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class WeekBatch:
    """The weeks of one run, produced one at a time while the IO manager stores them.

    However many weeks a run covers, one is in memory at a time. `produce` returns a week's parsed rows
    and its materialization metadata, or raises WeekFailed.
    """

    keys: Sequence[str]
    produce: Callable[[str], tuple[ParsedWeek, dict]]
    # Filled by the IO manager: the lake object of each week it stored, for checks on what was stored.
    stored: dict[str, "LakeWeek"] = field(default_factory=dict)

    def __iter__(self) -> Iterator[tuple[str, tuple[ParsedWeek, dict] | WeekFailed]]:
        for key in self.keys:
            try:
                yield key, self.produce(key)
            except WeekFailed as failure:
                yield key, failure


class LakeWeeks(dict):
    """Lake objects by partition key: what a downstream asset gets when it annotates its input so."""


class LakeIOManager(ConfigurableIOManager):
    """Stores each week of an asset as its own lake object, named after the MTA file."""

    url: str = Field(default=DEFAULT_LAKE_URL, description="A local folder, file:///folder or gs://bucket/prefix.")
    format: str = Field(default=LakeFormat.PARQUET.value, description="'parquet' or 'csv.gz'.")

    _store: LakeStore = PrivateAttr()
    _format: LakeFormat = PrivateAttr()

    def setup_for_execution(self, context) -> None:
        self._format = LakeFormat.from_setting(self.format)
        self._store = LakeLocation.from_setting(self.url).open()

    def lake_week(self, week: date) -> LakeWeek:
        return LakeWeek(week, f"{file_stem(week)}.{self._format.value}", self._format, self._store)

    def handle_output(self, context: OutputContext, obj: WeekBatch) -> Iterator[dict]:
        """Store each week as it is produced; weeks that fail do not stop the others.

        When some weeks of a run fail, the stored ones are recorded as materialized (so a backfill counts
        them and the warehouse follows them) and the step fails naming the others.
        """
        stored: dict[str, dict] = {}
        failures: list[WeekFailed] = []
        for key, outcome in obj:
            if isinstance(outcome, WeekFailed):
                context.log.error(str(outcome))
                failures.append(outcome)
                continue
            parsed, metadata = outcome
            stored[key] = {**metadata, **self._store_week(parsed)}
            obj.stored[key] = self.lake_week(parsed.week)
            context.step_context.add_asset_metadata(stored[key], asset_key=context.asset_key, partition_key=key)
        if not failures:
            return
        if stored:
            for key, metadata in stored.items():
                context.log_event(AssetMaterialization(asset_key=context.asset_key, partition=key, metadata=metadata))
            # Logged events reach the event log when handle_output next yields; an empty metadata dict
            # is the one value that flushes them without adding anything.
            yield {}
        message = str(failures[0]) if len(failures) == 1 else (
            f"{len(failures)} of {len(obj.keys)} weeks failed ({len(stored)} stored):\n"
            + "\n".join(str(failure) for failure in failures)
        )
        raise Failure(description=message, allow_retries=any(failure.retryable for failure in failures))

    def _store_week(self, parsed: ParsedWeek) -> dict:
        target = self.lake_week(parsed.week)
        rejected_name = f"{file_stem(parsed.week)}.rejected.txt"
        data = self._format.serialize(parsed.table)
        if parsed.rejected_lines:
            self._store.write(rejected_name, ("\n".join(parsed.rejected_lines) + "\n").encode())
        try:
            self._store.write(target.name, data)
        except BaseException:
            if parsed.rejected_lines:
                self._store.delete(rejected_name)
            raise
        if not parsed.rejected_lines:
            self._store.delete(rejected_name)  # left by an earlier run of the same week
        metadata = {"lake_uri": MetadataValue.path(target.uri), "bytes_stored": len(data)}
        if parsed.rejected_lines:
            metadata["rejected_lines_uri"] = MetadataValue.path(self._store.uri(rejected_name))
        return metadata

    def load_input(self, context: InputContext) -> pa.Table | dict[str, pa.Table] | LakeWeeks:
        """Tables (one, or by partition key); lake object handles when the input is annotated `LakeWeeks`."""
        weeks = LakeWeeks()
        for key in context.asset_partition_keys:
            lake_week = self.lake_week(week_of(key))
            if not lake_week.store.exists(lake_week.name):
                raise FileNotFoundError(
                    f"Week {key}: {lake_week.uri} is not in the lake; materialize turnstile_lake for {key} "
                    f"first (MTA_LAKE_URL and MTA_LAKE_FORMAT must match the run that wrote it)."
                )
            weeks[key] = lake_week
        if context.dagster_type.typing_type is LakeWeeks:
            return weeks
        tables = {key: lake_week.read_table() for key, lake_week in weeks.items()}
        return next(iter(tables.values())) if len(tables) == 1 else tables
