"""Legacy-layout files (2010-05 to 2014-10) parsed into the same typed table as modern ones."""

import random
from datetime import date, datetime
from functools import partial
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from loopback.turnstile_files import HEADER, legacy_lines, legacy_week_file, legacy_week_readings, line, week_lines
from mta_assets.turnstile.parsing import NotATurnstileFile, TooManyReadingsOutsideWeek, TooManyRejectedLines
from mta_assets_tests.lib import parsed as parsed_files
from mta_assets_tests.lib.parsed import rows

EXCERPT = Path(__file__).parent / "fixtures" / "turnstile_110528_excerpt.txt"
EXCERPT_WEEK = date(2011, 5, 28)
WEEK = date(2013, 6, 1)
NAME = "turnstile_130601.txt"
write = partial(parsed_files.write, name=NAME)
parse = partial(parsed_files.parse, week=WEEK)


def groups(text: str) -> int:
    return (text.count(",") + 1 - 3) // 5


def test_the_excerpt_gives_every_reading_named_from_the_station_key(tmp_path):
    parsed = parse(write(tmp_path, EXCERPT.read_bytes(), name="turnstile_110528.txt"), week=EXCERPT_WEEK)
    parsed_rows = rows(parsed)
    assert parsed.rows == len(parsed_rows) == sum(groups(text) for text in EXCERPT.read_text().splitlines()) == 48
    assert (parsed.rejected_lines, parsed.blank_lines) == ((), 0)
    assert parsed_rows[0] == {
        "control_area": "A002",
        "unit": "R051",
        "scp": "02-00-00",
        "station": "LEXINGTON AVE",  # the key's name for booth A002 of unit R051
        "line_name": "456NQR",
        "division": "BMT",
        "reading_at": datetime(2011, 5, 21, 0, 0),
        "description": "REGULAR",
        "entries": 3169391,
        "exits": 1097585,
        "week_ending": EXCERPT_WEEK,
    }
    assert parsed.preview == tuple(parsed_rows[:5])
    assert (parsed.first_reading, parsed.last_reading) == (datetime(2011, 5, 21, 0, 0), datetime(2011, 5, 27, 23, 52, 11))
    descriptions = {row["description"] for row in parsed_rows}
    assert descriptions == {"REGULAR", "DOOR OPEN", "DOOR CLOSE", "RECOVR AUD", "LOGON", "LOGOFF", "LGF-MAN"}
    assert {row["station"] for row in parsed_rows if row["unit"] == "R001"} == {"WHITEHALL ST"}
    unknown = [row for row in parsed_rows if row["control_area"] == "Z999"]
    assert [(row["station"], row["line_name"], row["division"]) for row in unknown] == [("", "", "")] * 2
    assert parsed.readings_without_station == 2


@pytest.mark.parametrize("crlf", [False, True])
def test_a_generated_legacy_week_gives_one_row_per_reading(tmp_path, crlf):
    readings = legacy_week_readings(WEEK, turnstile_count=200)
    parsed = parse(write(tmp_path, legacy_week_file(WEEK, turnstile_count=200, crlf=crlf)))
    assert parsed.rows == len(readings)
    assert parsed.rejected_lines == ()
    assert parsed.readings_without_station == sum(1 for reading in readings if not reading.turnstile.station) > 0
    assert [(row["unit"], row["scp"], row["reading_at"], row["entries"]) for row in rows(parsed)] == [
        (reading.turnstile.unit, reading.turnstile.scp, reading.at, reading.entries) for reading in readings
    ]


def test_the_same_readings_in_either_layout_give_the_same_rows(tmp_path):
    # Readings of booths the key knows, so that the modern file can carry the key's names.
    readings = [reading for reading in legacy_week_readings(WEEK, turnstile_count=150) if reading.turnstile.station]
    modern = [line(reading.turnstile, reading.at, reading.description, reading.entries, reading.exits) for reading in readings]
    (tmp_path / "modern").mkdir()
    modern_path = write(tmp_path / "modern", "\r\n".join([HEADER, *modern]).encode())
    legacy_path = write(tmp_path, "\n".join(legacy_lines(readings)).encode())
    from_modern, from_legacy = parse(modern_path), parse(legacy_path)
    assert from_legacy.rows == from_modern.rows == len(readings)
    assert pq.read_table(from_legacy.path).equals(pq.read_table(from_modern.path))
    assert (from_legacy.first_reading, from_legacy.last_reading) == (from_modern.first_reading, from_modern.last_reading)
    assert from_legacy.readings_without_station == from_modern.readings_without_station == 0


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda text: text.replace("REGULAR,", "REGULAR,0x", 1), id="a counter that is not a number"),
        pytest.param(lambda text: text.replace(":00:00,", ":61:00,", 1), id="a time that is not a time"),
        pytest.param(lambda text: text.replace("-13,", "-1,", 1), id="a date that is not MM-DD-YY"),
        pytest.param(lambda text: text.replace("05-2", "13-4", 1), id="a month that does not exist"),
        pytest.param(lambda text: text.replace(",REGULAR", "", 1), id="a group without its description"),
        pytest.param(lambda text: ",,," + text.split(",", 3)[3], id="a line without its keys"),
    ],
)
def test_a_line_with_a_broken_group_is_rejected_whole_and_kept(tmp_path, breakage):
    lines = legacy_lines(legacy_week_readings(WEEK, turnstile_count=60))
    broken = breakage(lines[10])
    assert broken != lines[10]
    parsed = parse(write(tmp_path, "\n".join([*lines[:10], broken, *lines[11:]]).encode()))
    assert parsed.rejected_lines == (broken,)
    assert parsed.rows == sum(groups(text) for text in lines) - groups(lines[10])


def test_too_many_bad_lines_fail_the_week_naming_the_file_and_leave_nothing(tmp_path):
    lines = legacy_lines(legacy_week_readings(WEEK, turnstile_count=60))
    lines = [text.replace("REGULAR", "REGULAR,", 1) if number % 20 == 0 else text for number, text in enumerate(lines)]
    path = write(tmp_path, "\n".join(lines).encode())
    with pytest.raises(
        TooManyRejectedLines, match=r"turnstile_130601.txt: .* could not be parsed in the legacy layout .*MTA_MAX_REJECTED_SHARE"
    ):
        parse(path)
    assert not path.with_suffix(".parquet").exists()
    assert parse(path, max_rejected_share=0.1).rows > 0


def test_scrambled_legacy_lines_fail_the_week(tmp_path):
    rng = random.Random(7)
    lines = legacy_lines(legacy_week_readings(WEEK, turnstile_count=30))
    scrambled = [lines[0], *("".join(rng.sample(text, len(text))) for text in lines[1:])]
    with pytest.raises(TooManyRejectedLines, match=r"turnstile_130601.txt: .* could not be parsed in the legacy layout"):
        parse(write(tmp_path, "\n".join(scrambled).encode()))


def test_legacy_lines_after_the_modern_header_fail_as_corrupt(tmp_path):
    lines = legacy_lines(legacy_week_readings(WEEK, turnstile_count=30))
    with pytest.raises(TooManyRejectedLines, match=r"turnstile_130601.txt: .* could not be parsed in the modern layout .*looks corrupt"):
        parse(write(tmp_path, "\n".join([HEADER, *lines]).encode()))


def test_modern_lines_after_a_legacy_line_fail_as_corrupt(tmp_path):
    legacy = legacy_lines(legacy_week_readings(WEEK, turnstile_count=30))
    with pytest.raises(TooManyRejectedLines, match=r"turnstile_130601.txt: .* could not be parsed in the legacy layout .*looks corrupt"):
        parse(write(tmp_path, "\n".join([legacy[0], HEADER, *week_lines(WEEK, turnstile_count=30)]).encode()))


@pytest.mark.parametrize("cut", [-3, 60], ids=["inside its last counter", "inside a group"])
def test_a_truncated_last_line_is_rejected_and_counted(tmp_path, cut):
    lines = legacy_lines(legacy_week_readings(WEEK, turnstile_count=30))
    truncated = lines[-1][:cut]  # no newline after it either
    parsed = parse(write(tmp_path, "\r\n".join([*lines[:-1], truncated]).encode()))
    assert parsed.rejected_lines == (truncated,)
    assert parsed.rows == sum(groups(text) for text in lines[:-1])


def test_blank_lines_are_counted_apart_from_rejected_ones(tmp_path):
    lines = legacy_lines(legacy_week_readings(WEEK, turnstile_count=5))
    parsed = parse(write(tmp_path, "\n".join([*lines[:3], " " * 40, *lines[3:], "\t", ""]).encode()))
    assert (parsed.blank_lines, parsed.rejected_lines) == (2, ())
    assert parsed.rows == sum(groups(text) for text in lines)


def test_a_legacy_file_of_another_week_is_refused(tmp_path):
    path = write(tmp_path, legacy_week_file(date(2013, 5, 25), turnstile_count=30))  # the week before, under this week's name
    with pytest.raises(TooManyReadingsOutsideWeek, match=r"turnstile_130601.txt: .* fall outside its week \(2013-05-25 to 2013-05-31\)"):
        parse(path)
    assert not path.with_suffix(".parquet").exists()


def test_legacy_bytes_that_are_not_text_fail_the_file_with_its_name(tmp_path):
    data = legacy_week_file(WEEK, turnstile_count=5).replace(b"REGULAR", b"REG\xff\xfe", 1)
    path = write(tmp_path, data)
    with pytest.raises(NotATurnstileFile, match=r"turnstile_130601.txt cannot be read as a text file"):
        parse(path)
    assert not path.with_suffix(".parquet").exists()


def test_a_large_legacy_file_is_written_in_several_row_groups_with_every_reading(tmp_path):
    readings = legacy_week_readings(WEEK, turnstile_count=800)  # about 34,000 readings
    parsed = parse(write(tmp_path, legacy_week_file(WEEK, turnstile_count=800, crlf=True)))
    assert pq.ParquetFile(parsed.path).metadata.num_row_groups > 1
    assert parsed.rows == pq.read_metadata(parsed.path).num_rows == len(readings)
