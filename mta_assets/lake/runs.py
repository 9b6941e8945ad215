"""What every lake asset does with the weeks of a run: read each from its source, store what was read.

Weeks are read one at a time onto local disk and handed to the lake IO manager, so a run holds one week
at a time. A week that fails does not stop the others. Dagster records one output for all of a run's
weeks, so a run with failed weeks publishes the rest through the lake IO manager itself, records them
one by one (a backfill then counts them), and fails naming the others. Its warehouse step never runs:
warehouse_reconciliation_sensor (defs/warehouse_reconciliation.py) loads those weeks afterwards.
"""

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import AssetExecutionContext, AssetMaterialization, Failure, Output

from mta_assets.lake.io_manager import LakeIOManager, PreparedWeek, StagedWeek
from mta_assets.lake.week import LakeDataset
from mta_assets.lib.errors import is_disk_full
from mta_assets.lib.leftovers import scratch_directory


class WeekFailed(Exception):
    """A week could not be read from its source; the message names the week and says what to do."""


class ScratchDiskFull(RuntimeError):
    """The disk under TMPDIR filled up while a week was downloaded or converted."""


@contextmanager
def scratch_space(key: str, directory: Path) -> Iterator[None]:
    """A full disk under the scratch folder, as a message naming the week and TMPDIR (the folder is removed
    when the run's weeks are done; a full disk fails every later week too, so the run stops here)."""
    try:
        yield
    except Exception as error:
        if not is_disk_full(error):
            raise
        raise ScratchDiskFull(
            f"Week {key}: the disk under the scratch folder {directory} (TMPDIR={tempfile.gettempdir()}) is full "
            f"({error}). Free space there, or point TMPDIR at a folder on a disk with room, then materialize "
            f"week {key} again."
        ) from None  # the message quotes the cause: the run shows its innermost error


# Reads the week of a partition key into a folder: the staged week, its metadata, and a line for the log.
ReadWeek = Callable[[str, Path], tuple[StagedWeek, dict, str]]


def store_weeks(
    context: AssetExecutionContext, lake_io_manager: LakeIOManager, dataset: LakeDataset, read_week: ReadWeek
) -> Iterator[Output | AssetMaterialization]:
    """Each week of the run read with `read_week` and stored, each with its own materialization metadata.

    Each week's metadata includes its lake object (lake_uri, lake_md5): what the warehouse loads.
    """
    # A lake that cannot be written fails the run before anything is downloaded.
    lake_io_manager.storage().check_writable()
    # Downloads and conversions go to a scratch folder; one left by a killed run is removed here.
    with scratch_directory("mta-weeks-") as directory:
        prepared: list[PreparedWeek] = []
        metadata: dict[str, dict] = {}
        failures: list[str] = []
        for key in context.partition_keys:
            try:
                with scratch_space(key, directory):
                    week, metadata[key], summary = read_week(key, directory)
            except WeekFailed as failure:
                context.log.error(str(failure))
                failures.append(str(failure))
                continue
            context.log.info(f"Week {key}: {summary}")
            with scratch_space(key, directory):
                prepared.append(lake_io_manager.prepare(week, directory, dataset))
            metadata[key].update(prepared[-1].metadata)

        if not failures:
            for week in prepared:
                key = week.parsed.week.isoformat()
                context.add_asset_metadata(metadata[key], partition_key=key)
            yield Output(prepared)
            return

        for week in prepared:
            lake_io_manager.publish(week)
            key = week.parsed.week.isoformat()
            yield AssetMaterialization(context.asset_key, partition=key, metadata=metadata[key])
        raise Failure(
            description=failures[0]
            if len(failures) == 1
            else f"{len(failures)} of {len(context.partition_keys)} weeks failed ({len(prepared)} stored):\n" + "\n".join(failures)
        )
