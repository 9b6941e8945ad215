"""Benchmark: one real-size week from a loopback server through lake and warehouse, against the old way.

The old way is the Prefect flow this project replaces: pandas read_csv(chunksize=5000) appending each
chunk to a gzip CSV. Both run in this process, one after the other, on the same file.

    python -m benchmarks.ingest_week [--turnstiles 5000]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import requests
from dagster import DagsterInstance, materialize

from mta_assets.assets.turnstile_lake import turnstile_lake
from mta_assets.assets.turnstile_warehouse import turnstile_warehouse
from mta_assets.lake import LakeIOManager
from mta_assets.source import MtaTurnstileSource
from mta_assets.warehouse import DuckDBWarehouse
from loopback.emulators import free_port
from loopback.turnstile_files import week_file

WARM_UP = date(2023, 5, 27)
WEEKS = [date(2023, 6, 3) + timedelta(weeks=offset) for offset in range(5)]
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


NEW = "mta_assets: lake + warehouse"
OLD = "old way: pandas chunks to gzip CSV"


@contextmanager
def measured(runs: list):
    """Wall time and peak RSS growth over the block, sampled every 5 ms."""
    baseline, peak, done = rss_bytes(), [rss_bytes()], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        runs.append({"seconds": elapsed, "rss_growth_mb": (max(peak[0], rss_bytes()) - baseline) / 1e6})


@contextmanager
def serving(folder: Path, turnstiles: int):
    """The weeks' files served by a separate HTTP server process on loopback, as a mirror would be."""
    folder.mkdir()
    for week in (WARM_UP, *WEEKS):
        (folder / f"turnstile_{week:%y%m%d}.txt").write_bytes(week_file(week, turnstiles, crlf=True))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.head(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait()


def old_way(url: str, target: Path) -> int:
    rows = 0
    for number, chunk in enumerate(pd.read_csv(url, chunksize=5000)):
        chunk.to_csv(target, mode="a", header=number == 0, index=False, compression="gzip")
        rows += len(chunk)
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turnstiles", type=int, default=5000, help="5000 gives about 250,000 lines, 33 MB")
    arguments = parser.parse_args(argv)

    runs: dict[str, list[dict]] = {NEW: [], OLD: []}
    with tempfile.TemporaryDirectory() as directory, serving(Path(directory) / "mirror", arguments.turnstiles) as url:
        folder = Path(directory)
        resources = {
            "source": MtaTurnstileSource(base_url=url),
            "lake_io_manager": LakeIOManager(url=str(folder / "lake")),
            "warehouse": DuckDBWarehouse(path=str(folder / "warehouse.duckdb")),
        }
        instance = DagsterInstance.ephemeral()
        assets = [turnstile_lake, turnstile_warehouse]
        # The first run pays for imports and DuckDB's first open; it is not measured.
        materialize(assets, partition_key=WARM_UP.isoformat(), resources=resources, instance=instance)
        # Each way runs once per week, interleaved, so that a noisy moment does not favour either.
        for week in WEEKS:
            with measured(runs[NEW]):
                result = materialize(assets, partition_key=week.isoformat(), resources=resources, instance=instance)
            rows = result.asset_materializations_for_node("turnstile_warehouse")[0].metadata["dagster/row_count"].value
            with measured(runs[OLD]):
                old_rows = old_way(f"{url}/turnstile_{week:%y%m%d}.txt", folder / f"old_{week}.csv.gz")
            assert rows == old_rows, (rows, old_rows)
        data = (folder / "mirror" / f"turnstile_{WEEKS[0]:%y%m%d}.txt").read_bytes()

    lines = data.count(b"\n") - 1
    results = {
        name: {
            "seconds": statistics.median(run["seconds"] for run in each),
            "rss_growth_mb": max(run["rss_growth_mb"] for run in each),
        }
        for name, each in runs.items()
    }
    print(f"week: {len(data) / 1e6:.1f} MB, {lines:,} lines, every line loaded; {len(WEEKS)} weeks each way")
    for name, each in runs.items():
        print(f"  {name}: " + ", ".join(f"{run['seconds']:.2f} s" for run in each))
    print("seconds: median of the weeks; RSS growth: the largest over the weeks")
    print(f"{'run':40} {'seconds':>8} {'RSS growth MB':>14}")
    for name, numbers in results.items():
        print(f"{name:40} {numbers['seconds']:8.2f} {numbers['rss_growth_mb']:14.0f}")
    new, old = results[NEW], results[OLD]
    print(
        f"speed-up over the old way: {old['seconds'] / new['seconds']:.1f}x (target >= 3x); "
        f"week in {new['seconds']:.2f} s (target <= 1.5 s); RSS growth {new['rss_growth_mb']:.0f} MB (target <= 150 MB)"
    )
    return results


if __name__ == "__main__":
    main()
