from pathlib import Path

import pytest
from dagster_gcp import GCSResource

from mta_assets.lake.storage import GcsLakeStorage, LakeLocation, LocalLakeStorage
from mta_assets.lib.errors import ConfigurationError


def a_file(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / f"source-{len(content)}"
    path.write_bytes(content)
    return path


def test_local_publishing_replaces_the_object_whole_and_leaves_no_temporary_files(tmp_path):
    storage = LocalLakeStorage(tmp_path / "lake")
    storage.publish(a_file(tmp_path, b"first"), "turnstile_230603.parquet")
    storage.publish(a_file(tmp_path, b"second!"), "turnstile_230603.parquet")
    assert [path.name for path in (tmp_path / "lake").iterdir()] == ["turnstile_230603.parquet"]
    with storage.open("turnstile_230603.parquet") as stored:
        assert stored.read() == b"second!"


def test_a_failed_local_publish_leaves_nothing_under_the_final_name(tmp_path):
    storage = LocalLakeStorage(tmp_path / "lake")
    (tmp_path / "lake" / "turnstile_230603.parquet").mkdir(parents=True)  # the rename target cannot be replaced
    with pytest.raises(IsADirectoryError):
        storage.publish(a_file(tmp_path, b"data"), "turnstile_230603.parquet")
    assert [path.name for path in (tmp_path / "lake").iterdir()] == ["turnstile_230603.parquet"]
    assert storage.md5("turnstile_230603.parquet") is None


@pytest.mark.slow
def test_gcs_round_trip_through_dagster_gcp(gcs_bucket, tmp_path):
    storage = LakeLocation.from_setting(f"gs://{gcs_bucket}/mta/lake").open(GCSResource())
    assert isinstance(storage, GcsLakeStorage)
    storage.publish(a_file(tmp_path, b"week"), "turnstile_230603.parquet")
    assert storage.uri("turnstile_230603.parquet") == f"gs://{gcs_bucket}/mta/lake/turnstile_230603.parquet"
    with storage.open("turnstile_230603.parquet") as stored:
        assert stored.read() == b"week"
    storage.delete("turnstile_230603.parquet")
    storage.delete("turnstile_230603.parquet")  # already gone: no error
    assert storage.md5("turnstile_230603.parquet") is None


@pytest.mark.slow
def test_a_missing_bucket_names_the_setting(gcs_emulator, tmp_path):
    storage = LakeLocation.from_setting("gs://no-such-bucket/lake").open(GCSResource())
    with pytest.raises(ConfigurationError, match=r"MTA_LAKE_URL points at gs://no-such-bucket, which does not exist"):
        storage.publish(a_file(tmp_path, b"data"), "turnstile_230603.parquet")


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
    assert LakeLocation.from_setting("data/lake").open(GCSResource()).root == Path("data/lake")
