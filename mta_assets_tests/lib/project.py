"""One test's mirror, lake folder and DuckDB file, and a way to run weeks through them as Dagster does."""

from datetime import date
from pathlib import Path

from dagster import DagsterInstance, ExecuteInProcessResult, materialize
from dagster_gcp import GCSResource

from mta_assets.defs.alerts import root_message
from mta_assets.defs.turnstile_lake_checks import lake_checks
from mta_assets.defs.turnstile_lake import turnstile_lake
from mta_assets.defs.turnstile_warehouse import turnstile_warehouse
from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.resource import LakeResource, RecordedWeek
from mta_assets.turnstile.parsing import ParsedWeek
from mta_assets.turnstile.open_data import OpenDataTurnstileSource
from mta_assets.turnstile.files import MtaTurnstileSource
from mta_assets.turnstile.sources import TurnstileSources
from mta_assets.warehouse import DuckDBWarehouse
from loopback.turnstile_files import week_file

# What `turnstile_job` runs: the lake week, its checks, and the warehouse week.
LAKE_AND_WAREHOUSE = [turnstile_lake, lake_checks, turnstile_warehouse]
# The floor the tests' small generated weeks are held to when no week around them is stored.
GENERATED_WEEK_MIN_DEVICES = 10
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def lake_resource(folder: Path, lake_format: LakeFormat = LakeFormat.PARQUET) -> LakeResource:
    return LakeResource(url=str(folder), format=lake_format.value, gcs=GCSResource())


def stored(lake: LakeResource, parsed: ParsedWeek) -> RecordedWeek:
    """The parsed week stored in the lake as the asset stores it (converted beside the parsed file), as a
    reader gets it."""
    return RecordedWeek(lake.lake_week(parsed.week), lake.store(parsed, parsed.path.parent).content)


def failure_message(result: ExecuteInProcessResult) -> str:
    (failure,) = result.get_step_failure_events()
    data = failure.step_failure_data
    return data.user_failure_data.description if data.user_failure_data else root_message(data.error)


class Project:
    """A mirror serving `weeks`, a lake folder and a DuckDB file under tmp_path, and one instance."""

    def __init__(
        self,
        mirror,
        tmp_path: Path,
        lake_format: LakeFormat = LakeFormat.PARQUET,
        weeks=("2023-05-27", "2023-06-03"),
        min_devices: int = GENERATED_WEEK_MIN_DEVICES,
        accept_short_weeks: list[str] = (),
    ):
        self.mirror = mirror
        self.lake = tmp_path / "lake"
        self.format = lake_format
        self.warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
        self.instance = DagsterInstance.ephemeral()
        # The MTA's files only, unless a test adds NY Open Data (a SODA-like server) after them.
        self.sources = ["files"]
        self.open_data_url = "http://127.0.0.1:9"
        self.min_devices, self.accept_short_weeks = min_devices, list(accept_short_weeks)
        for key in weeks:
            self.publish(key, turnstile_count=25)

    def publish(self, key: str, **shape) -> bytes:
        week = date.fromisoformat(key)
        data = self.mirror.files[f"turnstile_{week:%y%m%d}.txt"] = week_file(week, crlf=True, **shape)
        return data

    def resources(self) -> dict:
        return {
            "sources": TurnstileSources(
                order=self.sources,
                # Generated weeks hold tens of turnstiles, not thousands: a week is judged against its
                # stored neighbours, or else against this floor.
                min_devices=self.min_devices,
                accept_short_weeks=self.accept_short_weeks,
                files=MtaTurnstileSource(base_url=self.mirror.url, backoff_seconds=0.01, max_attempts=2),
                open_data=OpenDataTurnstileSource(base_url=self.open_data_url, backoff_seconds=0.01, max_attempts=2),
            ),
            "lake": lake_resource(self.lake, self.format),
            "warehouse": self.warehouse,
        }

    def run(self, key: str, assets=LAKE_AND_WAREHOUSE, selection=None) -> ExecuteInProcessResult:
        return materialize(
            assets, partition_key=key, instance=self.instance, raise_on_error=False, resources=self.resources(), selection=selection
        )

    def run_range(self, first: str, last: str) -> ExecuteInProcessResult:
        """One run over several weeks, as a backfill launches it (BackfillPolicy.multi_run)."""
        return materialize(
            LAKE_AND_WAREHOUSE,
            instance=self.instance,
            raise_on_error=False,
            tags={RANGE_START: first, RANGE_END: last},
            resources=self.resources(),
        )

    def lake_files(self) -> list[str]:
        return sorted(path.name for path in self.lake.iterdir()) if self.lake.exists() else []

    def rows(self, key: str) -> int:
        return self.warehouse.week_row_counts([date.fromisoformat(key)])[date.fromisoformat(key)]
