"""What every warehouse offers the assets."""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from dagster import ConfigurableResource

from mta_assets.lake.week import LakeWeek
from mta_assets.lib.tables import TURNSTILE, Table


@dataclass(frozen=True)
class WeekLoad:
    """What replacing a week of a table with its lake object did."""

    table: str
    rows: int
    replaced_rows: int
    first_reading: datetime | None  # the first and last value of the table's time column
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
    """Loads lake weeks into their tables (`turnstile`, `hourly_ridership`), replacing exactly those weeks atomically."""

    @abstractmethod
    def week_row_counts(self, weeks: Sequence[date], table: Table = TURNSTILE) -> dict[date, int]:
        """Rows of each week in `table` (0 for a week not loaded, or no table yet)."""

    @abstractmethod
    def replace_weeks(self, lake_weeks: Sequence[LakeWeek]) -> list[WeekLoad]:
        """Make each week's rows in its dataset's table exactly its lake object's rows, all in one transaction.

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


def load_table(lake_weeks: Sequence[LakeWeek]) -> Table:
    """The one table a run's lake weeks load into."""
    tables = {lake_week.dataset.table for lake_week in lake_weeks}
    if len(tables) != 1:
        raise ValueError(f"A load takes the weeks of one table, not {', '.join(sorted(table.name for table in tables))}.")
    return tables.pop()


def sql_dates(weeks) -> str:
    """Weeks as SQL date literals: the emulator takes no query parameters inside scripts, so both use these."""
    return ", ".join(f"DATE '{week.isoformat()}'" for week in weeks)


def sql_string(value: str) -> str:
    """A string literal both warehouses read alike: BigQuery escapes a quote with a backslash, DuckDB by
    doubling it, so quotes are spliced in with CHR(39)."""
    if "'" not in value:
        return f"'{value}'"
    return "CONCAT(" + ", CHR(39), ".join(f"'{part}'" for part in value.split("'")) + ")"
