"""The lake resource: one object per week, and readers get the object the latest materialization recorded."""

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dagster import AssetMaterialization, DagsterInstance
from dagster_gcp import GCSResource

from mta_assets.lake.facts import WeekFacts, latest_facts
from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.resource import LakeResource, WeekNotInLake
from mta_assets.lake.week import TURNSTILE_OBJECTS
from mta_assets.lib.parquet import ROW_GROUP_ROWS
from mta_assets.lib.tables import TURNSTILE
from mta_assets.turnstile.parsing import ParsedWeek

WEEK = date(2023, 6, 3)
KEY = WEEK.isoformat()
LAKE = TURNSTILE_OBJECTS.asset_key


def lake_in(tmp_path, lake_format: LakeFormat = LakeFormat.PARQUET) -> LakeResource:
    return LakeResource(url=str(tmp_path / "lake"), format=lake_format.value, gcs=GCSResource())


def store(lake: LakeResource, parsed_week, instance: DagsterInstance | None = None):
    """Store the week as the asset does and, given an instance, record its facts there."""
    stored = lake.store(parsed_week, parsed_week.path.parent)
    if instance is not None:
        instance.report_runless_asset_event(AssetMaterialization(LAKE, partition=KEY, metadata=stored.metadata()))
    return stored


def lake_files(tmp_path) -> list[str]:
    return sorted(path.name for path in (tmp_path / "lake").iterdir())


def load(lake: LakeResource, instance: DagsterInstance, key: str = KEY):
    return lake.recorded_weeks(instance, TURNSTILE_OBJECTS, [key])


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_a_stored_week_is_what_was_parsed(parsed_week, tmp_path, lake_format):
    lake = lake_in(tmp_path, lake_format)
    stored, lake_week = store(lake, parsed_week), lake.lake_week(WEEK)
    assert stored.object.uri == lake_week.uri
    assert lake_week.name == f"turnstile_230603.{lake_format.value}"
    assert stored.object.bytes == (tmp_path / "lake" / lake_week.name).stat().st_size
    assert lake_week.row_count() == parsed_week.rows == stored.rows
    assert stored.object.rejected_lines_uri is None


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_a_stored_weeks_recorded_rows_and_sums_are_its_objects(tmp_path, lake_format):
    # Enough rows for the object to be read back in several batches: every batch must count.
    rows = 150_000
    counters = pa.array(range(rows), pa.int64())
    week = TURNSTILE.arrow_schema.empty_table().to_pydict() | {
        "control_area": ["A002"] * rows, "unit": ["R051"] * rows, "scp": ["02-00-00"] * rows,
        "station": ["59 ST"] * rows, "line_name": ["NQR456W"] * rows, "division": ["BMT"] * rows,
        "reading_at": [datetime(2023, 6, 1, 4)] * rows, "description": ["REGULAR"] * rows,
        "entries": counters, "exits": pc.multiply(counters, 3), "week_ending": [WEEK] * rows,
    }
    staged = ParsedWeek(WEEK, tmp_path / "turnstile_230603.parquet", rows, (), 0, None, None, ())
    pq.write_table(pa.table(week, schema=TURNSTILE.arrow_schema), staged.path, row_group_size=ROW_GROUP_ROWS)
    lake = lake_in(tmp_path, lake_format)
    stored = lake.store(staged, tmp_path)
    assert len(list(lake.lake_week(WEEK).batches(["entries"]))) > 1
    assert stored.rows == rows
    assert stored.sums == {"entries": rows * (rows - 1) // 2, "exits": 3 * rows * (rows - 1) // 2}


def test_switching_formats_leaves_one_object_per_week(parsed_week, tmp_path):
    store(lake_in(tmp_path), replace(parsed_week, rejected_lines=("a bad line",)))
    assert lake_files(tmp_path) == ["turnstile_230603.parquet", "turnstile_230603.rejected.txt"]
    store(lake_in(tmp_path, LakeFormat.CSV_GZ), parsed_week)
    assert lake_files(tmp_path) == ["turnstile_230603.csv.gz"]
    store(lake_in(tmp_path), parsed_week)
    assert lake_files(tmp_path) == ["turnstile_230603.parquet"]


def test_readers_get_the_object_the_latest_materialization_recorded(parsed_week, tmp_path):
    instance = DagsterInstance.ephemeral()
    stored = store(lake_in(tmp_path, LakeFormat.CSV_GZ), parsed_week, instance)
    # The setting changed since (parquet now): the week is still its recorded csv.gz object.
    weeks = load(lake_in(tmp_path), instance)
    assert list(weeks) == [KEY]
    assert weeks[KEY].lake_week.name == "turnstile_230603.csv.gz"
    assert weeks[KEY].lake_week.read_table().num_rows == parsed_week.rows
    assert weeks[KEY].content == stored.content
    assert latest_facts(instance, LAKE, [WEEK])[WEEK].object == stored.object


def test_a_week_never_materialized_is_named(tmp_path):
    with pytest.raises(WeekNotInLake, match=r"Week 2023-06-03: turnstile_lake has no materialization for this week"):
        load(lake_in(tmp_path), DagsterInstance.ephemeral())


def test_a_materialization_without_a_lake_object_says_to_materialize_again(tmp_path):
    instance = DagsterInstance.ephemeral()
    instance.report_runless_asset_event(AssetMaterialization(LAKE, partition=KEY, metadata=WeekFacts(rows=5, turnstiles=1).metadata()))
    with pytest.raises(WeekNotInLake, match=r"records no lake object .* stored by an earlier version of mta_assets; materialize turnstile_lake for 2023-06-03 again"):
        load(lake_in(tmp_path), instance)


def test_a_recorded_object_that_is_gone_says_to_materialize_again(parsed_week, tmp_path):
    instance = DagsterInstance.ephemeral()
    lake = lake_in(tmp_path)
    store(lake, parsed_week, instance)
    lake.lake_week(WEEK).local_path.unlink()
    with pytest.raises(WeekNotInLake, match=r"turnstile_230603.parquet, recorded by its latest turnstile_lake materialization, is gone; materialize turnstile_lake for 2023-06-03 again"):
        load(lake_in(tmp_path), instance)


def test_a_recorded_object_that_changed_is_refused(parsed_week, tmp_path):
    instance = DagsterInstance.ephemeral()
    lake = lake_in(tmp_path)
    store(lake, parsed_week, instance)
    path = lake.lake_week(WEEK).local_path
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeekNotInLake, match=r"is not the object its latest turnstile_lake materialization recorded"):
        load(lake_in(tmp_path), instance)


def test_a_recorded_object_outside_the_configured_lake_names_the_setting(parsed_week, tmp_path):
    instance = DagsterInstance.ephemeral()
    store(lake_in(tmp_path), parsed_week, instance)
    elsewhere = LakeResource(url=str(tmp_path / "another-lake"), gcs=GCSResource())
    with pytest.raises(WeekNotInLake, match=r"outside the lake MTA_LAKE_URL=.*another-lake"):
        load(elsewhere, instance)


def test_a_week_that_fails_to_store_leaves_the_earlier_one_whole(parsed_week, tmp_path):
    lake = lake_in(tmp_path)
    earlier = store(lake, replace(parsed_week, rejected_lines=("a bad line",)))
    before = {path.name: path.read_bytes() for path in (tmp_path / "lake").iterdir()}
    missing = replace(parsed_week, path=Path(tmp_path / "gone.parquet"))  # the staged file is gone: storing fails
    with pytest.raises(FileNotFoundError):
        lake.store(missing, tmp_path)
    assert {path.name: path.read_bytes() for path in (tmp_path / "lake").iterdir()} == before
    assert earlier.object.rejected_lines_uri.endswith("turnstile_230603.rejected.txt")
