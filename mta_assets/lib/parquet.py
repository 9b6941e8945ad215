"""How mta_assets writes parquet: one setting for the parser's typed weeks and the lake's objects."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# Row groups of the parsed weeks, and of the DuckDB warehouse that loads them.
ROW_GROUP_ROWS = 32_768


def parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """Snappy, with dictionaries on the text and date columns only.

    Names, codes and the week repeat on every line; times and counters rarely do, and trying a dictionary
    on them costs more than the rest of the write.
    """
    dictionary_columns = [field.name for field in schema if field.type in (pa.string(), pa.date32())]
    return pq.ParquetWriter(path, schema, compression="snappy", use_dictionary=dictionary_columns)
