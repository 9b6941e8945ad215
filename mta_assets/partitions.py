"""Weekly partitions keyed by the Saturday that names each MTA turnstile file."""

from datetime import date, datetime, timedelta

from dagster import WeeklyPartitionsDefinition

# turnstile_141018.txt is the first file in the modern (one reading per line) layout.
FIRST_WEEK = date(2014, 10, 18)
TIMEZONE = "America/New_York"

# day_offset=6 starts each week on Saturday; end_offset=1 makes a Saturday's partition exist from that
# Saturday on (the file is dated by the Saturday that ends the week it covers).
weekly_partitions = WeeklyPartitionsDefinition(
    start_date=FIRST_WEEK.isoformat(),
    day_offset=6,
    end_offset=1,
    timezone=TIMEZONE,
)


class WeekOutOfRange(ValueError):
    """A partition key that is not a Saturday between the first modern file and today."""


def week_of(partition_key: str) -> date:
    """The Saturday a partition key names, checked against the partition range."""
    try:
        week = datetime.strptime(partition_key, "%Y-%m-%d").date()
    except ValueError:
        raise WeekOutOfRange(
            f"Week {partition_key!r} is not a date: partition keys are Saturdays written YYYY-MM-DD, "
            f"for example 2023-06-03."
        ) from None
    if week.weekday() != 5:
        raise WeekOutOfRange(
            f"Week {partition_key} is a {week:%A}: MTA files are dated by Saturdays; "
            f"use {week + timedelta(days=(5 - week.weekday()) % 7)} or the Saturday before it."
        )
    if week < FIRST_WEEK:
        raise WeekOutOfRange(
            f"Week {partition_key} is before {FIRST_WEEK}, the first file in the modern layout; "
            f"earlier (legacy layout) files are not supported."
        )
    last = weekly_partitions.get_last_partition_key()
    if last is None or partition_key > last:
        raise WeekOutOfRange(
            f"Week {partition_key} is in the future (the latest week is {last}); its file is published "
            f"after that Saturday."
        )
    return week


def file_stem(week: date) -> str:
    """The MTA's name for a week's file, without extension: turnstile_230603."""
    return f"turnstile_{week:%y%m%d}"
