"""The lake IO manager: one object per week, and readers get the object the latest materialization recorded."""

from dataclasses import replace
from datetime import date

import pytest
from dagster import AssetMaterialization, DagsterInstance, PartitionKeyRange, build_input_context
from dagster_gcp import GCSResource

from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.io_manager import LakeIOManager, WeekNotInLake
from mta_assets.partitions import weekly_partitions

WEEK = date(2023, 6, 3)
KEY = WEEK.isoformat()


def manager(tmp_path, lake_format: LakeFormat = LakeFormat.PARQUET) -> LakeIOManager:
    return LakeIOManager(url=str(tmp_path / "lake"), format=lake_format.value, gcs=GCSResource())


def store(lake: LakeIOManager, parsed_week, instance: DagsterInstance | None = None):
    """Publish the week as the asset does and, given an instance, record its materialization there."""
    prepared = lake.prepare(parsed_week, parsed_week.path.parent)
    lake.publish(prepared)
    if instance is not None:
        instance.report_runless_asset_event(AssetMaterialization("turnstile_lake", partition=KEY, metadata=prepared.metadata))
    return prepared


def lake_files(tmp_path) -> list[str]:
    return sorted(path.name for path in (tmp_path / "lake").iterdir())


def load(lake: LakeIOManager, instance: DagsterInstance, key: str = KEY):
    # Closed with `with`: the context opens an ephemeral instance of its own for its resources.
    with build_input_context(
        asset_key="turnstile_lake",
        asset_partitions_def=weekly_partitions,
        asset_partition_key_range=PartitionKeyRange(key, key),
        instance=instance,
    ) as context:
        return lake.load_input(context)


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_a_stored_week_is_what_was_parsed(parsed_week, tmp_path, lake_format):
    prepared = store(manager(tmp_path, lake_format), parsed_week)
    assert prepared.lake_week.name == f"turnstile_230603.{lake_format.value}"
    assert prepared.metadata["bytes_stored"] == (tmp_path / "lake" / prepared.lake_week.name).stat().st_size
    assert prepared.lake_week.row_count() == parsed_week.rows
    assert "rejected_lines_uri" not in prepared.metadata


def test_switching_formats_leaves_one_object_per_week(parsed_week, tmp_path):
    store(manager(tmp_path), replace(parsed_week, rejected_lines=("a bad line",)))
    assert lake_files(tmp_path) == ["turnstile_230603.parquet", "turnstile_230603.rejected.txt"]
    store(manager(tmp_path, LakeFormat.CSV_GZ), parsed_week)
    assert lake_files(tmp_path) == ["turnstile_230603.csv.gz"]
    store(manager(tmp_path), parsed_week)
    assert lake_files(tmp_path) == ["turnstile_230603.parquet"]


def test_readers_get_the_object_the_latest_materialization_recorded(parsed_week, tmp_path):
    instance = DagsterInstance.ephemeral()
    store(manager(tmp_path, LakeFormat.CSV_GZ), parsed_week, instance)
    # The setting changed since (parquet now): the week is still its recorded csv.gz object.
    weeks = load(manager(tmp_path), instance)
    assert list(weeks) == [KEY]
    assert weeks[KEY].name == "turnstile_230603.csv.gz"
    assert weeks[KEY].read_table().num_rows == parsed_week.rows


def test_a_week_never_materialized_is_named(tmp_path):
    with pytest.raises(WeekNotInLake, match=r"Week 2023-06-03: turnstile_lake has no materialization for this week"):
        load(manager(tmp_path), DagsterInstance.ephemeral())


def test_a_recorded_object_that_is_gone_says_to_materialize_again(parsed_week, tmp_path):
    instance = DagsterInstance.ephemeral()
    prepared = store(manager(tmp_path), parsed_week, instance)
    prepared.lake_week.local_path.unlink()
    with pytest.raises(WeekNotInLake, match=r"turnstile_230603.parquet, recorded by its latest turnstile_lake materialization, is gone; materialize turnstile_lake for 2023-06-03 again"):
        load(manager(tmp_path), instance)


def test_a_recorded_object_that_changed_is_refused(parsed_week, tmp_path):
    instance = DagsterInstance.ephemeral()
    prepared = store(manager(tmp_path), parsed_week, instance)
    path = prepared.lake_week.local_path
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeekNotInLake, match=r"is not the object its latest turnstile_lake materialization recorded"):
        load(manager(tmp_path), instance)


def test_a_recorded_object_outside_the_configured_lake_names_the_setting(parsed_week, tmp_path):
    instance = DagsterInstance.ephemeral()
    store(manager(tmp_path), parsed_week, instance)
    elsewhere = LakeIOManager(url=str(tmp_path / "another-lake"), gcs=GCSResource())
    with pytest.raises(WeekNotInLake, match=r"outside the lake MTA_LAKE_URL=.*another-lake"):
        load(elsewhere, instance)


def test_a_week_that_fails_to_store_leaves_the_earlier_one_whole(parsed_week, tmp_path):
    lake = manager(tmp_path)
    earlier = store(lake, replace(parsed_week, rejected_lines=("a bad line",)))
    before = {path.name: path.read_bytes() for path in (tmp_path / "lake").iterdir()}
    prepared = lake.prepare(parsed_week, parsed_week.path.parent)
    prepared.file.unlink()  # the prepared file is gone: publishing fails
    with pytest.raises(FileNotFoundError):
        lake.publish(prepared)
    assert {path.name: path.read_bytes() for path in (tmp_path / "lake").iterdir()} == before
    assert str(earlier.metadata["rejected_lines_uri"].value).endswith("turnstile_230603.rejected.txt")
