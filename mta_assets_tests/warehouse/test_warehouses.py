"""The same warehouse contract on DuckDB and on BigQuery (bqemulator on loopback)."""

import subprocess
import sys
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster_gcp import GCSResource

from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.resource import LakeResource
from mta_assets.lake.week import LakeObjectUnreadable, LakeWeek
from mta_assets.lib.errors import ConfigurationError
from mta_assets.lib.tables import SYSTEM_RIDERSHIP
from mta_assets.turnstile.parsing import parse_turnstile_file
from mta_assets.warehouse import BigQueryWarehouse, DuckDBWarehouse
from mta_assets.warehouse.duckdb import WarehouseLocked, WarehouseWriteFailed
from mta_assets_tests.lib.project import stored
from mta_assets_tests.lib.small_disk import small_disk
from mta_assets_tests.lib.warehouses import bigquery_warehouse
from loopback.turnstile_files import week_file

WEEKS = [date(2023, 5, 27), date(2023, 6, 3)]


def lake_week_in(lake_url: str, week: date, lake_format: LakeFormat, tmp_path, turnstiles: int = 20) -> LakeWeek:
    path = tmp_path / f"turnstile_{week:%y%m%d}.txt"
    path.write_bytes(week_file(week, turnstile_count=turnstiles))
    parsed = parse_turnstile_file(path, week, 0.01, tmp_path / f"turnstile_{week:%y%m%d}.parquet")
    return stored(LakeResource(url=lake_url, format=lake_format.value, gcs=GCSResource()), parsed).lake_week


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_replacing_a_week_twice_never_doubles_it_and_leaves_other_weeks_alone(warehouse, tmp_path, lake_format):
    lake = str(tmp_path / "lake")
    earlier, week = (lake_week_in(lake, each, lake_format, tmp_path, turnstiles) for each, turnstiles in zip(WEEKS, (10, 20)))
    earlier_rows = warehouse.replace_weeks([earlier])[0].rows
    first = warehouse.replace_weeks([week])[0]
    second = warehouse.replace_weeks([week])[0]
    expected = week.read_table().num_rows
    assert (first.rows, first.replaced_rows) == (expected, 0)
    assert (second.rows, second.replaced_rows) == (expected, expected)
    assert warehouse.week_row_counts([week.week])[week.week] == expected
    assert warehouse.week_row_counts([earlier.week])[earlier.week] == earlier_rows == earlier.read_table().num_rows
    assert first.first_reading.date() == date(2023, 5, 27) and first.last_reading.date() == date(2023, 6, 2)


def test_a_failed_replace_leaves_the_week_as_it_was(warehouse, tmp_path):
    week = lake_week_in(str(tmp_path / "lake"), WEEKS[1], LakeFormat.PARQUET, tmp_path)
    rows = warehouse.replace_weeks([week])[0].rows
    broken = week.read_table().set_column(8, "entries", pa.array(["not a number"] * week.read_table().num_rows))
    pq.write_table(broken, week.local_path)
    # The engine's own conversion error: DuckDB's, or the BigQuery API's answer to the load job.
    from google.api_core.exceptions import GoogleAPICallError

    with pytest.raises((duckdb.ConversionException, GoogleAPICallError), match="not a number"):
        warehouse.replace_weeks([week])
    assert warehouse.week_row_counts([week.week]) == {week.week: rows}
    if isinstance(warehouse, BigQueryWarehouse):  # its staging table is gone too
        with warehouse.bigquery.get_client() as client:
            assert [table.table_id for table in client.list_tables(f"{warehouse.project}.{warehouse.dataset}")] == ["turnstile"]


@pytest.mark.slow
@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_bigquery_loads_straight_from_a_gcs_lake(bigquery_endpoint, gcs_bucket, tmp_path, lake_format):
    week = lake_week_in(f"gs://{gcs_bucket}/lake", WEEKS[1], lake_format, tmp_path)
    warehouse = bigquery_warehouse(bigquery_endpoint)
    assert warehouse.replace_weeks([week])[0].rows == week.read_table().num_rows
    assert warehouse.replace_weeks([week])[0].rows == week.read_table().num_rows


@pytest.mark.slow
def test_bigquery_table_is_partitioned_by_week_and_clustered(bigquery_endpoint, tmp_path):
    warehouse = bigquery_warehouse(bigquery_endpoint)
    warehouse.replace_weeks([lake_week_in(str(tmp_path / "lake"), WEEKS[1], LakeFormat.PARQUET, tmp_path)])
    with warehouse.bigquery.get_client() as client:
        table = client.get_table(warehouse.name("turnstile").strip("`"))
    assert table.time_partitioning.field == "week_ending"
    assert table.clustering_fields == ["unit", "control_area", "scp"]
    assert [field.field_type for field in table.schema][6] == "DATETIME"


@pytest.mark.slow
def test_bigquery_uploads_the_weeks_itself_when_it_cannot_read_the_bucket(gcs_bucket, tmp_path, caplog):
    from loopback.emulators import bigquery_emulator

    week = lake_week_in(f"gs://{gcs_bucket}/lake", WEEKS[1], LakeFormat.PARQUET, tmp_path)
    (tmp_path / "unreadable").mkdir()  # this emulator resolves gs:// somewhere the GCS emulator is not
    with bigquery_emulator(tmp_path / "unreadable", tmp_path / "bigquery.log") as endpoint:
        warehouse = bigquery_warehouse(endpoint, dataset="mta")
        assert warehouse.replace_weeks([week])[0].rows == week.read_table().num_rows
    assert "could not load" in caplog.text and "uploading the weeks from this process" in caplog.text


def duckdb_size(size: str) -> str:
    """A memory size as DuckDB shows its memory_limit setting."""
    reference = duckdb.connect()
    reference.execute("SET memory_limit = ?", [size])
    return reference.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_every_duckdb_connection_is_held_to_its_memory_limit_and_spills_beside_its_file(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"), memory_limit="512MB")
    with warehouse.connect() as connection:
        assert connection.execute("SELECT current_setting('temp_directory'), current_setting('memory_limit')").fetchone() == (
            f"{tmp_path}/warehouse.duckdb.tmp",
            duckdb_size("512MB"),
        )


def test_a_duckdb_connection_is_held_to_128mb_unless_told_otherwise(tmp_path):
    with DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb")).connect() as connection:
        assert connection.execute("SELECT current_setting('memory_limit')").fetchone()[0] == duckdb_size("128MB")


def test_what_does_not_fit_the_memory_limit_goes_to_the_spill_folder(tmp_path):
    """A temporary table larger than the limit lives in the spill folder beside the file while the connection is open."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"), memory_limit="16MB")
    with warehouse.connect() as connection:
        connection.execute("CREATE TEMP TABLE digests AS SELECT md5(CAST(range AS VARCHAR)) AS digest FROM range(1000000)")
        assert connection.execute("SELECT count(*) FROM digests").fetchone()[0] == 1_000_000
        assert sum(path.stat().st_size for path in (tmp_path / "warehouse.duckdb.tmp").iterdir()) > 16_000_000


def test_literal_rows_join_within_a_small_memory_limit(tmp_path):
    """The unit-to-complex key's 455 rows, joined: as one SELECT a row (UNION ALL) they ran out of memory at 200 MB."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"), memory_limit="32MB")
    key = warehouse.rows_query([{"unit": f"R{number:03d}", "station_complex_id": str(number)} for number in range(455)])
    joined = warehouse.query(
        f"WITH key AS ({key}) SELECT count(*), count(key.station_complex_id) FROM range(200000) AS units "
        "LEFT JOIN key ON key.unit = 'R' || lpad(CAST(units.range % 500 AS VARCHAR), 3, '0')"
    )
    assert joined == [(200_000, 200_000 * 455 // 500)]


def test_a_memory_limit_duckdb_cannot_read_names_the_setting(tmp_path):
    with pytest.raises(ConfigurationError, match=r"memory_limit='lots' \(MTA_DUCKDB_MEMORY_LIMIT\) is not a memory size DuckDB reads .*, or unset it for 128MB\."):
        DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"), memory_limit="lots").query("SELECT 1")


def test_a_load_memory_limit_duckdb_cannot_read_names_the_setting_and_loads_nothing(tmp_path):
    week = lake_week_in(str(tmp_path / "lake"), WEEKS[1], LakeFormat.PARQUET, tmp_path)
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    rows = warehouse.replace_weeks([week])[0].rows
    with pytest.raises(ConfigurationError, match=r"load_memory_limit='32 apples' is not a memory size DuckDB reads"):
        DuckDBWarehouse(path=warehouse.path, load_memory_limit="32 apples").replace_weeks([week])
    assert warehouse.week_row_counts([WEEKS[1]]) == {WEEKS[1]: rows}


def system_day(week: date, entries: int | str) -> str:
    """A SELECT of one system_ridership row for the week's Saturday; `entries` as SQL."""
    return f"SELECT DATE '{week}' AS week_ending, DATE '{week}' AS service_date, CAST({entries} AS INT64) AS entries, 0 AS exits, 1 AS stations"


def system_days(warehouse) -> list[tuple]:
    return sorted(warehouse.query(f"SELECT week_ending, entries FROM {warehouse.name(SYSTEM_RIDERSHIP.name)}"))


def test_the_selects_of_a_replace_together_replace_its_weeks(warehouse):
    assert warehouse.replace_weeks_with(SYSTEM_RIDERSHIP, WEEKS, [system_day(WEEKS[0], 1), system_day(WEEKS[1], 2)]) == {WEEKS[0]: 1, WEEKS[1]: 1}
    assert warehouse.replace_weeks_with(SYSTEM_RIDERSHIP, WEEKS, [system_day(WEEKS[0], 3), system_day(WEEKS[1], 4)]) == {WEEKS[0]: 1, WEEKS[1]: 1}
    assert system_days(warehouse) == [(WEEKS[0], 3), (WEEKS[1], 4)]


def test_a_later_select_that_fails_leaves_every_week_as_it_was(warehouse):
    """The first week's INSERT has run when the second week's fails: the transaction takes both back."""
    warehouse.replace_weeks_with(SYSTEM_RIDERSHIP, WEEKS, [system_day(WEEKS[0], 1), system_day(WEEKS[1], 2)])
    from google.api_core.exceptions import GoogleAPICallError

    with pytest.raises((duckdb.ConversionException, GoogleAPICallError), match="not a number"):
        warehouse.replace_weeks_with(SYSTEM_RIDERSHIP, WEEKS, [system_day(WEEKS[0], 3), system_day(WEEKS[1], "'not a number'")])
    assert system_days(warehouse) == [(WEEKS[0], 1), (WEEKS[1], 2)]


def test_values_are_written_in_each_warehouses_own_dialect(warehouse, tmp_path):
    """A quote and a backslash read back as they were: BigQuery escapes them with a backslash, DuckDB doubles a quote."""
    sql = tmp_path / "values.sql"
    sql.write_text("SELECT {text}, {day}, {number} UNION ALL SELECT * FROM ({rows})")
    text = "8 ST-B'WAY NYU \\ 'quoted'"
    rows = [{"text": "PRINCE ST-B'WAY", "day": WEEKS[0], "number": 7}]
    assert sorted(warehouse.query(warehouse.render(sql, text=text, day=WEEKS[1], number=10_000, rows=rows))) == [
        ("8 ST-B'WAY NYU \\ 'quoted'", WEEKS[1], 10_000),
        ("PRINCE ST-B'WAY", WEEKS[0], 7),
    ]


def test_a_duckdb_path_that_cannot_be_opened_names_the_setting_and_the_weeks(tmp_path):
    # The setting was fine when the definitions loaded; the run finds a folder where the file should be.
    warehouse = DuckDBWarehouse(path=str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"Week 2023-06-03: the DuckDB warehouse MTA_DUCKDB_PATH=.* cannot be opened"):
        warehouse.week_row_counts([WEEKS[1]])


def test_a_lock_held_too_long_names_the_weeks_and_the_holder(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        warehouse = DuckDBWarehouse(path=str(path), lock_timeout_seconds=1)
        with pytest.raises(WarehouseLocked, match=rf"Weeks 2023-05-27 to 2023-06-03: process {holder.pid} \(.*python.*\) has held the DuckDB warehouse"):
            warehouse.week_row_counts(WEEKS)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_a_truncated_lake_object_names_the_object_and_says_to_materialize_again(tmp_path, lake_format):
    week = lake_week_in(str(tmp_path / "lake"), WEEKS[1], lake_format, tmp_path, turnstiles=200)
    week.local_path.write_bytes(week.local_path.read_bytes()[:-200])
    with pytest.raises(LakeObjectUnreadable, match=rf"Week 2023-06-03: the lake object .*{week.name} cannot be read .*materialize turnstile_lake for 2023-06-03 again"):
        DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb")).replace_weeks([week])


@pytest.mark.parametrize(
    ("turnstiles", "fails_at"),
    [(300, "Failed to commit"), (1000, "IO Error")],
    ids=["the-commit-fails", "the-insert-fails"],
)
def test_a_full_disk_under_duckdb_names_the_week_and_setting_and_keeps_the_warehouse_as_it_was(tmp_path, turnstiles, fails_at):
    """The DuckDB file on a 1 MB tmpfs: a small week fits; a larger one fills the disk, at COMMIT (DuckDB
    keeps it in memory until then; the ROLLBACK after that failed with `no transaction is active`), or
    while it is inserted (DuckDB writes a large one to the file as it goes)."""
    with small_disk(tmp_path / "disk", "1M") as disk:
        warehouse = DuckDBWarehouse(path=str(disk / "warehouse.duckdb"))
        earlier = lake_week_in(str(tmp_path / "lake"), WEEKS[0], LakeFormat.PARQUET, tmp_path, turnstiles=5)
        earlier_rows = warehouse.replace_weeks([earlier])[0].rows
        large = lake_week_in(str(tmp_path / "lake"), WEEKS[1], LakeFormat.PARQUET, tmp_path, turnstiles=turnstiles)
        with pytest.raises(WarehouseWriteFailed) as failed:
            warehouse.replace_weeks([large])
        message = str(failed.value)
        assert message.startswith(f"Week 2023-06-03: the DuckDB warehouse MTA_DUCKDB_PATH={warehouse.path!r} could not write")
        assert fails_at in message and "No space left on device" in message and "no transaction is active" not in message
        assert "Free space on the disk" in message and "point MTA_DUCKDB_PATH at a disk with room" in message
        assert warehouse.week_row_counts(WEEKS) == {WEEKS[0]: earlier_rows, WEEKS[1]: 0}
