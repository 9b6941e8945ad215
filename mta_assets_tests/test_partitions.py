from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from mta_assets.partitions import WeekOutOfRange, file_stem, week_of, weekly_partitions


def test_keys_are_saturdays_from_the_first_modern_file():
    keys = weekly_partitions.get_partition_keys()
    assert keys[:2] == ["2014-10-18", "2014-10-25"]
    assert all(date.fromisoformat(key).weekday() == 5 for key in keys)
    assert "2023-06-03" in keys


def test_the_latest_partition_is_the_last_saturday_not_a_future_one():
    today_in_new_york = datetime.now(ZoneInfo("America/New_York")).date()
    last = date.fromisoformat(weekly_partitions.get_last_partition_key())
    assert last <= today_in_new_york
    assert (today_in_new_york - last).days < 7


def test_partition_names_the_mta_file():
    assert file_stem(week_of("2023-06-03")) == "turnstile_230603"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("2099-01-03", "in the future"),
        ("2014-10-11", "before 2014-10-18"),
        ("2023-06-04", "is a Sunday: weeks are keyed by Saturdays .* the nearest week is 2023-06-03"),
        ("2023-06-07", "is a Wednesday: weeks are keyed by Saturdays .* the nearest week is 2023-06-10"),
        ("last week", "is not a date"),
    ],
)
def test_weeks_outside_the_partitions_are_refused_with_the_week_named(key, message):
    with pytest.raises(WeekOutOfRange, match=message) as raised:
        week_of(key)
    assert key in str(raised.value)
