"""What every warehouse offers the assets."""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from dagster import ConfigurableResource

from mta_assets.lake import LakeWeek

TURNSTILE_TABLE = "turnstile"


@dataclass(frozen=True)
class WeekLoad:
    """What replacing a week in the turnstile table did."""

    table: str
    rows: int
    replaced_rows: int
    first_reading: datetime | None
    last_reading: datetime | None


def week_loads(
    table: str,
    lake_weeks: Sequence[LakeWeek],
    replaced: Mapping[date, int],
    loaded: Mapping[date, tuple[int, datetime, datetime]],
) -> list[WeekLoad]:
    """One WeekLoad per lake week, from row counts by week before (`replaced`) and after (`loaded`)."""
    loads = []
    for lake_week in lake_weeks:
        rows, first, last = loaded.get(lake_week.week, (0, None, None))
        loads.append(WeekLoad(table, rows, replaced.get(lake_week.week, 0), first, last))
    return loads


class Warehouse(ConfigurableResource, ABC):
    """Loads lake weeks into the `turnstile` table, replacing exactly those weeks atomically."""

    @property
    @abstractmethod
    def kind(self) -> str: ...

    @abstractmethod
    def week_row_count(self, week: date) -> int:
        """Rows of `week` in the turnstile table (0 when the table does not exist yet)."""

    @abstractmethod
    def replace_weeks(self, lake_weeks: Sequence[LakeWeek]) -> list[WeekLoad]:
        """Make each week's rows in `turnstile` exactly its lake object's rows, all in one transaction.

        Loading a run's weeks together costs a fraction of loading them one by one (one transaction,
        one checkpoint or load job); other weeks are untouched, and no reader sees a week twice or gone.
        """

    def replace_week(self, lake_week: LakeWeek) -> WeekLoad:
        return self.replace_weeks([lake_week])[0]
