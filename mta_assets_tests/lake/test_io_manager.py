from dataclasses import replace
from datetime import date

import pytest
from dagster import PartitionKeyRange, build_input_context
from dagster_gcp import GCSResource

from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.io_manager import LakeIOManager, WeekNotInLake
from mta_assets.partitions import weekly_partitions


WEEK = date(2023, 6, 3)


def manager(tmp_path, lake_format: LakeFormat = LakeFormat.PARQUET) -> LakeIOManager:
    return LakeIOManager(url=str(tmp_path / "lake"), format=lake_format.value, gcs=GCSResource())


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_a_stored_week_is_what_was_parsed(parsed_week, tmp_path, lake_format):
    stored = manager(tmp_path, lake_format).store(parsed_week)
    assert stored.lake_week.name == f"turnstile_230603.{lake_format.value}"
    assert stored.bytes == (tmp_path / "lake" / stored.lake_week.name).stat().st_size
    assert stored.lake_week.row_count() == parsed_week.rows
    assert stored.rejected_lines_uri is None


def test_readers_get_handles_for_the_weeks_they_ask_for(parsed_week, tmp_path):
    lake = manager(tmp_path)
    lake.store(parsed_week)
    context = build_input_context(
        asset_key="turnstile_lake",
        asset_partitions_def=weekly_partitions,
        asset_partition_key_range=PartitionKeyRange(WEEK.isoformat(), WEEK.isoformat()),
    )
    weeks = lake.load_input(context)
    assert list(weeks) == ["2023-06-03"]
    assert weeks["2023-06-03"].read_table().num_rows == parsed_week.rows


def test_a_week_that_is_not_in_the_lake_is_named(tmp_path):
    context = build_input_context(
        asset_key="turnstile_lake",
        asset_partitions_def=weekly_partitions,
        asset_partition_key_range=PartitionKeyRange("2023-05-27", "2023-05-27"),
    )
    with pytest.raises(WeekNotInLake, match=r"Week 2023-05-27: .*turnstile_230527.parquet is not in the lake"):
        manager(tmp_path).load_input(context)


def test_a_week_that_fails_to_store_leaves_the_earlier_one_whole(parsed_week, tmp_path):
    lake = manager(tmp_path)
    earlier = lake.store(replace(parsed_week, rejected_lines=("a bad line",)))
    before = {path.name: path.read_bytes() for path in (tmp_path / "lake").iterdir()}
    parsed_week.path.unlink()  # the parsed file is gone: storing fails
    with pytest.raises(FileNotFoundError):
        lake.store(parsed_week)
    assert {path.name: path.read_bytes() for path in (tmp_path / "lake").iterdir()} == before
    assert earlier.rejected_lines_uri.endswith("turnstile_230603.rejected.txt")
