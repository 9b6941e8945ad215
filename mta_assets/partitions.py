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
    """A partition key that is not a Saturday between the first modern file and the latest week."""


def latest_week() -> date:
    """The newest partition: the last Saturday, New York time."""
    return date.fromisoformat(weekly_partitions.get_last_partition_key())


def nearest_week(day: date) -> date:
    """The valid week closest to `day`: the nearest Saturday, kept within the partitions."""
    saturday = day + timedelta(days=(5 - day.weekday() + 3) % 7 - 3)
    return min(max(saturday, FIRST_WEEK), latest_week())


def week_of(partition_key: str) -> date:
    """The Saturday a partition key names, checked against the partition range."""
    try:
        week = datetime.strptime(partition_key, "%Y-%m-%d").date()
    except ValueError:
        raise WeekOutOfRange(
            f"Week {partition_key!r} is not a date: weeks are keyed by Saturdays written YYYY-MM-DD, for "
            f"example {latest_week()}."
        ) from None
    if week.weekday() != 5:
        raise WeekOutOfRange(
            f"Week {partition_key} is a {week:%A}: weeks are keyed by Saturdays (the date of the MTA's "
            f"file); the nearest week is {nearest_week(week)}."
        )
    if week < FIRST_WEEK:
        raise WeekOutOfRange(
            f"Week {partition_key} is before {FIRST_WEEK}, the first file in the modern layout; earlier "
            f"(legacy layout) weeks are not partitions, although the parser reads their files. The nearest "
            f"week is {FIRST_WEEK}."
        )
    if week > latest_week():
        raise WeekOutOfRange(
            f"Week {partition_key} is in the future: weeks are keyed by Saturdays that have passed; the "
            f"latest week is {latest_week()}."
        )
    return week


def file_stem(week: date) -> str:
    """The MTA's name for a week's file, without extension: turnstile_230603."""
    return f"turnstile_{week:%y%m%d}"
