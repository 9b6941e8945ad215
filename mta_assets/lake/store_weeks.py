"""What every lake asset does with the weeks of a run: read each from its source, store it at once.

Each week is read onto local disk and written into the lake through the lake resource before the next is
read, so a run holds one week at a time. A week that fails does not stop the others. Each stored week's
facts (mta_assets/lake/facts.py) are recorded in its own materialization: a run with failed weeks records
its stored weeks one by one (a backfill then counts them) and fails naming the others. Its warehouse step
never runs: warehouse_reconciliation_sensor (defs/warehouse_reconciliation.py) loads those weeks afterwards.
"""

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
from dagster import AssetExecutionContext, AssetMaterialization, Failure, MaterializeResult

from mta_assets.lake.facts import WeekFacts
from mta_assets.lake.resource import LakeResource, StagedWeek
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


@dataclass(frozen=True)
class WeekRead:
    """A week read from its source: the staged file, what its source said of it, what the UI shows, a log line."""

    staged: StagedWeek
    facts: WeekFacts  # the source's facts; storing adds the object's
    metadata: dict  # shown only, never read back
    summary: str


# Reads the week of a partition key into a folder.
ReadWeek = Callable[[str, Path], WeekRead]


def store_weeks(
    context: AssetExecutionContext, lake: LakeResource, dataset: LakeDataset, read_week: ReadWeek
) -> Iterator[MaterializeResult | AssetMaterialization]:
    """Each week of the run read with `read_week` and stored, each materialization recording its week's facts
    (its lake object among them: what the warehouse loads)."""
    # A lake that cannot be written fails the run before anything is downloaded.
    lake.check_writable()
    # Downloads and conversions go to a scratch folder; one left by a killed run is removed here.
    with scratch_directory("mta-weeks-") as directory:
        metadata: dict[str, dict] = {}
        failures: list[str] = []
        for key in context.partition_keys:
            folder = directory / key  # the week's files, removed once it is stored
            folder.mkdir()
            try:
                with scratch_space(key, directory):
                    read = read_week(key, folder)
            except WeekFailed as failure:
                context.log.error(str(failure))
                failures.append(str(failure))
                continue
            context.log.info(f"Week {key}: {read.summary}")
            with scratch_space(key, directory):
                stored = lake.store(read.staged, folder, dataset)
            facts = replace(read.facts, object=stored.object, rows=stored.rows, sums=stored.sums)
            metadata[key] = {**read.metadata, **facts.metadata()}
            shutil.rmtree(folder)
            # The week's parse freed its memory into the C heap (Arrow's and DuckDB's): hand it back to the
            # system, so that it does not lie under the next week's and the checks' peaks.
            pa.default_memory_pool().release_unused()

        if not failures:
            for key, recorded in metadata.items():
                context.add_asset_metadata(recorded, partition_key=key)
            yield MaterializeResult()
            return

        for key, recorded in metadata.items():
            yield AssetMaterialization(context.asset_key, partition=key, metadata=recorded)
        raise Failure(
            description=failures[0]
            if len(failures) == 1
            else f"{len(failures)} of {len(context.partition_keys)} weeks failed ({len(metadata)} stored):\n" + "\n".join(failures)
        )
