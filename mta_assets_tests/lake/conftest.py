from datetime import date

import pytest

from mta_assets.turnstile.parsing import ParsedWeek, parse_turnstile_file

WEEK = date(2023, 6, 3)


@pytest.fixture
def parsed_week(tmp_path, week_bytes) -> ParsedWeek:
    path = tmp_path / "turnstile_230603.txt"
    path.write_bytes(week_bytes)
    return parse_turnstile_file(path, WEEK, 0.01, tmp_path / "turnstile_230603.parquet")
