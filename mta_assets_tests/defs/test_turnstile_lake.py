"""The lake and warehouse assets materialized into a temp dir from a loopback mirror, and read back."""

import re
import tempfile
from dataclasses import astuple
from pathlib import Path
from datetime import date

import pytest
from dagster import DagsterUnknownPartitionError

from mta_assets.defs.turnstile_lake import turnstile_lake
from mta_assets.defs.turnstile_warehouse import turnstile_warehouse
from mta_assets.lake.facts import WeekFacts
from mta_assets.lake.formats import LakeFormat
from loopback.http_mirror import Misbehaviour
from mta_assets_tests.lib.project import Project, failure_message
from mta_assets_tests.lib.small_disk import small_disk
from loopback.turnstile_files import HEADER, legacy_lines, legacy_week_file, legacy_week_readings, week_file, week_lines

EARLIER, WEEK = "2023-05-27", "2023-06-03"
NAME = "turnstile_230603.txt"
# The size of the week's file as Project publishes it, for cuts at a share of it.
SIZE = len(week_file(date(2023, 6, 3), turnstile_count=25, crlf=True))


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_a_week_lands_in_the_lake_and_the_warehouse_once_however_often_it_runs(mirror, tmp_path, lake_format):
    project = Project(mirror, tmp_path, lake_format)
    lines = mirror.files[NAME].count(b"\n") - 1
    for _ in range(2):
        result = project.run(WEEK)
        assert result.success
        assert project.lake_files() == [f"turnstile_230603.{lake_format.value}"]
        assert project.rows(WEEK) == lines

    lake_metadata = result.asset_materializations_for_node("turnstile_lake")[0].metadata
    facts = WeekFacts.from_metadata(lake_metadata)
    assert facts.rows == lines
    assert lake_metadata["bytes_downloaded"].value == len(mirror.files[NAME])
    assert facts.object.bytes == (project.lake / project.lake_files()[0]).stat().st_size
    assert facts.object.uri.endswith(f"turnstile_230603.{lake_format.value}")
    assert lake_metadata["dates_covered"].value == "2023-05-27 to 2023-06-02"
    assert lake_metadata["rejected_lines"].value == 0
    assert lake_metadata["readings_without_station"].value == 0
    assert len(lake_metadata["preview"].value.records) == 5
    warehouse_metadata = result.asset_materializations_for_node("turnstile_warehouse")[0].metadata
    assert warehouse_metadata["dagster/row_count"].value == lines
    assert warehouse_metadata["replaced_rows"].value == lines
    assert warehouse_metadata["dagster/table_name"].value == "mta.turnstile"


def test_a_legacy_layout_file_is_recognised_from_its_content_and_loads_named_from_the_station_key(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    # The partitions start with the modern layout, so the legacy layout is served under a modern week's name.
    readings = legacy_week_readings(date(2023, 6, 3), turnstile_count=200)
    mirror.files[NAME] = legacy_week_file(date(2023, 6, 3), turnstile_count=200, crlf=True)
    result = project.run(WEEK)
    assert result.success
    assert project.rows(WEEK) == len(readings)
    without_station = sum(1 for reading in readings if not reading.turnstile.station)
    lake_metadata = result.asset_materializations_for_node("turnstile_lake")[0].metadata
    assert WeekFacts.from_metadata(lake_metadata).rows == len(readings)
    assert lake_metadata["readings_without_station"].value == without_station > 0
    assert lake_metadata["rejected_lines"].value == 0
    assert lake_metadata["dates_covered"].value == "2023-05-27 to 2023-06-02"
    stored = project.warehouse.query(
        f"SELECT control_area, unit, scp, station, line_name, division, reading_at, description, entries, exits "
        f"FROM {project.warehouse.name('turnstile')} WHERE week_ending = DATE '{WEEK}'"
    )
    # A turnstile's fields are control_area, unit, scp and the key's station, line_name and division.
    expected = [(*astuple(reading.turnstile), reading.at, reading.description, reading.entries, reading.exits) for reading in readings]
    assert sorted(stored) == sorted(expected)


def test_rejected_lines_are_kept_beside_the_week_and_cleared_when_it_is_clean(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    lines = week_lines(date(2023, 6, 3), turnstile_count=25)
    mirror.files[NAME] = "\n".join([HEADER, *lines, lines[-1][:40]]).encode()  # a truncated last line
    result = project.run(WEEK)
    assert result.success
    assert project.lake_files() == ["turnstile_230603.parquet", "turnstile_230603.rejected.txt"]
    assert (project.lake / "turnstile_230603.rejected.txt").read_text() == lines[-1][:40] + "\n"
    lake_metadata = result.asset_materializations_for_node("turnstile_lake")[0].metadata
    assert lake_metadata["rejected_lines"].value == 1
    assert WeekFacts.from_metadata(lake_metadata).object.rejected_lines_uri.endswith("turnstile_230603.rejected.txt")
    assert project.rows(WEEK) == len(lines)

    mirror.files[NAME] = "\n".join([HEADER, *lines]).encode()
    assert project.run(WEEK).success
    assert project.lake_files() == ["turnstile_230603.parquet"]


def test_a_week_with_a_few_repeated_lines_is_stored_once_with_the_repeats_counted(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    lines = week_lines(date(2023, 6, 3), turnstile_count=25)
    mirror.files[NAME] = "\n".join([HEADER, *lines, *lines[-3:]]).encode()  # a sync that appended a few lines twice
    result = project.run(WEEK)
    assert result.success
    lake_metadata = result.asset_materializations_for_node("turnstile_lake")[0].metadata
    assert lake_metadata["duplicate_readings_removed"].value == 3
    assert WeekFacts.from_metadata(lake_metadata).rows == project.rows(WEEK) == len(lines)
    assert any("3 exact duplicate readings removed" in record.user_message for record in project.instance.all_logs(result.run_id))


BAD_INPUTS = {
    "not published (404)": (Misbehaviour(status=404), r"Week 2023-06-03: .* is not published \(HTTP 404\)"),
    "gone (410)": (Misbehaviour(status=410), r"Week 2023-06-03: .* is not published \(HTTP 410\)"),
    "5xx until retries run out": (Misbehaviour(status=502), r"Week 2023-06-03: .* failed 2 times; last error: HTTP 502"),
    "connection cut mid-file": (Misbehaviour(cut_after_bytes=5000), r"Week 2023-06-03: .* failed 2 times"),
    "cut at 90% without a Content-Length": (
        Misbehaviour(framing="close", cut_after_bytes=int(SIZE * 0.9)),
        r"Week 2023-06-03: .* failed 2 times; last error: .*ends mid-line",
    ),
    "cut at 50% without a Content-Length": (
        Misbehaviour(framing="close", cut_after_bytes=int(SIZE * 0.5)),
        r"Week 2023-06-03: .* failed 2 times; last error: .*ends mid-line",
    ),
    "a Content-Length too short, from a server with ranges": (
        Misbehaviour(announced_length=int(SIZE * 0.9), ranges=True),
        r"Week 2023-06-03: .* failed 2 times",
    ),
    "html page with 200": (Misbehaviour(body=b"<html>Maintenance</html>", content_type="text/html"), "Week 2023-06-03: .*is an HTML page"),
    "the modern header, then legacy lines": (
        Misbehaviour(body="\n".join([HEADER, *legacy_lines(legacy_week_readings(date(2023, 6, 3), 10))]).encode()),
        r"Week 2023-06-03: turnstile_230603.txt: .* could not be parsed in the modern layout .*looks corrupt",
    ),
    "a legacy line, then modern lines": (
        Misbehaviour(body="\n".join([*legacy_lines(legacy_week_readings(date(2023, 6, 3), 1))[:1], *week_lines(date(2023, 6, 3), 10)]).encode()),
        r"Week 2023-06-03: turnstile_230603.txt: .* could not be parsed in the legacy layout .*looks corrupt",
    ),
    "empty file": (Misbehaviour(body=b""), "Week 2023-06-03: turnstile_230603.txt is empty"),
    "a file appended to itself": (
        Misbehaviour(body=week_file(date(2023, 6, 3), 10, crlf=True) * 4),
        r"Week 2023-06-03: turnstile_230603.txt: [\d,]+ of [\d,]+ readings \(75.0%\) repeat another line exactly, "
        r"above MTA_MAX_DUPLICATE_SHARE \(1%\)",
    ),
    "scrambled lines": (
        Misbehaviour(body=(HEADER + "\n" + "\n".join(text[::-1] for text in week_lines(date(2023, 6, 3), 10))).encode()),
        r"turnstile_230603.txt: .* could not be parsed",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_fails_clearly_and_leaves_nothing_for_the_week(mirror, tmp_path, case):
    project = Project(mirror, tmp_path)
    assert project.run(EARLIER).success
    earlier_files, earlier_rows = project.lake_files(), project.rows(EARLIER)

    mirror.misbehaviours[NAME], message = BAD_INPUTS[case]
    result = project.run(WEEK)
    assert not result.success
    assert re.search(message, failure_message(result))
    assert project.lake_files() == earlier_files == ["turnstile_230527.parquet"]
    assert project.rows(WEEK) == 0
    assert project.rows(EARLIER) == earlier_rows


def test_a_week_that_is_already_loaded_survives_a_failed_rerun(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    assert project.run(WEEK).success
    rows, lake = project.rows(WEEK), (project.lake / "turnstile_230603.parquet").read_bytes()
    mirror.misbehaviours[NAME] = Misbehaviour(status=503)
    assert not project.run(WEEK).success
    assert project.rows(WEEK) == rows
    assert (project.lake / "turnstile_230603.parquet").read_bytes() == lake


@pytest.mark.parametrize("key", ["2099-01-03", "2024-02-24", "2010-04-24", "2023-06-04"])
def test_weeks_outside_the_partitions_are_refused_before_anything_runs(mirror, tmp_path, key):
    project = Project(mirror, tmp_path)
    with pytest.raises(DagsterUnknownPartitionError, match=key):
        project.run(key)
    assert project.lake_files() == []
    assert sum(mirror.requests.values()) == 0


def test_a_run_over_several_weeks_stores_each_week_as_its_own_object(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    project.publish("2023-05-20", turnstile_count=10)
    result = project.run_range("2023-05-20", "2023-06-03")
    assert result.success
    assert project.lake_files() == ["turnstile_230520.parquet", "turnstile_230527.parquet", "turnstile_230603.parquet"]
    for key, name in [("2023-05-20", "turnstile_230520.txt"), ("2023-06-03", NAME)]:
        assert project.rows(key) == mirror.files[name].count(b"\n") - 1
    lake_facts = {event.partition: WeekFacts.from_metadata(event.metadata) for event in result.asset_materializations_for_node("turnstile_lake")}
    assert lake_facts["2023-05-20"].rows == project.rows("2023-05-20")
    assert lake_facts["2023-06-03"].rows == project.rows("2023-06-03")
    warehouse_events = {event.partition: event for event in result.asset_materializations_for_node("turnstile_warehouse")}
    assert warehouse_events["2023-05-27"].metadata["dagster/row_count"].value == project.rows("2023-05-27")


def test_a_week_that_fails_in_a_multi_week_run_does_not_stop_the_others(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    project.publish("2023-05-20", turnstile_count=10)
    mirror.misbehaviours["turnstile_230527.txt"] = Misbehaviour(status=404)
    result = project.run_range("2023-05-20", "2023-06-03")
    assert not result.success
    assert re.search(r"Week 2023-05-27: .* is not published", failure_message(result))
    assert project.lake_files() == ["turnstile_230520.parquet", "turnstile_230603.parquet"]
    assert project.instance.get_materialized_partitions(turnstile_lake.key) == {"2023-05-20", "2023-06-03"}
    stored = {event.partition: WeekFacts.from_metadata(event.metadata) for event in result.asset_materializations_for_node("turnstile_lake")}
    assert stored["2023-06-03"].object.uri.endswith("turnstile_230603.parquet")
    assert stored["2023-06-03"].rows == mirror.files[NAME].count(b"\n") - 1
    # The warehouse step did not run: the checks were skipped with the failed step, and unchecked weeks
    # do not flow on in the same run.
    assert project.rows("2023-05-20") == project.rows("2023-06-03") == 0


def test_switching_the_lake_format_back_never_loads_a_stale_object(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    project.publish(WEEK, turnstile_count=10)
    assert project.run(WEEK).success
    whole = project.publish(WEEK, turnstile_count=25)
    project.format = LakeFormat.CSV_GZ
    assert project.run(WEEK).success
    assert project.lake_files() == ["turnstile_230603.csv.gz"]
    # Back to parquet, the warehouse alone: it loads the object the latest lake materialization recorded.
    project.format = LakeFormat.PARQUET
    assert project.run(WEEK, selection=[turnstile_warehouse]).success
    assert project.rows(WEEK) == whole.count(b"\n") - 1
    assert project.run(WEEK).success
    assert project.lake_files() == ["turnstile_230603.parquet"]
    assert project.rows(WEEK) == whole.count(b"\n") - 1


def test_a_lake_folder_that_cannot_be_written_fails_naming_the_setting_before_any_download(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    project.lake = Path("/sys/mta-lake")  # no one may create files there, root included
    result = project.run(WEEK)
    assert not result.success
    assert re.search(r"MTA_LAKE_URL='/sys/mta-lake': the lake folder cannot be written", failure_message(result))
    assert sum(mirror.requests.values()) == 0


def test_the_week_never_published_is_no_partition_and_is_refused_before_anything_runs(mirror, tmp_path):
    project = Project(mirror, tmp_path, weeks=())
    with pytest.raises(DagsterUnknownPartitionError, match="Could not find a partition with key `2010-05-29`"):
        project.run("2010-05-29")
    assert sum(mirror.requests.values()) == 0
    assert project.lake_files() == []


def test_a_range_across_the_week_never_published_runs_the_weeks_around_it(mirror, tmp_path):
    project = Project(mirror, tmp_path, weeks=("2010-05-22", "2010-06-05"))
    result = project.run_range("2010-05-22", "2010-06-05")
    assert result.success
    assert project.lake_files() == ["turnstile_100522.parquet", "turnstile_100605.parquet"]
    assert not any("100529" in path for path in mirror.requests)


# A full disk: the lake folder, or the scratch folder under TMPDIR, on a real 1 MB tmpfs (mounted for
# the test), and a week whose file and parquet object are larger than that.
LARGE_WEEK = {"turnstile_count": 800}


def test_a_full_disk_under_the_lake_names_the_week_the_object_and_the_setting(mirror, tmp_path):
    project = Project(mirror, tmp_path, weeks=())
    project.publish("2023-06-03", **LARGE_WEEK)
    with small_disk(tmp_path / "lake", "64k"):
        result = project.run("2023-06-03")
        assert not result.success
        assert (
            f"Week 2023-06-03: the disk under the lake folder is full; {project.lake / 'turnstile_230603.parquet'} could "
            "not be written (No space left on device) and no partial copy is left. Free space there, or point "
            "MTA_LAKE_URL at a folder on a disk with room"
        ) in failure_message(result)
        assert project.lake_files() == []  # nor a hidden partial copy
        assert not any(project.lake.iterdir())
    assert project.rows("2023-06-03") == 0


def test_a_full_disk_under_tmpdir_names_the_week_and_the_setting_and_leaves_no_scratch(mirror, tmp_path, monkeypatch):
    project = Project(mirror, tmp_path, weeks=())
    project.publish("2023-06-03", **LARGE_WEEK)
    with small_disk(tmp_path / "tmp", "1M") as scratch:
        monkeypatch.setenv("TMPDIR", str(scratch))
        monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile caches the folder; read TMPDIR again
        result = project.run("2023-06-03")
        assert not result.success
        message = failure_message(result)
        assert re.search(rf"Week 2023-06-03: the disk under the scratch folder {scratch}/mta-weeks-\d+\.\w+ \(TMPDIR={scratch}\) is full", message)
        assert "No space left on device" in message and "point TMPDIR at a folder on a disk with room" in message
        assert [path for path in scratch.iterdir() if path.name.startswith("mta-weeks-")] == []  # Dagster keeps its own
    assert project.lake_files() == []
