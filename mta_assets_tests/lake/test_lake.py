from datetime import date
from pathlib import Path

import pytest

from mta_assets.lake import GcsLakeStore, LakeFormat, LakeLocation, LakeWeek, LocalLakeStore
from mta_assets.lib.errors import ConfigurationError
from mta_assets.parsing import parse_turnstile_file

WEEK = date(2023, 6, 3)


@pytest.fixture
def parsed_week(tmp_path, week_bytes):
    path = tmp_path / "turnstile_230603.txt"
    path.write_bytes(week_bytes)
    return parse_turnstile_file(path, WEEK, 0.01)


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_both_formats_read_back_to_the_same_typed_table(parsed_week, lake_format):
    assert lake_format.deserialize(lake_format.serialize(parsed_week.table)).equals(parsed_week.table)


def test_local_writes_replace_the_object_whole_and_leave_no_temporary_files(tmp_path):
    store = LocalLakeStore(tmp_path / "lake")
    store.write("turnstile_230603.parquet", b"first")
    store.write("turnstile_230603.parquet", b"second")
    assert [path.name for path in (tmp_path / "lake").iterdir()] == ["turnstile_230603.parquet"]
    assert store.read("turnstile_230603.parquet") == b"second"


def test_a_failed_local_write_leaves_nothing_under_the_final_name(tmp_path):
    store = LocalLakeStore(tmp_path / "lake")
    (tmp_path / "lake" / "turnstile_230603.parquet").mkdir(parents=True)  # the rename target cannot be replaced
    with pytest.raises(OSError):
        store.write("turnstile_230603.parquet", b"data")
    assert [path.name for path in (tmp_path / "lake").iterdir()] == ["turnstile_230603.parquet"]
    assert not store.exists("turnstile_230603.parquet")


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_gcs_lake_round_trip(gcs_bucket, parsed_week, lake_format):
    store = LakeLocation.from_setting(f"gs://{gcs_bucket}/mta/lake").open()
    assert isinstance(store, GcsLakeStore)
    lake_week = LakeWeek(WEEK, f"turnstile_230603.{lake_format.value}", lake_format, store)
    store.write(lake_week.name, lake_format.serialize(parsed_week.table))
    assert lake_week.uri == f"gs://{gcs_bucket}/mta/lake/turnstile_230603.{lake_format.value}"
    assert lake_week.read_table().equals(parsed_week.table)
    store.delete(lake_week.name)
    store.delete(lake_week.name)  # already gone: no error
    assert not store.exists(lake_week.name)


@pytest.mark.parametrize(
    "url",
    ["gs://", "gs:/bucket/lake", "gs://Bad_Bucket/lake", "gs://a/lake", "s3://bucket/lake", "  "],
)
def test_malformed_lake_urls_name_the_setting(url):
    with pytest.raises(ConfigurationError, match="MTA_LAKE_URL"):
        LakeLocation.from_setting(url)


def test_lake_urls_that_are_accepted():
    assert LakeLocation.from_setting("gs://my-bucket") == LakeLocation("my-bucket", "")
    assert LakeLocation.from_setting("gs://my-bucket/mta/lake/") == LakeLocation("my-bucket", "mta/lake")
    assert LakeLocation.from_setting("file:///srv/lake") == LakeLocation(None, "/srv/lake")
    assert LakeLocation.from_setting("data/lake").open().root == Path("data/lake")


def test_an_unknown_lake_format_names_the_setting():
    with pytest.raises(ConfigurationError, match=r"MTA_LAKE_FORMAT='json' is not a lake format; use 'parquet'"):
        LakeFormat.from_setting("json")


def test_a_missing_bucket_names_the_setting(gcs_emulator):
    store = LakeLocation.from_setting("gs://no-such-bucket/lake").open()
    with pytest.raises(ConfigurationError, match=r"MTA_LAKE_URL points at gs://no-such-bucket, which does not exist"):
        store.write("turnstile_230603.parquet", b"data")
