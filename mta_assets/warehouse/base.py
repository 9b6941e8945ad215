"""What every warehouse offers the assets."""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from dagster import ConfigurableResource

from mta_assets.lake.week import LakeWeek
from mta_assets.lib.tables import Table


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

    @abstractmethod
    def week_row_counts(self, weeks: Sequence[date]) -> dict[date, int]:
        """Rows of each week in the turnstile table (0 for a week not loaded, or no table yet)."""

    @abstractmethod
    def replace_weeks(self, lake_weeks: Sequence[LakeWeek]) -> list[WeekLoad]:
        """Make each week's rows in `turnstile` exactly its lake object's rows, all in one transaction.

        Loading a run's weeks together costs a fraction of loading them one by one (one transaction,
        one checkpoint or load job); other weeks are untouched, and no reader sees a week twice or gone.
        """

    @abstractmethod
    def name(self, table: str) -> str:
        """The table's name as this warehouse's SQL refers to it."""

    @abstractmethod
    def query(self, sql: str) -> list[tuple]:
        """Rows of a query (the SQL is shared by both warehouses)."""

    @abstractmethod
    def replace_weeks_with(self, table: Table, weeks: Sequence[date], select_sql: str) -> dict[date, int]:
        """Replace the weeks' rows of `table` with the rows of `select_sql`, in one transaction.

        Creates the table (partitioned by week_ending) when it is missing; returns rows by week.
        """


def sql_dates(weeks) -> str:
    """Weeks as SQL date literals: the emulator takes no query parameters inside scripts, so both use these."""
    return ", ".join(f"DATE '{week.isoformat()}'" for week in weeks)
