"""The lake resource: what lake assets store weeks through, and what readers ask for the stored weeks.

A week is written as its lake object the moment it is read (the staged parquet, or a csv.gz written from
it), with the object's name, MD5, size, rows and count-column sums as the facts its materialization
records. Readers get `RecordedWeeks`: handles to the objects the latest materialization of each week recorded,
checked to be there, unchanged and inside the configured lake, never read before they are asked for.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import pyarrow.compute as pc
from dagster import ConfigurableResource, DagsterInstance, ResourceDependency
from dagster_gcp import GCSResource
from pydantic import Field, PrivateAttr

from mta_assets.lake.facts import LakeObject, WeekContent, WeekFacts, latest_facts
from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.storage import DEFAULT_LAKE_URL, LakeLocation, LakeStorage, file_md5
from mta_assets.lake.week import TURNSTILE_OBJECTS, LakeDataset, LakeWeek
from mta_assets.lib.errors import is_disk_full
from mta_assets.lib.tables import Table


class LakeDiskFull(RuntimeError):
    """The disk under the lake folder filled up while a week was written; no partial copy is left."""


class WeekNotInLake(FileNotFoundError):
    """A week asked for is not in the lake, or not as its latest materialization recorded it."""


@dataclass(frozen=True)
class RecordedWeek:
    """A stored week as its latest materialization recorded it: the object, and its rows and sums then."""

    lake_week: LakeWeek
    content: WeekContent


class RecordedWeeks(dict[str, RecordedWeek]):
    """Stored weeks by partition key, in week order."""

    def lake_weeks(self) -> list[LakeWeek]:
        return [recorded.lake_week for recorded in self.values()]


class StagedWeek(Protocol):
    """A week read from a source into a parquet file on local disk (a ParsedWeek, an HourlyWeek)."""

    week: date
    path: Path
    rejected_lines: tuple[str, ...]


def _content(lake_format: LakeFormat, file: Path, table: Table) -> WeekContent:
    """The rows of `file` and the sum of each of its count columns."""
    rows, sums = 0, dict.fromkeys(table.count_columns, 0)
    for batch in lake_format.batches(file, table.count_columns, table):
        rows += batch.num_rows
        for column in sums:
            sums[column] += pc.sum(batch[column]).as_py() or 0
    return WeekContent(rows, sums)


class LakeResource(ConfigurableResource):
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

    def check_writable(self) -> None:
        """ConfigurationError naming MTA_LAKE_URL unless the lake can be written."""
        self.storage().check_writable()

    def store(self, staged: StagedWeek, directory: Path, dataset: LakeDataset = TURNSTILE_OBJECTS) -> WeekFacts:
        """Write one week into the lake: its object, its unreadable lines beside it, and nothing else of it.

        The object is the staged parquet, or a csv.gz written from it in `directory`; its rows and sums are
        read from that file, the very bytes stored, a batch of its count columns at a time (read whole, a
        week's held 14-19 MB). The object first: if it fails, the lake keeps the earlier object and its
        rejected lines. Then the week's object in the other format and stale rejected lines
        go, so a week is one object. Returns the facts of the stored object: it, its rows and its sums.
        """
        lake_week = self.lake_week(staged.week, dataset)
        file = lake_week.format.from_parquet(staged.path, directory, dataset.table)
        content = _content(lake_week.format, file, dataset.table)
        md5, size = file_md5(file), file.stat().st_size
        storage, week = lake_week.storage, staged.week
        self._write(storage, week, file, lake_week.name)
        for other in LakeFormat:
            if other is not lake_week.format:
                storage.delete(dataset.object_name(week, other))
        rejected = dataset.rejected_lines_name(week)
        if staged.rejected_lines:
            lines = file.with_name(rejected)
            lines.write_text("\n".join(staged.rejected_lines) + "\n")
            self._write(storage, week, lines, rejected)
        else:
            storage.delete(rejected)  # left by an earlier run of the same week
        rejected_uri = storage.uri(rejected) if staged.rejected_lines else None
        return WeekFacts(
            object=LakeObject(lake_week.uri, md5, size, rejected_uri),
            rows=content.rows,
            sums=content.sums,
        )

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

    def recorded_weeks(
        self, instance: DagsterInstance, dataset: LakeDataset, partition_keys: Sequence[str], unchanged: bool = True
    ) -> RecordedWeeks:
        """The objects the latest materializations of the weeks recorded, each checked to be there, inside this
        lake and, if `unchanged`, with its recorded MD5; with the rows and sums recorded when they were stored.

        The lake checks take the objects changed or not: they judge what an object holds now, and a changed
        one is what they are there to catch; the warehouse loads only an object as it was recorded.
        """
        keys = sorted(partition_keys)
        facts = latest_facts(instance, dataset.asset_key, [date.fromisoformat(key) for key in keys])
        return RecordedWeeks({key: self._recorded_week(key, dataset, facts.get(date.fromisoformat(key)), unchanged) for key in keys})

    def _recorded_week(self, key: str, dataset: LakeDataset, facts: WeekFacts | None, unchanged: bool) -> RecordedWeek:
        asset = dataset.asset_key.to_user_string()
        redo = f"materialize {asset} for {key} again"
        if facts is None:
            raise WeekNotInLake(f"Week {key}: {asset} has no materialization for this week; {redo} first.")
        if facts.object is None or facts.content is None:
            raise WeekNotInLake(
                f"Week {key}: the latest {asset} materialization records no lake object (its URI, MD5 and "
                f"count sums): it was stored by an earlier version of mta_assets; {redo}."
            )
        uri, md5 = facts.object.uri, facts.object.md5
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
        if unchanged and found != md5:
            raise WeekNotInLake(
                f"Week {key}: {uri} is not the object its latest {asset} materialization recorded (MD5 "
                f"{found}, recorded {md5}): a run stored it without getting to record it, or something else "
                f"wrote it; {redo}."
            )
        return RecordedWeek(lake_week, facts.content)
