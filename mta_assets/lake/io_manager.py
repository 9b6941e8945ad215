"""The lake IO manager: stores parsed weeks as lake objects, and hands stored weeks to what reads them.

The asset gives it the weeks of a run as parsed parquet files on local disk; it writes each one in the
lake's format and location, one at a time, so a run's memory does not grow with its weeks. Readers get
`LakeWeeks`: handles that read an object when asked, never all of a run's weeks at once.
"""

from collections.abc import Sequence
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext, ResourceDependency
from dagster_gcp import GCSResource
from pydantic import Field, PrivateAttr

from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.storage import DEFAULT_LAKE_URL, LakeLocation, LakeStorage
from mta_assets.lake.week import LakeWeek, rejected_lines_name
from mta_assets.parsing import ParsedWeek
from mta_assets.partitions import week_of


class WeekNotInLake(FileNotFoundError):
    """A week asked for is not in the lake."""


class LakeWeeks(dict[str, LakeWeek]):
    """Stored weeks by partition key, in week order."""


@dataclass(frozen=True)
class StoredWeek:
    lake_week: LakeWeek
    bytes: int
    rejected_lines_uri: str | None

    @property
    def metadata(self) -> dict:
        metadata = {"lake_uri": MetadataValue.path(self.lake_week.uri), "bytes_stored": self.bytes}
        if self.rejected_lines_uri:
            metadata["rejected_lines_uri"] = MetadataValue.path(self.rejected_lines_uri)
        return metadata


class LakeIOManager(ConfigurableIOManager):
    """One lake object per week, named after the MTA file, in a local folder or a GCS bucket."""

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

    def lake_week(self, week: date) -> LakeWeek:
        return LakeWeek(week, self.lake_format, self.storage())

    def store(self, parsed: ParsedWeek) -> StoredWeek:
        """Write one parsed week into the lake, with its unreadable lines beside it (or none left over)."""
        lake_week = self.lake_week(parsed.week)
        rejected = rejected_lines_name(parsed.week)
        with tempfile.TemporaryDirectory(prefix="mta-lake-") as directory:
            # The week first: if it fails, the lake keeps the earlier object and its rejected lines.
            size = lake_week.storage.publish(lake_week.format.from_parquet(parsed.path, Path(directory)), lake_week.name)
            if parsed.rejected_lines:
                lines = Path(directory) / rejected
                lines.write_text("\n".join(parsed.rejected_lines) + "\n")
                lake_week.storage.publish(lines, rejected)
            else:
                lake_week.storage.delete(rejected)  # left by an earlier run of the same week
        return StoredWeek(lake_week, size, lake_week.storage.uri(rejected) if parsed.rejected_lines else None)

    def handle_output(self, context: OutputContext, obj: Sequence[ParsedWeek]) -> None:
        stored = [self.store(parsed) for parsed in obj]
        if len(stored) == 1:
            context.add_output_metadata(stored[0].metadata)
        else:
            # Output metadata is shared by every week of a run; each week's object is named after its file.
            context.add_output_metadata(
                {
                    "lake_uri": MetadataValue.path(self.storage().uri("")),
                    "bytes_stored": sum(week.bytes for week in stored),
                }
            )

    def load_input(self, context: InputContext) -> LakeWeeks:
        weeks = LakeWeeks()
        for key in sorted(context.asset_partition_keys):
            lake_week = self.lake_week(week_of(key))
            if not lake_week.exists():
                raise WeekNotInLake(
                    f"Week {key}: {lake_week.uri} is not in the lake; materialize turnstile_lake for {key} "
                    f"first (MTA_LAKE_URL and MTA_LAKE_FORMAT must match the run that wrote it)."
                )
            weeks[key] = lake_week
        return weeks
