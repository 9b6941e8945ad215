"""A turnstile file written to a test's folder, parsed, and its rows read back."""

from pathlib import Path

import pyarrow.parquet as pq

from mta_assets.lib.tables import TURNSTILE
from mta_assets.turnstile.parsing import parse_turnstile_file


def write(tmp_path: Path, data: bytes, name: str = "turnstile_230603.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def parse(path: Path, week, max_rejected_share: float = 0.01):
    return parse_turnstile_file(path, week, max_rejected_share, path.with_suffix(".parquet"))


def rows(parsed) -> list[dict]:
    return pq.read_table(parsed.path).cast(TURNSTILE.arrow_schema).to_pylist()
