import random
from functools import partial
from datetime import date, datetime

import pytest

import pyarrow.parquet as pq

from mta_assets.lib.parquet import ROW_GROUP_ROWS
from mta_assets.lib.tables import TURNSTILE
from mta_assets.turnstile.parsing import (
    Layout,
    NotATurnstileFile,
    TooManyReadingsOutsideWeek,
    TooManyRejectedLines,
    check_header,
)
from loopback.turnstile_files import HEADER, Turnstile, line, week_file, week_lines
from mta_assets_tests.lib import parsed as parsed_files
from mta_assets_tests.lib.parsed import rows, write

WEEK = date(2023, 6, 3)
parse = partial(parsed_files.parse, week=WEEK)
BOOTH = Turnstile("A002", "R051", "02-00-00", "59 ST", "NQR456W", "BMT")


@pytest.mark.parametrize("crlf", [False, True])
def test_every_data_line_becomes_a_typed_row(tmp_path, crlf):
    data = week_file(WEEK, turnstile_count=30, crlf=crlf)
    parsed = parse(write(tmp_path, data))
    assert pq.read_schema(parsed.path).names == list(TURNSTILE.column_names)
    assert parsed.rows == len(rows(parsed)) == data.count(b"\n") - 1
    assert parsed.rejected_lines == ()


def test_padding_recovered_audits_and_counters_are_normalised(tmp_path):
    lines = [
        line(BOOTH, datetime(2023, 5, 27, 0, 0), "REGULAR", 6224816, 2107317),
        line(BOOTH, datetime(2023, 5, 27, 13, 22, 29), "RECOVR AUD", 6224850, 2107322),
    ]
    parsed = parse(write(tmp_path, "\r\n".join([HEADER, *lines]).encode()))
    parsed_rows = rows(parsed)
    assert parsed_rows[1] == {
        "control_area": "A002",
        "unit": "R051",
        "scp": "02-00-00",
        "station": "59 ST",
        "line_name": "NQR456W",
        "division": "BMT",
        "reading_at": datetime(2023, 5, 27, 13, 22, 29),
        "description": "RECOVR AUD",
        "entries": 6224850,
        "exits": 2107322,
        "week_ending": WEEK,
    }
    assert parsed_rows[0]["entries"] == 6224816
    assert parsed.preview == tuple(parsed_rows)
    assert (parsed.first_reading, parsed.last_reading) == (datetime(2023, 5, 27, 0, 0), datetime(2023, 5, 27, 13, 22, 29))


def test_a_line_cut_mid_file_is_kept_and_counted_not_dropped(tmp_path):
    lines = week_lines(WEEK, turnstile_count=30)
    cut = lines[-1][:52]  # the real truncated file: last line without its newline or padding
    parsed = parse(write(tmp_path, "\n".join([HEADER, *lines[:-1], cut]).encode()))
    assert parsed.rows == len(lines) - 1
    assert parsed.rejected_lines == (cut,)


def test_lines_with_bad_values_are_kept_and_the_rest_parsed(tmp_path):
    lines = week_lines(WEEK, turnstile_count=30)
    bad = [
        "A002,R051,02-00-00,59 ST,NQR456W,BMT,13/45/2023,00:00:00,REGULAR,0000000001,0000000002",
        "A002,R051,02-00-00,59 ST,NQR456W,BMT,05/27/2023,00:00:00,REGULAR,00000000x1,0000000002",
        ",,,59 ST,NQR456W,BMT,05/27/2023,00:00:00,REGULAR,0000000001,0000000002",
    ]
    data = "\n".join([HEADER, *lines[:10], *bad, *lines[10:]]).encode()
    parsed = parse(write(tmp_path, data))
    assert parsed.rows == len(lines)
    assert [rejected.split(",")[6] for rejected in parsed.rejected_lines] == ["13/45/2023", "05/27/2023", "05/27/2023"]


def test_blank_lines_are_counted_apart_from_rejected_ones(tmp_path):
    lines = week_lines(WEEK, turnstile_count=5)
    data = "\n".join([HEADER, *lines, " " * 130, ""]).encode()
    parsed = parse(write(tmp_path, data))
    assert (parsed.rows, parsed.blank_lines, parsed.rejected_lines) == (len(lines), 1, ())


def test_scrambled_lines_fail_the_week(tmp_path):
    rng = random.Random(7)
    lines = ["".join(rng.sample(text.rstrip(), len(text.rstrip()))) for text in week_lines(WEEK, turnstile_count=30)]
    path = write(tmp_path, "\n".join([HEADER, *lines]).encode())
    with pytest.raises(TooManyRejectedLines, match=r"turnstile_230603.txt: .* could not be parsed.*MTA_MAX_REJECTED_SHARE"):
        parse(path)


def test_the_allowed_share_of_bad_lines_is_configurable(tmp_path):
    lines = week_lines(WEEK, turnstile_count=2)  # about 90 lines
    data = "\n".join([HEADER, *lines, "garbage", "more garbage"]).encode()
    path = write(tmp_path, data)
    with pytest.raises(TooManyRejectedLines):
        parse(path, max_rejected_share=0.01)
    assert len(parse(path, max_rejected_share=0.05).rejected_lines) == 2


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"", "is empty"),
        (b"<!DOCTYPE html><html><body>Service Unavailable</body></html>", "is an HTML page"),
        (b"station,entries\n59 ST,1\n", "does not start with the modern header .* nor with a legacy line"),
    ],
)
def test_files_that_are_not_turnstile_files_are_refused(head, message):
    with pytest.raises(NotATurnstileFile, match=message):
        check_header(head, "turnstile_230603.txt")


@pytest.mark.parametrize(
    ("head", "layout"),
    [
        ((HEADER + "\r\n").encode(), Layout.MODERN),
        (b"A002,R051,02-00-00,05-21-11,00:00:00,REGULAR,003169391,001097585,05-21-11,04:00:00,REGULAR,"
         b"003169415,001097588\n", Layout.LEGACY),
        (b"A002,R051,02-00-00,05-21-11,00:00:00,REGULAR,003169391,001097585\r\n", Layout.LEGACY),
    ],
)
def test_the_layout_is_recognised_from_the_first_line(head, layout):
    assert check_header(head, "turnstile_230603.txt") is layout


def test_a_header_without_readings_is_refused(tmp_path):
    path = write(tmp_path, (HEADER + "\n").encode())
    with pytest.raises(NotATurnstileFile, match="no readings"):
        parse(path)


def test_a_corrupt_file_leaves_no_parquet_behind(tmp_path):
    lines = ["garbage"] * 50
    source = write(tmp_path, "\n".join([HEADER, *lines]).encode())
    with pytest.raises(TooManyRejectedLines):
        parse(source)
    assert not source.with_suffix(".parquet").exists()


def test_a_large_file_is_written_in_several_batches_with_the_same_rows(tmp_path):
    data = week_file(WEEK, turnstile_count=800)  # about 40,000 lines: more than one 256 KB block
    parsed = parse(write(tmp_path, data))
    metadata = pq.read_metadata(parsed.path)
    assert [metadata.row_group(group).num_rows for group in range(metadata.num_row_groups)] == [ROW_GROUP_ROWS, parsed.rows - ROW_GROUP_ROWS]
    assert parsed.rows == metadata.num_rows == data.count(b"\n") - 1


def test_a_stray_quote_does_not_swallow_the_lines_after_it(tmp_path):
    lines = week_lines(WEEK, turnstile_count=30)
    lines[10] = lines[10].replace("REGULAR", 'REG"ULAR')
    parsed = parse(write(tmp_path, "\n".join([HEADER, *lines]).encode()))
    assert parsed.rows == len(lines)
    assert 'REG"ULAR' in {row["description"] for row in rows(parsed)}


def test_bytes_that_are_not_text_fail_the_file_with_its_name(tmp_path):
    lines = week_lines(WEEK, turnstile_count=5)
    data = "\n".join([HEADER, *lines]).encode().replace(b"59 ST", b"59 \xff\xfe", 1)
    path = write(tmp_path, data)
    with pytest.raises(NotATurnstileFile, match=r"turnstile_230603.txt cannot be read as a text file"):
        parse(path)
    assert not path.with_suffix(".parquet").exists()


def test_a_negative_counter_is_rejected_whichever_path_reads_the_file(tmp_path):
    lines = week_lines(WEEK, turnstile_count=30)
    negative = line(BOOTH, datetime(2023, 5, 27, 4), "REGULAR", 100, 50).replace("0000000100", "-000000100")
    parsed = parse(write(tmp_path, "\n".join([HEADER, *lines, negative]).encode()))
    assert parsed.rejected_lines == (negative.rstrip(),)
    assert parsed.rows == len(lines)


@pytest.mark.parametrize("field", [7, 9, 10], ids=["time", "entries", "exits"])
def test_a_reading_with_an_empty_time_or_counter_is_rejected_not_stored_empty(tmp_path, field):
    lines = week_lines(WEEK, turnstile_count=30)
    values = line(BOOTH, datetime(2023, 5, 27, 4), "REGULAR", 100, 50).rstrip().split(",")
    values[field] = ""
    empty = ",".join(values)
    parsed = parse(write(tmp_path, "\n".join([HEADER, *lines, empty]).encode()))
    assert parsed.rejected_lines == (empty,)
    assert parsed.rows == len(lines) == len(rows(parsed))


@pytest.mark.parametrize(
    ("field", "value"),
    [(9, "0x10"), (9, "1" * 19), (10, "NA"), (7, "04:00"), (7, "24:00:00")],
    ids=["hex counter", "19 digits", "NA", "time without seconds", "hour 24"],
)
def test_a_value_outside_the_layout_is_rejected_whatever_else_the_file_holds(tmp_path, field, value):
    lines = week_lines(WEEK, turnstile_count=30)
    values = line(BOOTH, datetime(2023, 5, 27, 4), "REGULAR", 100, 50).rstrip().split(",")
    values[field] = value
    odd = ",".join(values)
    parsed = parse(write(tmp_path, "\n".join([HEADER, *lines, odd]).encode()))
    assert parsed.rejected_lines == (odd,)
    assert parsed.rows == len(lines) == len(rows(parsed))


def test_a_file_of_another_week_is_refused(tmp_path):
    data = week_file(date(2023, 5, 20), turnstile_count=30)  # the week before, under this week's name
    path = write(tmp_path, data)
    with pytest.raises(TooManyReadingsOutsideWeek, match=r"turnstile_230603.txt: .* fall outside its week \(2023-05-27 to 2023-06-02\)"):
        parse(path)
    assert not path.with_suffix(".parquet").exists()
