"""Weekly partitions keyed by Saturdays: partition S is the MTA file holding the seven days before S.

The feed ran from May 2010 (legacy layout until 2014-10-11, modern from 2014-10-18) until the MTA
retired it; its last week is a setting, MTA_TURNSTILE_LAST_WEEK, so the partitions end where files can
exist. A few weeks break the Saturday rule; they are in IRREGULAR_WEEKS and NEVER_PUBLISHED, the one place
that knows them. A week never published is no partition at all (Dagster's `exclusions`): no run, backfill
or sensor can ask for it.
"""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from typing import TypeVar

from dagster import WeeklyPartitionsDefinition

from mta_assets.lib.errors import ConfigurationError

TIMEZONE = "America/New_York"
# The partition of the first file, turnstile_100505.txt (see IRREGULAR_WEEKS).
FIRST_WEEK = date(2010, 5, 1)
# turnstile_141018.txt is the first file in the modern (one reading per line) layout.
FIRST_MODERN_WEEK = date(2014, 10, 18)
# The last file known to exist (turnstile_240217.txt); the MTA's exact last one is not known.
LAST_KNOWN_WEEK = date(2024, 2, 17)
# The stored weeks this far either side of a week are its neighbours, which its completeness is judged against.
NEIGHBOUR_WEEKS = 8
T = TypeVar("T")


@dataclass(frozen=True)
class IrregularWeek:
    """A week whose file is not turnstile_<its Saturday>.txt, but another name."""

    file_stem: str
    why: str


# From a saved copy of the MTA's list of files (../shared/mta-turnstile-format.md). What the Wednesday and
# Monday files cover is not confirmed: their readings are checked against the partition's seven days like
# every file's, and a file that does not fit them is refused with the dates it holds.
IRREGULAR_WEEKS = {
    date(2010, 5, 1): IrregularWeek("turnstile_100505", "the first file is dated Wednesday 2010-05-05"),
    date(2011, 12, 17): IrregularWeek("turnstile_111219", "its file was published as Monday 2011-12-19"),
}
# Weeks of the feed for which the MTA never published a file, and why that is known. They are excluded
# from every week partition (turnstile and unified ridership alike: no source has them), so "select all"
# in the UI backfills only weeks that can be fetched.
NEVER_PUBLISHED = {
    date(2010, 5, 29): "the MTA never published a file for it (its list goes from 100522 to 100605)",
}
# A partition is keyed by its window's start, the Saturday at midnight in TIMEZONE.
_EXCLUSIONS = [datetime.combine(week, time()) for week in NEVER_PUBLISHED]


class WeekOutOfRange(ValueError):
    """A partition key that is not a Saturday between the feed's first and last weeks."""


def feed_last_week(environ=os.environ) -> date:
    """MTA_TURNSTILE_LAST_WEEK: the feed's last Saturday (default 2024-02-17), checked."""
    value = environ.get("MTA_TURNSTILE_LAST_WEEK", "").strip()
    if not value:
        return LAST_KNOWN_WEEK
    try:
        week = date.fromisoformat(value)
    except ValueError:
        week = None
    if week is None or week.weekday() != 5 or week < FIRST_WEEK:
        raise ConfigurationError(
            f"MTA_TURNSTILE_LAST_WEEK={value!r} is not a Saturday (YYYY-MM-DD) on or after {FIRST_WEEK}: set it "
            f"to the feed's last week, for example {LAST_KNOWN_WEEK} (the last file known to exist), or unset it."
        )
    return week


def feed_partitions(last_week: date) -> WeeklyPartitionsDefinition:
    """Saturday-keyed weeks from the feed's first to `last_week`, or to the last Saturday if that is earlier.

    day_offset=6 starts each week on Saturday; end_offset=1 makes a Saturday's partition exist from that
    Saturday on; the end (exclusive) is the week after `last_week`.
    """
    return WeeklyPartitionsDefinition(
        start_date=FIRST_WEEK.isoformat(),
        end_date=(last_week + timedelta(weeks=1)).isoformat(),
        day_offset=6,
        end_offset=1,
        timezone=TIMEZONE,
        exclusions=_EXCLUSIONS,
    )


weekly_partitions = feed_partitions(feed_last_week())

# Hourly ridership starts on 2017-01-01 (t69i-h2me, unconfirmed): the first week holding it is the one
# to Saturday 2017-01-07, and the weeks go on to the latest Saturday.
FIRST_HOURLY_WEEK = date(2017, 1, 7)


def open_ended_partitions(first_week: date) -> WeeklyPartitionsDefinition:
    """Saturday-keyed weeks from `first_week` to the latest Saturday (a Saturday's week exists from that day on),
    without the weeks never published."""
    return WeeklyPartitionsDefinition(
        start_date=first_week.isoformat(), day_offset=6, end_offset=1, timezone=TIMEZONE, exclusions=_EXCLUSIONS
    )


# Hourly ridership's weeks from its first, and the unified ridership's from the feed's first, to the latest Saturday.
# The unified weeks leave out the week never published too: no source has it (hourly ridership starts in
# 2017), so it could only be a partition missing for ever, and "select all" on them would fail it. Around
# it, a time-window mapping counts partitions, not days: station_daily_ridership's "this and the previous
# week" of 2010-06-05 is 2010-05-22 and 2010-06-05. Its SQL reads 2010-05-22 in a run that holds both, but
# never differences readings two weeks apart (station_daily_ridership.sql), so 2010-06-05's first readings
# have nothing to difference against, as at the feed's first week; the lineage edge to 2010-05-22 only
# makes a reload of that week recompute 2010-06-05 to the same numbers.
hourly_partitions = open_ended_partitions(FIRST_HOURLY_WEEK)
ridership_partitions = open_ended_partitions(FIRST_WEEK)


@dataclass(frozen=True)
class Weeks:
    """A range of Saturday-keyed partitions, with what bounds it, for the messages of keys outside it."""

    partitions: WeeklyPartitionsDefinition
    first_is: str
    last_is: str

    def first(self) -> date:
        return date.fromisoformat(self.partitions.get_first_partition_key())

    def last(self) -> date:
        return date.fromisoformat(self.partitions.get_last_partition_key())

    def nearest(self, day: date) -> date:
        """The valid week closest to `day`: the nearest Saturday, kept within the partitions (a week never
        published gives the week after it)."""
        saturday = day + timedelta(days=(5 - day.weekday() + 3) % 7 - 3)
        if saturday in NEVER_PUBLISHED:
            saturday += timedelta(weeks=1)
        return min(max(saturday, self.first()), self.last())

    def week_of(self, partition_key: str) -> date:
        """The Saturday a partition key names, checked against the range."""
        try:
            week = datetime.strptime(partition_key, "%Y-%m-%d").date()
        except ValueError:
            raise WeekOutOfRange(
                f"Week {partition_key!r} is not a date: weeks are keyed by Saturdays written YYYY-MM-DD, for "
                f"example {self.last()}."
            ) from None
        if week.weekday() != 5:
            raise WeekOutOfRange(
                f"Week {partition_key} is a {week:%A}: weeks are keyed by Saturdays (the last day before the "
                f"week's end); the nearest week is {self.nearest(week)}."
            )
        if week < self.first():
            raise WeekOutOfRange(f"Week {partition_key} is before {self.first()}, {self.first_is}; the nearest week is {self.first()}.")
        if week > self.last():
            raise WeekOutOfRange(f"Week {partition_key} is after {self.last()}, {self.last_is}; the nearest week is {self.last()}.")
        if week in NEVER_PUBLISHED:
            raise WeekOutOfRange(
                f"Week {partition_key} is not a week of the feed: {NEVER_PUBLISHED[week]}. There is nothing to fetch "
                f"for it, now or later; the weeks around it are {week - timedelta(weeks=1)} and {week + timedelta(weeks=1)}."
            )
        return week


TURNSTILE_WEEKS = Weeks(
    weekly_partitions,
    "the week of the MTA's first turnstile file",
    "the feed's last week (MTA_TURNSTILE_LAST_WEEK, or the last Saturday)",
)
HOURLY_WEEKS = Weeks(hourly_partitions, "the first week of hourly ridership (from 2017-01-01)", "the latest Saturday")
RIDERSHIP_WEEKS = Weeks(ridership_partitions, "the week of the MTA's first turnstile file", "the latest Saturday")


def latest_week() -> date:
    """The newest turnstile partition: the feed's last week, or the last Saturday if that is earlier."""
    return TURNSTILE_WEEKS.last()


def week_of(partition_key: str) -> date:
    """The Saturday a turnstile partition key names, checked against the feed's weeks."""
    return TURNSTILE_WEEKS.week_of(partition_key)


def file_stem(week: date) -> str:
    """The MTA's name for a week's file, without extension: turnstile_230603 (IRREGULAR_WEEKS aside)."""
    if week in IRREGULAR_WEEKS:
        return IRREGULAR_WEEKS[week].file_stem
    return f"turnstile_{week:%y%m%d}"


def week_bounds(week: date) -> tuple[datetime, datetime]:
    """The times of the week keyed by Saturday `week`: from the Saturday before, up to (not including) `week`."""
    return datetime.combine(week - timedelta(days=7), time()), datetime.combine(week, time())


def week_days(week: date) -> list[date]:
    """The seven service days of the week keyed by Saturday `week`: Saturday before it to the Friday."""
    return [week - timedelta(days=7 - offset) for offset in range(7)]


def weeks_near(week: date, stored: Mapping[date, T]) -> dict[date, T]:
    """The stored weeks within NEIGHBOUR_WEEKS of `week`, itself excluded."""
    span = timedelta(weeks=NEIGHBOUR_WEEKS)
    return {other: value for other, value in stored.items() if other != week and abs(other - week) <= span}


def weeks_around(weeks: Sequence[date]) -> list[date]:
    """The weeks within NEIGHBOUR_WEEKS of any of `weeks`, themselves included: whose recorded facts they compare with."""
    return sorted({week + timedelta(weeks=offset) for week in weeks for offset in range(-NEIGHBOUR_WEEKS, NEIGHBOUR_WEEKS + 1)})
