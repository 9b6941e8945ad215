"""What every warehouse offers the assets, and the one place SQL is rendered for them."""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib.abc import Traversable
from importlib.resources import files

from dagster import ConfigurableResource
from pydantic import Field

from mta_assets.lake.week import LakeWeek
from mta_assets.lib.tables import TURNSTILE, Table

WAREHOUSE_SQL = files("mta_assets.warehouse.sql")


class Sql(str):
    """SQL text put into another as it is: a column name, or a list of expressions over columns."""


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
    def string_literal(self, value: str) -> str:
        """A string as a literal of this warehouse's SQL."""

    @abstractmethod
    def query(self, sql: str) -> list[tuple]:
        """Rows of a query (SQL from `render`)."""

    weeks_per_query: int | None = Field(
        default=None, ge=1, description="How many of a run's weeks one query of a ridership table computes; none: all of them."
    )

    @abstractmethod
    def replace_weeks_with(self, table: Table, weeks: Sequence[date], selects: Sequence[str]) -> dict[date, int]:
        """Replace the weeks' rows of `table` with the rows of the `selects` (one query per group of
        `weeks_per_query` weeks), all in one transaction: a failing one leaves every week as it was.

        Creates the table (partitioned by week_ending) when it is missing; returns rows by week.
        """

    def literal(self, value: date | int | str) -> str:
        """A value as a literal of this warehouse's SQL. Dates and numbers read alike in both; strings do not
        (BigQuery escapes a quote with a backslash, DuckDB doubles it)."""
        if isinstance(value, datetime) or isinstance(value, bool):
            raise TypeError(f"No SQL literal for {value!r}: the shared SQL takes dates, integers and strings.")
        if isinstance(value, date):
            return f"DATE '{value.isoformat()}'"
        if isinstance(value, int):
            return str(value)
        return self.string_literal(value)

    def render(self, sql_file: Traversable, **values) -> str:
        """The SQL file with each {name} filled in, in this warehouse's dialect: a Table as its name, Sql as it
        is, a list of rows (mappings) as a query of literal rows, another list as its literals separated by
        commas, and a date, integer or string as a literal.

        Values go in as literals, never as query parameters: the emulator takes none inside scripts.
        """
        return sql_file.read_text().format(**{name: self._rendered(value) for name, value in values.items()})

    def _rendered(self, value) -> str:
        if isinstance(value, Table):
            return self.name(value.name)
        if isinstance(value, Sql):
            return value
        if isinstance(value, (list, tuple)) and value and all(isinstance(item, Mapping) for item in value):
            return self.rows_query(value)
        if isinstance(value, (list, tuple)):
            return ", ".join(self.literal(item) for item in value)
        return self.literal(value)

    def rows_query(self, rows: Sequence[Mapping]) -> str:
        """A query of literal rows (mappings of column to value, the same columns in each): one SELECT a row,
        joined by UNION ALL."""
        return "\n  UNION ALL ".join(
            "SELECT " + ", ".join(f"{self.literal(item)} AS {column}" for column, item in row.items()) for row in rows
        )

    def week_counts_sql(self, table: Table, weeks: Sequence[date]) -> str:
        """The query of each week's rows and first and last time (week_ending, rows, first, last)."""
        return self.render(WAREHOUSE_SQL / "week_counts.sql", table=table, time_column=Sql(table.time_column), weeks=weeks)

    def week_sums(self, table: Table, weeks: Sequence[date], columns: Sequence[str]) -> dict[date, tuple[int, list[int]]]:
        """Each week's rows and the sums of `columns` (0 when empty), for the weeks the table holds."""
        sums = Sql(", ".join(f"CAST(COALESCE(SUM({column}), 0) AS INT64)" for column in columns))
        sql = self.render(WAREHOUSE_SQL / "week_sums.sql", table=table, weeks=weeks, sums=sums)
        return {week: (rows, list(totals)) for week, rows, *totals in self.query(sql)}


def load_table(lake_weeks: Sequence[LakeWeek]) -> Table:
    """The one table a run's lake weeks load into."""
    tables = {lake_week.dataset.table for lake_week in lake_weeks}
    if len(tables) != 1:
        raise ValueError(f"A load takes the weeks of one table, not {', '.join(sorted(table.name for table in tables))}.")
    return tables.pop()

