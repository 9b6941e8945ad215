"""What a complete week of hourly ridership holds, as the lake check on hourly_ridership_lake verifies it.

Unlike a turnstile week (devices read every ~4 hours, mta_assets/turnstile/completeness.py), an hourly week is rows
per station complex and hour: it is whole when every one of its 168 hours has rows system-wide, every day
has about as many station complexes as usual (as the stored weeks around it record, or, with none stored,
as the week's own fullest day), and no day holds far fewer rows than the week's median day (a day loaded
in part). The source refuses a week missing hours before it is stored (hourly/source.py); this check
verifies what the lake holds.
"""

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
from dagster import AssetCheckResult, AssetKey, DagsterInstance

from mta_assets.asset_keys import HOURLY_RIDERSHIP_LAKE
from mta_assets.lake.facts import latest_facts
from mta_assets.lake.resource import RecordedWeeks
from mta_assets.lib.check_results import weeks_result
from mta_assets.hourly.source import hour_spans, published_hours
from mta_assets.partitions import HOURLY_WEEKS, week_days, weeks_around, weeks_near

# Every day has station complexes of at least this share of the usual number: stations close for works
# one at a time; a day missing a borough or a feed falls far below.
MIN_COMPLEXES_SHARE = 0.9
# Every day holds at least this share of the rows of the week's median day (weekends and holidays have
# fewer riders, but nearly the same rows: a row is a complex, hour and fare class with any riders).
MIN_DAY_ROWS_SHARE = 0.5


@dataclass(frozen=True)
class HourlyWeekShape:
    """The hours with rows, and the rows and station complexes of each of the week's seven days."""

    hours: frozenset[datetime]
    rows_by_day: Mapping[date, int]
    complexes_by_day: Mapping[date, int]

    @classmethod
    def of(cls, batches: Iterable[pa.RecordBatch | pa.Table], week: date) -> "HourlyWeekShape":
        """From the week's rows (at least transit_timestamp and station_complex_id), a batch at a time: a week
        is never held whole."""
        hours: set[datetime] = set()
        rows_by_day: Counter[date] = Counter()
        complexes: set[tuple[date, str]] = set()
        for batch in batches:
            days = pc.cast(batch["transit_timestamp"], pa.date32())
            hours.update(pc.unique(pc.floor_temporal(batch["transit_timestamp"], unit="hour")).to_pylist())
            per_day = pa.table({"day": days, "complex": batch["station_complex_id"]}).group_by(["day", "complex"]).aggregate([([], "count_all")])
            for day, complex_id, count in zip(*(per_day[name].to_pylist() for name in ("day", "complex", "count_all"))):
                rows_by_day[day] += count
                complexes.add((day, complex_id))
        complexes_by_day = Counter(day for day, _ in complexes)
        return cls(
            hours=frozenset(hours),
            rows_by_day={day: rows_by_day[day] for day in week_days(week)},
            complexes_by_day={day: complexes_by_day[day] for day in week_days(week)},
        )


def hourly_shortfalls(shape: HourlyWeekShape, week: date, neighbours: Mapping[date, int]) -> list[str]:
    """What the week lacks, each said with the numbers; empty if it is complete.

    `neighbours`: the station complexes recorded for the stored weeks around it.
    """
    every_hour = published_hours(week)
    found = []
    missing = [hour for hour in every_hour if hour not in shape.hours]
    if missing:
        found.append(f"no rows in {len(missing)} of its {len(every_hour)} hours ({hour_spans(missing)})")
    if neighbours:
        usual = statistics.median(neighbours.values())
        around = f"the median of the {len(neighbours)} stored weeks {min(neighbours)} to {max(neighbours)}"
    else:
        usual = max(shape.complexes_by_day.values())
        around = "its fullest day; no week around it is stored to compare with"
    for day, complexes in shape.complexes_by_day.items():
        if complexes and complexes < MIN_COMPLEXES_SHARE * usual:
            found.append(f"{complexes:,} station complexes on {day:%A} {day} where a day has about {usual:,.0f} ({around})")
    median_rows = statistics.median(shape.rows_by_day.values())
    for day, rows in shape.rows_by_day.items():
        if rows and rows < MIN_DAY_ROWS_SHARE * median_rows:
            found.append(f"{rows:,} rows on {day:%A} {day}, {rows / median_rows:.0%} of the week's median day ({median_rows:,.0f})")
    return found


def recorded_complexes(instance: DagsterInstance, asset_key: AssetKey, weeks: Sequence[date]) -> dict[date, int]:
    """The station complexes that the latest materialization of each week around `weeks` recorded."""
    return {
        week: facts.station_complexes
        for week, facts in latest_facts(instance, asset_key, weeks_around(weeks)).items()
        if facts.station_complexes is not None
    }


def hourly_lake_result(instance: DagsterInstance, recorded: RecordedWeeks) -> AssetCheckResult:
    """hourly_lake_week_complete for a run's weeks, read from their recorded objects a batch at a time (one
    result for the run's weeks, naming the failing ones, as the turnstile lake checks do)."""
    weeks = [HOURLY_WEEKS.week_of(key) for key in recorded]
    complexes = recorded_complexes(instance, HOURLY_RIDERSHIP_LAKE, weeks)
    short, hours = {}, {}
    for week, stored in zip(weeks, recorded.values()):
        shape = HourlyWeekShape.of(stored.lake_week.batches(["transit_timestamp", "station_complex_id"]), week)
        hours[str(week)] = len(shape.hours)
        if found := hourly_shortfalls(shape, week, weeks_near(week, complexes)):
            short[week] = "; ".join(found)
    return weeks_result(
        short, {"hours_with_rows": hours}, blocking=True, check_name="hourly_lake_week_complete", asset_key=HOURLY_RIDERSHIP_LAKE
    )
