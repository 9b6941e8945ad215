"""The lake IO manager: stores parsed weeks as lake objects, and hands stored weeks to what reads them.

The asset gives it the weeks of a run as parsed parquet files on local disk; it writes each one in the
lake's format and location, one at a time, so a run's memory does not grow with its weeks. Readers get
`LakeWeeks`: handles to the objects the latest materialization of each week recorded (name and MD5),
checked to be there and unchanged, never read before they are asked for.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from dagster import AssetRecordsFilter, ConfigurableIOManager, InputContext, MetadataValue, OutputContext, ResourceDependency
from dagster_gcp import GCSResource
from pydantic import Field, PrivateAttr

from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.storage import DEFAULT_LAKE_URL, LakeLocation, LakeStorage, file_md5
from mta_assets.lib.errors import is_disk_full
from mta_assets.lake.week import LAKE_DATASETS, TURNSTILE_OBJECTS, LakeDataset, LakeWeek


class LakeDiskFull(RuntimeError):
    """The disk under the lake folder filled up while a week was written; no partial copy is left."""


class WeekNotInLake(FileNotFoundError):
    """A week asked for is not in the lake, or not as its latest materialization recorded it."""


class LakeWeeks(dict[str, LakeWeek]):
    """Stored weeks by partition key, in week order."""


class StagedWeek(Protocol):
    """A week read from a source into a parquet file on local disk (a ParsedWeek, an HourlyWeek)."""

    week: date
    path: Path
    rejected_lines: tuple[str, ...]


@dataclass(frozen=True)
class PreparedWeek:
    """A staged week as the file its lake object will be, with that file's MD5, ready to publish."""

    parsed: StagedWeek
    lake_week: LakeWeek
    file: Path
    md5: str
    bytes: int

    @property
    def metadata(self) -> dict:
        """What the materialization records, so that readers load exactly this object."""
        metadata = {
            "lake_uri": MetadataValue.path(self.lake_week.uri),
            "lake_md5": self.md5,
            "bytes_stored": self.bytes,
        }
        if self.parsed.rejected_lines:
            lines = self.lake_week.dataset.rejected_lines_name(self.parsed.week)
            metadata["rejected_lines_uri"] = MetadataValue.path(self.lake_week.storage.uri(lines))
        return metadata


class LakeIOManager(ConfigurableIOManager):
    """One lake object per week and dataset (turnstile, hourly ridership), in a local folder or a GCS bucket."""

    url: str = Field(default=DEFAULT_LAKE_URL, description="A local folder, file:///folder or gs://bucket/prefix.")
    format: str = Field(default=LakeFormat.PARQUET.value, description="'parquet' or 'csv.gz'.")
    # dagster-gcp's client, configured as it documents (project; credentials from the environment).
    gcs: ResourceDependency[GCSResource]

    _storage: LakeStorage | None = PrivateAttr(default=None)

    @property
    def lake_format(self) -> LakeFormat:
        return LakeFormat.from_setting(self.format)

    def storage(self) -> LakeStorage:
        if self._storage is None:
            self._storage = LakeLocation.from_setting(self.url).open(self.gcs)
        return self._storage

    def lake_week(self, week: date, dataset: LakeDataset = TURNSTILE_OBJECTS) -> LakeWeek:
        return LakeWeek(week, self.lake_format, self.storage(), dataset)

    def read_beside(self, week: date, dataset: LakeDataset, suffix: str) -> str | None:
        """The text kept beside the week's object (LakeDataset.beside); None if there is none."""
        storage, name = self.storage(), dataset.beside_name(week, suffix)
        if storage.md5(name) is None:
            return None
        with storage.open(name) as text:
            return text.read().decode()

    def prepare(self, parsed: StagedWeek, directory: Path, dataset: LakeDataset = TURNSTILE_OBJECTS) -> PreparedWeek:
        """The week as its lake object's file (the staged parquet, or a csv.gz written in `directory`)."""
        lake_week = self.lake_week(parsed.week, dataset)
        file = lake_week.format.from_parquet(parsed.path, directory, dataset.table)
        return PreparedWeek(parsed, lake_week, file, file_md5(file), file.stat().st_size)

    def publish(self, prepared: PreparedWeek) -> None:
        """Write one week into the lake: its object, its unreadable lines beside it, and nothing else of it.

        The object first: if it fails, the lake keeps the earlier object and its rejected lines. Then
        the week's object in the other format and stale rejected lines go, so a week is one object.
        """
        storage, week, dataset = prepared.lake_week.storage, prepared.parsed.week, prepared.lake_week.dataset
        self._write(storage, week, prepared.file, prepared.lake_week.name)
        for other in LakeFormat:
            if other is not prepared.lake_week.format:
                storage.delete(dataset.object_name(week, other))
        rejected = dataset.rejected_lines_name(week)
        if prepared.parsed.rejected_lines:
            lines = prepared.file.with_name(rejected)
            lines.write_text("\n".join(prepared.parsed.rejected_lines) + "\n")
            self._write(storage, week, lines, rejected)
        else:
            storage.delete(rejected)  # left by an earlier run of the same week
        # After the object: a failed write leaves the earlier text, which no longer matches the source.
        for suffix, text in dataset.beside(prepared.parsed).items():
            name = dataset.beside_name(week, suffix)
            kept = prepared.file.with_name(name)
            kept.write_text(text)
            self._write(storage, week, kept, name)

    def _write(self, storage: LakeStorage, week: date, file: Path, name: str) -> None:
        """Publish one file of the week; a full disk names the week, the object and MTA_LAKE_URL."""
        try:
            storage.publish(file, name)
        except OSError as error:
            if not is_disk_full(error):
                raise
            raise LakeDiskFull(
                f"Week {week}: the disk under the lake folder is full; {storage.uri(name)} could not be written "
                f"({error.strerror or error}) and no partial copy is left. Free space there, or point MTA_LAKE_URL "
                f"at a folder on a disk with room, then materialize week {week} again.",
            ) from None  # the message quotes the cause: the run shows its innermost error

    def handle_output(self, context: OutputContext, obj: Sequence[PreparedWeek]) -> None:
        # The asset records each week's object (lake_uri, lake_md5) itself: output metadata would be
        # shared by every week of a multi-week run.
        for prepared in obj:
            self.publish(prepared)

    def load_input(self, context: InputContext) -> LakeWeeks:
        dataset = LAKE_DATASETS[context.asset_key.path[-1]]
        keys = sorted(context.asset_partition_keys)
        weeks = LakeWeeks()
        for key in keys:
            weeks[key] = self.recorded_week(context, key, dataset)
        return weeks

    def recorded_week(self, context: InputContext, key: str, dataset: LakeDataset) -> LakeWeek:
        """The object the latest materialization of the week recorded, checked to be there, unchanged."""
        records = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=context.asset_key, asset_partitions=[key]), limit=1
        ).records
        asset = dataset.asset_name
        redo = f"materialize {asset} for {key} again"
        if not records:
            raise WeekNotInLake(f"Week {key}: {asset} has no materialization for this week; {redo} first.")
        metadata = records[0].asset_materialization.metadata
        if "lake_uri" not in metadata or "lake_md5" not in metadata:
            raise WeekNotInLake(
                f"Week {key}: the latest {asset} materialization records no lake object (lake_uri, "
                f"lake_md5): it was stored by an earlier version of mta_assets; {redo}."
            )
        uri, md5 = str(metadata["lake_uri"].value), str(metadata["lake_md5"].value)
        week = date.fromisoformat(key)
        lake_week = next(
            (LakeWeek(week, lake_format, self.storage(), dataset) for lake_format in LakeFormat
             if self.storage().uri(dataset.object_name(week, lake_format)) == uri),
            None,
        )
        if lake_week is None:
            raise WeekNotInLake(
                f"Week {key}: its lake object is {uri}, outside the lake MTA_LAKE_URL={self.url!r} names now; set "
                f"MTA_LAKE_URL back, or {redo} into this lake."
            )
        found = lake_week.storage.md5(lake_week.name)
        if found is None:
            raise WeekNotInLake(f"Week {key}: {uri}, recorded by its latest {asset} materialization, is gone; {redo}.")
        if found != md5:
            raise WeekNotInLake(
                f"Week {key}: {uri} is not the object its latest {asset} materialization recorded (MD5 "
                f"{found}, recorded {md5}): a run stored it without getting to record it, or something else "
                f"wrote it; {redo}."
            )
        return lake_week
