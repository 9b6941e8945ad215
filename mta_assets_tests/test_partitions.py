from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from mta_assets.lib.errors import ConfigurationError
from mta_assets.partitions import (
    IRREGULAR_WEEKS,
    NEVER_PUBLISHED,
    RIDERSHIP_WEEKS,
    WeekOutOfRange,
    feed_last_week,
    feed_partitions,
    file_stem,
    ridership_partitions,
    week_of,
    weekly_partitions,
)


def test_keys_are_saturdays_from_the_first_file_to_the_last_known_week():
    keys = weekly_partitions.get_partition_keys()
    assert keys[:2] == ["2010-05-01", "2010-05-08"]
    assert keys[-1] == "2024-02-17"
    assert all(date.fromisoformat(key).weekday() == 5 for key in keys)
    assert {"2014-10-11", "2014-10-18", "2023-06-03"} <= set(keys)
    assert len(keys) == 720  # 721 Saturdays, less the week never published


def test_a_feed_still_running_ends_at_the_last_saturday_not_a_future_one():
    today_in_new_york = datetime.now(ZoneInfo("America/New_York")).date()
    last = date.fromisoformat(feed_partitions(date(2099, 12, 26)).get_last_partition_key())
    assert last <= today_in_new_york
    assert (today_in_new_york - last).days < 7


def test_the_feeds_last_week_is_a_setting():
    assert feed_last_week({}) == date(2024, 2, 17)
    assert feed_last_week({"MTA_TURNSTILE_LAST_WEEK": "2023-06-03"}) == date(2023, 6, 3)
    assert feed_partitions(date(2023, 6, 3)).get_last_partition_key() == "2023-06-03"


@pytest.mark.parametrize("value", ["2023-06-04", "June 3", "2009-05-02"])
def test_a_bad_last_week_names_the_setting(value):
    with pytest.raises(ConfigurationError, match=rf"MTA_TURNSTILE_LAST_WEEK='{value}' is not a Saturday"):
        feed_last_week({"MTA_TURNSTILE_LAST_WEEK": value})


def test_partition_names_the_mta_file():
    assert file_stem(week_of("2023-06-03")) == "turnstile_230603"
    assert file_stem(week_of("2012-07-14")) == "turnstile_120714"


def test_irregular_weeks_map_to_their_real_file_names():
    assert file_stem(week_of("2010-05-01")) == "turnstile_100505"  # the first file, dated a Wednesday
    assert file_stem(week_of("2011-12-17")) == "turnstile_111219"  # published on a Monday
    assert all(week.weekday() == 5 for week in IRREGULAR_WEEKS)


def test_the_week_never_published_is_no_partition_of_the_feed_nor_of_the_unified_weeks():
    assert list(NEVER_PUBLISHED) == [date(2010, 5, 29)]
    for partitions in (weekly_partitions, ridership_partitions):
        assert partitions.get_partition_keys()[2:6] == ["2010-05-15", "2010-05-22", "2010-06-05", "2010-06-12"]
        assert not partitions.has_partition_key("2010-05-29")
    for weeks in (week_of, RIDERSHIP_WEEKS.week_of):
        with pytest.raises(WeekOutOfRange, match="Week 2010-05-29 is not a week of the feed: the MTA never published a file for it .* nothing to fetch .* 2010-05-22 and 2010-06-05"):
            weeks("2010-05-29")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("2099-01-03", r"after 2024-02-17, the feed's last week \(MTA_TURNSTILE_LAST_WEEK"),
        ("2010-04-24", "before 2010-05-01, the week of the MTA's first turnstile file"),
        ("2023-06-04", "is a Sunday: weeks are keyed by Saturdays .* the nearest week is 2023-06-03"),
        ("2023-06-07", "is a Wednesday: weeks are keyed by Saturdays .* the nearest week is 2023-06-10"),
        ("2010-05-30", "is a Sunday: weeks are keyed by Saturdays .* the nearest week is 2010-06-05"),
        ("last week", "is not a date"),
    ],
)
def test_weeks_outside_the_partitions_are_refused_with_the_week_named(key, message):
    with pytest.raises(WeekOutOfRange, match=message) as raised:
        week_of(key)
    assert key in str(raised.value)
