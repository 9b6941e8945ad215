"""Exact duplicate readings: removed and counted when few, the week refused when many."""

from datetime import date, datetime

import pyarrow.parquet as pq
import pytest

from loopback.turnstile_files import HEADER, Turnstile, line, week_file, week_lines
from mta_assets.turnstile.duplicates import TooManyDuplicateReadings, remove_exact_duplicates
from mta_assets.lib.tables import TURNSTILE
from mta_assets.turnstile.parsing import parse_turnstile_file

WEEK = date(2023, 6, 3)
NAME = "turnstile_230603.txt"


def parse_without_duplicates(tmp_path, data: bytes, max_duplicate_share=0.01):
    path = tmp_path / NAME
    path.write_bytes(data)
    parsed = parse_turnstile_file(path, WEEK, 0.01, tmp_path / "turnstile_230603.parquet")
    return remove_exact_duplicates(parsed, NAME, max_duplicate_share)


def rows(parsed) -> list[dict]:
    return pq.read_table(parsed.path).cast(TURNSTILE.arrow_schema).to_pylist()


def test_a_file_appended_to_itself_fails_naming_the_file_and_the_share_and_leaves_no_parquet(tmp_path):
    data = week_file(WEEK, turnstile_count=30, crlf=True) * 4  # a mirror that appended the file on each sync
    readings = data.count(b"\n") - 4
    with pytest.raises(
        TooManyDuplicateReadings,
        match=rf"^{NAME}: {readings * 3 // 4:,} of {readings:,} readings \(75.0%\) repeat another line exactly, "
        r"above MTA_MAX_DUPLICATE_SHARE \(1%\): the file looks doubled",
    ):
        parse_without_duplicates(tmp_path, data)
    assert sorted(path.name for path in tmp_path.iterdir()) == [NAME]


def test_a_few_repeated_lines_are_removed_counted_and_the_first_copies_kept_in_order(tmp_path):
    lines = week_lines(WEEK, turnstile_count=30)
    repeated = [*lines[:3], lines[0], *lines[3:100], lines[50], lines[50], *lines[100:]]
    parsed = parse_without_duplicates(tmp_path, "\n".join([HEADER, *repeated]).encode())
    (tmp_path / "clean").mkdir()
    clean = parse_without_duplicates(tmp_path / "clean", "\n".join([HEADER, *lines]).encode())
    assert (parsed.rows, parsed.duplicate_readings_removed) == (len(lines), 3)
    assert rows(parsed) == rows(clean)
    assert parsed.preview == tuple(rows(clean)[:5])
    assert pq.read_metadata(parsed.path).num_rows == len(lines)


def test_readings_with_the_same_key_and_other_counters_are_not_duplicates(tmp_path):
    booth = Turnstile("A002", "R051", "02-00-00", "59 ST", "NQR456W", "BMT")
    at = datetime(2023, 5, 27, 4, 0)
    lines = week_lines(WEEK, turnstile_count=30)
    same_key = [line(booth, at, "REGULAR", 6224816, 2107317), line(booth, at, "REGULAR", 6224850, 2107322)]
    parsed = parse_without_duplicates(tmp_path, "\n".join([HEADER, *lines, *same_key]).encode())
    assert (parsed.rows, parsed.duplicate_readings_removed) == (len(lines) + 2, 0)


def test_the_allowed_share_of_duplicates_is_configurable(tmp_path):
    lines = week_lines(WEEK, turnstile_count=2)  # about 90 lines: 3 repeats are over 3%
    data = "\n".join([HEADER, *lines, *lines[:3]]).encode()
    with pytest.raises(TooManyDuplicateReadings, match=r"above MTA_MAX_DUPLICATE_SHARE \(1%\)"):
        parse_without_duplicates(tmp_path, data, max_duplicate_share=0.01)
    assert parse_without_duplicates(tmp_path, data, max_duplicate_share=0.05).duplicate_readings_removed == 3
