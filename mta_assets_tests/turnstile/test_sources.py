"""MTA_SOURCES through the assets: each week from the first source that has it, the same rows either way."""

import re
from datetime import date

import pytest

from loopback.http_mirror import Misbehaviour
from loopback.soda_server import SodaMisbehaviour, turnstile_rows
from mta_assets.lib.errors import ConfigurationError
from mta_assets.settings import sources_from_env
from mta_assets_tests.lib.project import Project, failure_message

KEY, WEEK = "2017-06-17", date(2017, 6, 17)
NAME, DATASET_2017 = "turnstile_170617.txt", "v5y5-mwpb"


def both_sources(mirror, soda, tmp_path) -> tuple[Project, bytes]:
    """A project reading the MTA's files first, then NY Open Data, both holding the same week."""
    project = Project(mirror, tmp_path, weeks=())
    project.sources, project.open_data_url = ["files", "open-data"], soda.url
    data = project.publish(KEY, turnstile_count=25)
    soda.datasets[DATASET_2017] = turnstile_rows(data.decode().splitlines()[1:])
    return project, data


def warehouse_rows(project: Project) -> list[tuple]:
    return project.warehouse.query(
        f"SELECT * FROM mta.turnstile WHERE week_ending = DATE '{KEY}' ORDER BY control_area, unit, scp, reading_at, description"
    )


def lake_metadata(result) -> dict:
    (event,) = result.asset_materializations_for_node("turnstile_lake")
    return event.metadata


def test_a_week_the_files_do_not_have_comes_from_open_data_with_the_same_rows(mirror, soda, tmp_path):
    from_files, data = both_sources(mirror, soda, tmp_path / "files")
    assert from_files.run(KEY).success
    from_open_data, _ = both_sources(mirror, soda, tmp_path / "open-data")
    mirror.misbehaviours[NAME] = Misbehaviour(status=404)
    result = from_open_data.run(KEY)
    assert result.success
    assert warehouse_rows(from_open_data) == warehouse_rows(from_files)
    assert len(warehouse_rows(from_open_data)) == data.count(b"\n") - 1
    metadata = lake_metadata(result)
    assert metadata["source"].value == "open-data"
    assert metadata["open_data_datasets"].value == DATASET_2017
    assert all(f"/resource/{DATASET_2017}.csv" in url for url in metadata["source_urls"].value)


def test_a_week_the_files_have_is_read_from_the_files(mirror, soda, tmp_path):
    project, _ = both_sources(mirror, soda, tmp_path)
    result = project.run(KEY)
    assert result.success
    assert lake_metadata(result)["source"].value == "files"
    assert soda.requests == []


def test_a_web_page_from_the_files_moves_on_and_open_data_down_fails_the_week_naming_both(mirror, soda, tmp_path):
    project, _ = both_sources(mirror, soda, tmp_path)
    mirror.misbehaviours[NAME] = Misbehaviour(body=b"<html>Maintenance</html>", content_type="text/html")
    soda.misbehaviours[DATASET_2017] = SodaMisbehaviour(answer=(503, {"message": "Service unavailable"}))
    result = project.run(KEY)
    assert not result.success
    message = failure_message(result)
    assert re.search(rf"Week {KEY}: NY Open Data dataset {DATASET_2017}, rows from 0: .* failed 2 attempts; last error: HTTP 503", message)
    assert re.search(rf"Asked because the earlier sources did not have the week:\nfiles: Week {KEY}: .*{NAME} answered with a web page", message)
    assert project.lake_files() == [] and project.rows(KEY) == 0


def test_a_source_that_is_down_fails_the_week_without_trying_the_next(mirror, soda, tmp_path):
    project, _ = both_sources(mirror, soda, tmp_path)
    mirror.misbehaviours[NAME] = Misbehaviour(status=503)
    result = project.run(KEY)
    assert not result.success
    assert re.search(rf"Week {KEY}: .*{NAME} failed 2 times; last error: HTTP 503", failure_message(result))
    assert soda.requests == []


def test_a_week_in_no_source_says_what_each_answered(mirror, soda, tmp_path):
    project, _ = both_sources(mirror, soda, tmp_path)
    mirror.misbehaviours[NAME] = Misbehaviour(status=404)
    soda.datasets.pop(DATASET_2017)
    result = project.run(KEY)
    assert not result.success
    message = failure_message(result)
    assert f"Week {KEY} is in none of the sources (MTA_SOURCES=files,open-data)" in message
    assert "files: Week 2017-06-17:" in message and "open-data: Week 2017-06-17:" in message


def test_the_order_of_the_sources_is_a_setting():
    assert sources_from_env({}).order == ["files", "open-data"]
    assert sources_from_env({"MTA_SOURCES": " open-data , files"}).order == ["open-data", "files"]
    assert sources_from_env({"MTA_SOURCES": "files"}).order == ["files"]


@pytest.mark.parametrize("value", ["ftp", "files,files", "files;open-data", ","])
def test_a_bad_order_of_sources_names_the_setting(value):
    with pytest.raises(ConfigurationError, match=rf"MTA_SOURCES={value!r} is not an ordered list of sources"):
        sources_from_env({"MTA_SOURCES": value})
