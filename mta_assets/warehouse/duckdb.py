"""The embedded warehouse: a DuckDB file."""

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
from pydantic import Field

from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.week import LakeObjectUnreadable, LakeWeek
from mta_assets.lib.errors import ConfigurationError, is_disk_full
from mta_assets.lib.parquet import ROW_GROUP_ROWS
from mta_assets.lib.tables import TURNSTILE, Table
from mta_assets.warehouse.base import Warehouse, WeekLoad, load_table, week_loads

DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_MEMORY_LIMIT = "128MB"
# DuckDB names the process that holds its lock: 'Conflicting lock is held in /usr/bin/python3 (PID 1234)'.
_LOCK_HOLDER = re.compile(r"held in (.+?) \(PID (\d+)\)")


def _noting(batches: Iterator[pa.RecordBatch], unreadable: list) -> Iterator[pa.RecordBatch]:
    """The batches, keeping a LakeObjectUnreadable they raise where the caller finds it again."""
    try:
        yield from batches
    except LakeObjectUnreadable as error:
        unreadable.append(error)
        raise


# The environment variable behind a field, named in its errors.
_SETTINGS = {"memory_limit": " (MTA_DUCKDB_MEMORY_LIMIT)"}


class WarehouseLocked(RuntimeError):
    """Another process held the DuckDB file for longer than the warehouse waits."""


class WarehouseWriteFailed(RuntimeError):
    """DuckDB could not write a load (its COMMIT failed, or the disk is full); nothing of it was kept."""


def weeks_label(weeks: Sequence[date]) -> str:
    """'week 2023-06-03' or 'weeks 2023-01-07 to 2023-06-03', for messages; 'the warehouse' for none."""
    if not weeks:
        return "the warehouse"
    first, last = min(weeks), max(weeks)
    return f"week {first}" if first == last else f"weeks {first} to {last}"


class DuckDBWarehouse(Warehouse):
    """DuckDB at `path`, tables in `schema`."""

    path: str = Field(default=DEFAULT_DUCKDB_PATH, description="The DuckDB database file.")
    schema_name: str = Field(default="mta", description="Schema holding the tables.")
    lock_timeout_seconds: float = Field(
        default=120.0, description="How long to wait for another process that holds the file."
    )
    # A run process is about 270 MB once the definitions are loaded, and DuckDB's resident memory goes past its
    # limit (library pages, what it allocates outside its buffers): the 26-week runs of station_daily_ridership
    # grew a run by 1 GB without a limit, by about 260 MB at 200 MB, by about 190 MB at 128 MB (benchmarks.ridership).
    memory_limit: str = Field(
        default=DEFAULT_MEMORY_LIMIT,
        description="DuckDB's memory limit on every connection (MTA_DUCKDB_MEMORY_LIMIT, a DuckDB size: '512MB', '2GB'), "
        "spilling beyond it to the folder beside the file (<file>.tmp).",
    )
    # A few weeks a query, not a run's 26: each query of station_daily_ridership then reads 5 weeks of readings
    # instead of 27 for its window functions (ROW_NUMBER, LAG), so less of it spills past the memory limit.
    # Measured over real-size weeks at 128 MB (26 weeks, interleaved, busy 2 cores): 4 a query 6.6-10.7 s,
    # all 26 at once 10.2-14.1 s, one a query 11.5-16.0 s (26 queries reading each week twice); peaks within
    # 7 MB of each other, the memory limit bounds them all.
    weeks_per_query: int | None = Field(
        default=4, ge=1, description="How many of a run's weeks one query of a ridership table computes, all in one transaction."
    )
    load_memory_limit: str = Field(
        default="32MB", description="DuckDB's memory limit while it loads lake weeks (a DuckDB size: '64MB', '1GB')."
    )

    def name(self, table: str) -> str:
        return f"{self.schema_name}.{table}"

    def string_literal(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def rows_query(self, rows: Sequence[Mapping]) -> str:
        """A query of literal rows as one VALUES list. As a UNION ALL of one SELECT a row, the unit-to-complex key's
        455 rows made daily_ridership's join of 26 weeks run out of memory at a 200 MB limit (measured); as VALUES
        it needs a few MB."""
        values = ",\n  ".join("(" + ", ".join(self.literal(item) for item in row.values()) + ")" for row in rows)
        return f"SELECT * FROM (VALUES\n  {values}\n) AS literal_rows ({', '.join(rows[0])})"

    def query(self, sql: str) -> list[tuple]:
        with self.connect() as connection:
            return connection.execute(sql).fetchall()

    def replace_weeks_with(self, table: Table, weeks: Sequence[date], selects: Sequence[str]) -> dict[date, int]:
        name = self.name(table.name)
        with self.connect(weeks) as connection:
            self._create_table(connection, table)
            with self.transaction(connection, weeks):
                self._delete_weeks(connection, table, weeks)
                for select_sql in selects:  # one after the other, each within the memory limit
                    connection.execute(f"INSERT INTO {name} ({', '.join(table.column_names)}) {select_sql}")
                loaded = self._week_counts(connection, table, weeks)
        return {week: loaded.get(week, (0,))[0] for week in weeks}

    def _week_counts(self, connection: duckdb.DuckDBPyConnection, table: Table, weeks: Sequence[date]) -> dict[date, tuple[int, datetime, datetime]]:
        return {week: tuple(counts) for week, *counts in connection.execute(self.week_counts_sql(table, weeks)).fetchall()}

    def _delete_weeks(self, connection: duckdb.DuckDBPyConnection, table: Table, weeks: Sequence[date]) -> None:
        connection.execute(f"DELETE FROM {self.name(table.name)} WHERE week_ending IN ({self._rendered(list(weeks))})")

    @contextmanager
    def transaction(self, connection: duckdb.DuckDBPyConnection, weeks: Sequence[date]) -> Iterator[None]:
        """One transaction for the weeks: rolled back if its statements fail, and a failed COMMIT (which
        DuckDB has already rolled back, so a ROLLBACK would only say `no transaction is active`) or a full
        disk is raised naming the weeks, MTA_DUCKDB_PATH and the cause."""
        connection.begin()
        try:
            yield
        except BaseException as error:
            try:
                connection.rollback()
            except duckdb.TransactionException:
                pass  # the failing statement has ended the transaction already; its error is the one raised
            if is_disk_full(error):
                raise self._write_failed(weeks, error) from None  # the message quotes the cause: the run shows its innermost error
            raise
        try:
            connection.commit()
        except duckdb.Error as error:
            raise self._write_failed(weeks, error) from None

    def _write_failed(self, weeks: Sequence[date], error: BaseException) -> WarehouseWriteFailed:
        label = weeks_label(weeks)
        remedy = (
            f"Free space on the disk that holds {self.path} (and its spill folder {self.path}.tmp), or point "
            f"MTA_DUCKDB_PATH at a disk with room"
            if is_disk_full(error)
            else "Correct the cause, or point MTA_DUCKDB_PATH at another file"
        )
        return WarehouseWriteFailed(
            f"{label.capitalize()}: the DuckDB warehouse MTA_DUCKDB_PATH={self.path!r} could not write the load "
            f"({error}); the transaction was rolled back, so {label} {'is' if len(weeks) == 1 else 'are'} as before. "
            f"{remedy}, then materialize {label} again."
        )

    @contextmanager
    def connect(self, weeks: Sequence[date] = ()):
        """A connection; waits while another process holds DuckDB's one-writer lock on the file.

        `weeks` are what the connection is for, named in the errors: a file that cannot be opened (the
        setting's fault) and a lock held past `lock_timeout_seconds` (another process's).
        """
        deadline = time.monotonic() + self.lock_timeout_seconds
        while True:
            connection = duckdb.connect(
                config={
                    # What does not fit the memory limit spills beside the database, not into the working directory.
                    "temp_directory": f"{self.path}.tmp",
                    # Row order in the table means nothing; without it DuckDB inserts on all cores.
                    "preserve_insertion_order": False,
                }
            )
            # Set before the file is attached, so that everything the connection does is held to it.
            self._set_memory_limit(connection, "memory_limit")
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                # Each load appends to the table's last, partly filled row group, which DuckDB rewrites
                # at checkpoint: with the default 122,880-row groups that rewrite cost as much as the
                # load itself; a quarter of that size makes it negligible. An ATTACH option only: neither
                # kept in the file nor a setting of duckdb.connect.
                connection.execute(f"ATTACH ? AS warehouse (ROW_GROUP_SIZE {ROW_GROUP_ROWS})", [self.path])
                connection.execute("USE warehouse")
                break
            except (duckdb.IOException, OSError) as error:
                connection.close()
                if "Could not set lock" not in str(error):
                    raise ConfigurationError(
                        f"{weeks_label(weeks).capitalize()}: the DuckDB warehouse MTA_DUCKDB_PATH={self.path!r} cannot "
                        f"be opened ({error}). Point MTA_DUCKDB_PATH at a database file in a folder this user can "
                        f"write (not at a folder), or unset it for {DEFAULT_DUCKDB_PATH}."
                    ) from None
                if time.monotonic() > deadline:
                    holder = _LOCK_HOLDER.search(str(error))
                    by = f"process {holder.group(2)} ({holder.group(1)})" if holder else "another process"
                    redo = f"materialize {weeks_label(weeks)} again" if weeks else "run the step again"
                    raise WarehouseLocked(
                        f"{weeks_label(weeks).capitalize()}: {by} has held the DuckDB warehouse {self.path} for more "
                        f"than {self.lock_timeout_seconds:.0f} s. Close it there (a DuckDB shell or notebook), then "
                        f"{redo}; mta_assets' own steps wait their turn in the mta_warehouse pool."
                    ) from None
                time.sleep(0.2)
        try:
            yield connection
        finally:
            connection.close()

    def _set_memory_limit(self, connection: duckdb.DuckDBPyConnection, setting: str) -> None:
        """DuckDB's memory limit, from the field `setting`; a value DuckDB cannot read is the setting's fault."""
        limit = getattr(self, setting)
        try:
            connection.execute("SET memory_limit = ?", [limit])
        except duckdb.ParserException as error:
            raise ConfigurationError(
                f"The DuckDB warehouse's {setting}={limit!r}{_SETTINGS.get(setting, '')} is not a memory size DuckDB "
                f"reads ({error}); give one like '128MB' or '1GB'" + (f", or unset it for {DEFAULT_MEMORY_LIMIT}." if setting == "memory_limit" else ".")
            ) from None

    def _create_table(self, connection, table: Table) -> None:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema_name}")
        columns = ", ".join(f"{column.name} {column.duckdb_type}" for column in table.columns)
        connection.execute(f"CREATE TABLE IF NOT EXISTS {self.name(table.name)} ({columns})")

    def week_row_counts(self, weeks: Sequence[date], table: Table = TURNSTILE) -> dict[date, int]:
        with self.connect(weeks) as connection:
            self._create_table(connection, table)
            counts = self._week_counts(connection, table, weeks)
        return {week: counts.get(week, (0,))[0] for week in weeks}

    def replace_weeks(self, lake_weeks: Sequence[LakeWeek]) -> list[WeekLoad]:
        table = load_table(lake_weeks)
        name = self.name(table.name)
        weeks = [lake_week.week for lake_week in lake_weeks]
        with self.connect(weeks) as connection:
            self._create_table(connection, table)
            with self.transaction(connection, weeks):
                replaced = {week: counts[0] for week, counts in self._week_counts(connection, table, weeks).items()}
                self._delete_weeks(connection, table, weeks)
                # The load holds a week's rows until they are written; a bound on its memory keeps a run
                # of many weeks to one week's worth (DuckDB writes what does not fit to disk).
                self._set_memory_limit(connection, "load_memory_limit")
                for lake_week in lake_weeks:  # one week at a time, all in this transaction
                    if lake_week.local_path and lake_week.format is LakeFormat.PARQUET:
                        # DuckDB's own parallel parquet reader: several times faster than through Arrow.
                        try:
                            connection.execute(
                                f"INSERT INTO {name} BY NAME SELECT * FROM read_parquet(?)", [str(lake_week.local_path)]
                            )
                        except (duckdb.IOException, duckdb.InvalidInputException) as error:
                            # Only what DuckDB says of the lake file is the lake's fault; a full disk under
                            # the warehouse or its spill folder is not.
                            if str(lake_week.local_path) not in str(error):
                                raise
                            raise LakeObjectUnreadable.of(lake_week, error) from None
                        continue
                    unreadable: list[LakeObjectUnreadable] = []
                    rows = pa.RecordBatchReader.from_batches(table.arrow_schema, _noting(lake_week.batches(), unreadable))
                    connection.register("week_rows", rows)
                    try:
                        connection.execute(f"INSERT INTO {name} BY NAME SELECT * FROM week_rows")
                    except duckdb.Error:
                        if unreadable:  # DuckDB wraps what the stream raised in its own message
                            raise unreadable[0] from None
                        raise
                    connection.unregister("week_rows")
                loaded = self._week_counts(connection, table, weeks)
        return week_loads(name, lake_weeks, replaced, loaded)
