import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mta_assets.lake.formats import LakeFormat
from mta_assets.lib.errors import ConfigurationError
from mta_assets.lib.tables import TURNSTILE


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_both_formats_read_back_to_the_parsed_table(parsed_week, tmp_path, lake_format):
    stored = lake_format.from_parquet(parsed_week.path, tmp_path)
    expected = pq.read_table(parsed_week.path).cast(TURNSTILE.arrow_schema)
    assert lake_format.read_table(stored).equals(expected)
    assert lake_format.row_count(stored) == parsed_week.rows
    assert lake_format.column_names(stored) == list(TURNSTILE.column_names)


def test_parquet_is_stored_as_parsed_and_csv_gz_is_written_beside_it(parsed_week, tmp_path):
    assert LakeFormat.PARQUET.from_parquet(parsed_week.path, tmp_path) == parsed_week.path
    csv = LakeFormat.CSV_GZ.from_parquet(parsed_week.path, tmp_path)
    assert csv.name == "turnstile_230603.csv.gz"
    with gzip.open(csv, "rt") as text:
        assert text.readline().strip() == ",".join(f'"{name}"' for name in TURNSTILE.column_names)
        assert text.readline().count(",") == len(TURNSTILE.columns) - 1


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_a_subset_of_columns_is_read_typed(parsed_week, tmp_path, lake_format):
    stored = lake_format.from_parquet(parsed_week.path, tmp_path)
    table = lake_format.read_table(stored, ["reading_at", "unit"])
    assert table.schema.names == ["reading_at", "unit"]
    assert table.schema.field("reading_at").type == TURNSTILE.arrow_schema.field("reading_at").type


def test_an_unknown_lake_format_names_the_setting():
    with pytest.raises(ConfigurationError, match=r"MTA_LAKE_FORMAT='json' is not a lake format; use 'parquet'"):
        LakeFormat.from_setting("json")


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_text_can_be_read_as_codes_with_the_same_values(parsed_week, tmp_path, lake_format):
    stored = lake_format.from_parquet(parsed_week.path, tmp_path)
    columns = ["unit", "reading_at", "description"]
    codes = lake_format.read_table(stored, columns, text_as_codes=True)
    assert codes.schema.field("unit").type == pa.dictionary(pa.int32(), pa.string())
    assert codes.num_rows == parsed_week.rows
    assert codes["unit"].cast(pa.string()).to_pylist() == lake_format.read_table(stored, columns)["unit"].to_pylist()


@pytest.mark.parametrize("lake_format", list(LakeFormat))
def test_hourly_ridership_reads_back_whole_nulls_and_empty_text_included(tmp_path, lake_format):
    """The older version of wujg-7c2s has no transit_mode: null, which must not come back as "" (or the reverse)."""
    from datetime import date, datetime

    from mta_assets.lib.parquet import parquet_writer
    from mta_assets.lib.tables import HOURLY_RIDERSHIP

    rows = [
        {"transit_timestamp": datetime(2023, 5, 27, hour), "transit_mode": mode, "station_complex_id": "611",
         "station_complex": "Times Sq-42 St", "borough": "", "payment_method": "omny", "fare_class_category": None,
         "ridership": 31, "transfers": 2, "latitude": 40.757, "longitude": None, "dataset_id": "wujg-7c2s",
         "week_ending": date(2023, 6, 3)}
        for hour, mode in ((0, None), (1, "subway"), (2, ""))
    ]  # fmt: skip
    parquet = tmp_path / "hourly_ridership_230603.parquet"
    with parquet_writer(parquet, HOURLY_RIDERSHIP.arrow_schema) as writer:
        writer.write_table(pa.Table.from_pylist(rows, schema=HOURLY_RIDERSHIP.arrow_schema))
    stored = lake_format.from_parquet(parquet, tmp_path, HOURLY_RIDERSHIP)
    assert lake_format.read_table(stored, table=HOURLY_RIDERSHIP).to_pylist() == rows
