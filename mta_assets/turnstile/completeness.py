"""What a complete turnstile week holds, and the refusal of a week that holds far less.

A week cut short parses cleanly: a download that ended at a line break without a Content-Length, a
mirror's partial copy holding half the turnstiles, an excerpt. Only its shape tells: real weeks hold
about 4,500-5,100 turnstiles, each read about every 4 hours (about 42 readings a week) on all seven days
(../shared/mta-turnstile-format.md: about 5,000 turnstiles, 195,000-255,000 lines). A week is compared
with the stored weeks around it; with none stored, with the floor of the feed's own range.
"""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetKey, DagsterInstance

from mta_assets.lake.facts import latest_facts
from mta_assets.partitions import FIRST_MODERN_WEEK, week_days, weeks_around, weeks_near

# With no stored week around it, a week must hold this many turnstiles (MTA_MIN_WEEK_DEVICES): 80% of the
# fewest a real week holds. A half-cut file (about 2,400) and the excerpts (hundreds) fall below it.
DEFAULT_MIN_DEVICES = 3_600
# Readings every ~4 hours make about 42 a turnstile a week; half of that is a week cut in time.
MIN_READINGS_PER_DEVICE = 21
# Every day of the week has readings from at least this share of the week's turnstiles.
MIN_DAY_SHARE = 0.5
# A week holds at least these shares of its neighbours' (partitions.NEIGHBOUR_WEEKS) median turnstiles and
# readings. Turnstiles change by a few a week (new and removed machines).
MIN_DEVICES_SHARE_OF_NEIGHBOURS = 0.85
MIN_READINGS_SHARE_OF_NEIGHBOURS = 0.75
DEVICE = ["control_area", "unit", "scp"]
T = TypeVar("T")


@dataclass(frozen=True)
class WeekShape:
    """How much a week holds: turnstiles, readings, and the turnstiles reporting on each of its seven days."""

    devices: int
    readings: int
    devices_by_day: Mapping[date, int]

    @classmethod
    def of(cls, readings: pa.Table, week: date) -> "WeekShape":
        """From the week's readings (at least control_area, unit, scp and reading_at)."""
        days = readings.select(DEVICE).append_column("day", pc.cast(readings["reading_at"], pa.date32()))
        per_day = days.group_by([*DEVICE, "day"]).aggregate([]).group_by("day").aggregate([([], "count_all")])
        counted = dict(zip(per_day["day"].to_pylist(), per_day["count_all"].to_pylist()))
        return cls(
            devices=readings.select(DEVICE).group_by(DEVICE).aggregate([]).num_rows,
            readings=readings.num_rows,
            devices_by_day={day: counted.get(day, 0) for day in week_days(week)},
        )


@dataclass(frozen=True)
class Neighbour:
    """A stored week's size, as its lake materialization recorded it."""

    devices: int
    readings: int


def neighbours_of(week: date, stored: Mapping[date, T]) -> dict[date, T]:
    """The stored weeks near `week` (partitions.weeks_near) of the same turnstile layout: a legacy line also
    carries door and log-on events, so readings a week need not compare across the change."""
    modern = week >= FIRST_MODERN_WEEK
    return {other: size for other, size in weeks_near(week, stored).items() if (other >= FIRST_MODERN_WEEK) == modern}


def shortfalls(shape: WeekShape, neighbours: Mapping[date, Neighbour], min_devices: int) -> list[str]:
    """What the week lacks against a complete week, each said with the numbers; empty if it is complete."""
    found = []
    if neighbours:
        devices = statistics.median(size.devices for size in neighbours.values())
        readings = statistics.median(size.readings for size in neighbours.values())
        around = f"the median of the {len(neighbours)} stored weeks {min(neighbours)} to {max(neighbours)}"
        if shape.devices < MIN_DEVICES_SHARE_OF_NEIGHBOURS * devices:
            found.append(f"{shape.devices:,} turnstiles where a complete week holds about {devices:,.0f} ({around})")
        if shape.readings < MIN_READINGS_SHARE_OF_NEIGHBOURS * readings:
            found.append(f"{shape.readings:,} readings where a complete week holds about {readings:,.0f} ({around})")
    else:
        if shape.devices < min_devices:
            found.append(
                f"{shape.devices:,} turnstiles where a complete week holds at least {min_devices:,} (MTA_MIN_WEEK_DEVICES; "
                f"real weeks hold about 4,500-5,100, and no week around it is stored to compare with)"
            )
        if shape.readings < MIN_READINGS_PER_DEVICE * shape.devices:
            found.append(
                f"{shape.readings:,} readings, {shape.readings / max(shape.devices, 1):.1f} a turnstile, where a complete "
                f"week has about 42 (one every ~4 hours)"
            )
    for day, devices in shape.devices_by_day.items():
        if devices < MIN_DAY_SHARE * shape.devices:
            found.append(f"{'no readings' if not devices else f'readings of only {devices:,} of the {shape.devices:,} turnstiles'} on {day:%A} {day}")
    return found


class ShortWeek(ValueError):
    """A week holding far fewer turnstiles, readings or days than a complete one."""


def refuse_if_short(
    week: date, what: str, shape: WeekShape, neighbours: Mapping[date, Neighbour], min_devices: int, accepted: bool
) -> list[str]:
    """The week's shortfalls; ShortWeek naming them unless the operator accepted the week as short.

    `what` names the week's file or dataset for the message.
    """
    found = shortfalls(shape, neighbours, min_devices)
    if found and not accepted:
        raise ShortWeek(
            f"Week {week}: {what} is not a complete week: it holds " + "; ".join(found) + ". It looks cut short (a "
            f"download that ended early, a partial copy on a mirror, an excerpt), so it is not stored. Fetch it again "
            f"from a complete source; if the week is genuinely short, accept it with MTA_ACCEPT_SHORT_WEEKS={week} "
            f"(comma-separated Saturdays) and materialize it again."
        )
    return found


def recorded_sizes(instance: DagsterInstance, asset_key: AssetKey, weeks: Sequence[date]) -> dict[date, Neighbour]:
    """The sizes that the latest materialization of each week around `weeks` (partitions.weeks_around) recorded
    (weeks stored before sizes were recorded are left out)."""
    return {
        week: Neighbour(facts.turnstiles, facts.rows)
        for week, facts in latest_facts(instance, asset_key, weeks_around(weeks)).items()
        if facts.turnstiles is not None and facts.rows is not None
    }
