"""Benchmark: hourly ridership, one real-size week and a 52-week backfill, as real runs meet them.

NY Open Data's hourly ridership is generated at real size on request (606,305 rows a week) by a separate
`python -m loopback.generated_hourly` process on loopback; MTA_OPEN_DATA_URL points at it, and its request
counters (`GET /_stats`) give the pages each measurement fetched.

* one week: week 2025-06-07 through `hourly_ridership_job` (the lake week, then the warehouse week), in
  a fresh child process per run measured as benchmarks/week.py measures one (`week.child_memory`): the
  child loads the definitions, records its RSS as the baseline, runs the job with RSS sampled every 2 ms;
  growth is the peak minus the baseline (target <= 100 MB). The second run of the same week, in the same
  lake, warehouse and instance, must replace the week: the warehouse then holds its rows once. For scale,
  the near-floor script (its pages streamed to disk, read by pyarrow CSV typed, written to parquet, the
  week replaced in DuckDB) runs the same week after each run, a fresh process each time (target: the
  job's time within 1.3 times the script's).
* backfill: the 52 weeks to 2025-06-28 (the week across New Year 2025 reads two datasets), launched as
  the UI launches a backfill of both assets, run by the daemon of `dg dev` with the project's dagster.yaml
  (as benchmarks/backfill.py runs one): time, runs, weeks, whether the warehouse holds every week's rows
  exactly once, and the largest RSS of a run process (history.RunMemory).

It reports against the targets and never fails on them.

    python -m benchmarks.hourly [--backfill-weeks 52]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import requests

from benchmarks import week
from benchmarks.history import RunMemory, wait_until
from benchmarks.machine import machine
from loopback.dagster_dev import (
    BACKFILL_GOING_ON,
    backfill_run_span,
    backfill_status,
    dagster_dev,
    launch_asset_backfill,
    materialized_count,
    wait_for_backfill,
)
from loopback.generated_hourly import NEWEST_HOUR, ROWS_PER_DAY, STATS_PATH

JOB = "hourly_ridership_job"
ASSETS = ["hourly_ridership_lake", "hourly_ridership_warehouse"]
TABLE = "hourly_ridership"
WEEK = date(2025, 6, 7)
WEEK_DATASET = "5wq4-mkjj"  # the dataset holding 2025 on, WEEK's only one
LAST_BACKFILL_WEEK = date(2025, 6, 28)
ROWS_PER_WEEK = 7 * ROWS_PER_DAY  # the generated server gives every day the same rows
PAGE_ROWS = 50_000  # SODA's most rows a request, as the package asks
MAX_GROWTH_MB = week.MAX_GROWTH_MB
MAX_TIME_RATIO = 1.3  # issue 20: a week's job within 1.3 times the near-floor script's time


# ---------------------------------------------------------------------------------------------------
# In the children


def floor_week(url: str, folder: Path, duckdb_path: str) -> int:
    """The near-floor script: WEEK's pages to disk, pyarrow CSV (typed), parquet, DELETE + INSERT in DuckDB.

    The lake's rows and types, with no checks, no totals asked for and no Dagster; the week's rows after it.
    """
    import pyarrow as pa
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    from mta_assets.lib.tables import HOURLY_RIDERSHIP

    schema = HOURLY_RIDERSHIP.arrow_schema
    read_types = {field.name: field.type for field in schema if field.name not in ("dataset_id", "week_ending")}
    read_types["transit_timestamp"] = pa.timestamp("ms")  # 2025-05-31T00:00:00.000: milliseconds, all zero
    where = f"transit_timestamp >= '{WEEK - timedelta(days=7)}T00:00:00' AND transit_timestamp < '{WEEK}T00:00:00'"
    download, parquet = folder / "page.csv", folder / f"hourly_ridership_{WEEK:%y%m%d}.parquet"
    with pq.ParquetWriter(parquet, schema, compression="snappy") as writer:
        offset = 0
        while True:
            params = {"$where": where, "$order": ":id", "$limit": str(PAGE_ROWS), "$offset": str(offset)}
            with requests.get(f"{url}/resource/{WEEK_DATASET}.csv", params=params, stream=True, timeout=60) as response:
                response.raise_for_status()
                with open(download, "wb") as file:
                    for chunk in response.iter_content(1 << 20):
                        file.write(chunk)
            page = pv.read_csv(
                download,
                convert_options=pv.ConvertOptions(column_types=read_types, include_columns=list(read_types)),
            )
            columns = {
                **{name: page[name] for name in read_types},
                "transit_timestamp": page["transit_timestamp"].cast(pa.timestamp("s")),
                "dataset_id": pa.repeat(pa.scalar(WEEK_DATASET), page.num_rows),
                "week_ending": pa.repeat(pa.scalar(WEEK, pa.date32()), page.num_rows),
            }
            writer.write_table(pa.table([columns[field.name] for field in schema], schema=schema))
            offset += page.num_rows
            if page.num_rows < PAGE_ROWS:
                break
    download.unlink()
    rows = week.floor_replace(HOURLY_RIDERSHIP, parquet, WEEK, duckdb_path)
    parquet.unlink()
    return rows


def child_floor(url: str, folder: Path) -> dict:
    """floor_week once, timed after its libraries are imported (as the job is timed after the definitions)."""
    import duckdb  # noqa: F401
    import pyarrow.csv  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import mta_assets.lib.tables  # noqa: F401

    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = floor_week(url, folder, str(folder / "floor.duckdb"))
    return {"rows": rows, "run_seconds": time.perf_counter() - started}


def child_main(request: dict) -> None:
    print("RESULT " + json.dumps(child_floor(request["url"], Path(request["folder"]))))


# ---------------------------------------------------------------------------------------------------
# In the parent


@dataclass(frozen=True)
class GeneratedServer:
    """loopback.generated_hourly running as a process of its own."""

    url: str
    pid: int

    def served(self) -> Counter:
        """The requests answered so far, by kind (pages, totals, daily, newest, views)."""
        return Counter(requests.get(f"{self.url}{STATS_PATH}", timeout=10).json())

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far: generating pages competes with the runs for the 2 cores."""
        with open(f"/proc/{self.pid}/stat") as stat:
            user, system = stat.read().rsplit(")", 1)[1].split()[11:13]
        return (int(user) + int(system)) / _CLOCK_TICKS


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def generated_hourly_server():
    """loopback.generated_hourly as a process of its own, its newest hour the server's default."""
    server = subprocess.Popen(
        [sys.executable, "-m", "loopback.generated_hourly", "--port", "0", "--newest-hour", NEWEST_HOUR.isoformat()],
        cwd=week.REPOSITORY,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield GeneratedServer(server.stdout.readline().strip(), server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def server_usage(server: GeneratedServer, into: dict):
    """Sets `into`'s requests (by kind) and server_cpu_seconds: what the server did within the `with`."""
    requests_before, cpu_before = server.served(), server.cpu_seconds()
    yield
    into.update(requests=dict(server.served() - requests_before), server_cpu_seconds=server.cpu_seconds() - cpu_before)


def one_week(server: GeneratedServer, folder: Path) -> dict:
    """WEEK twice through the job (a fresh process each, one lake, warehouse and instance), each run followed by
    the floor (interleaved: the machine's load moves)."""
    env = week.child_env(folder / "job", {"MTA_OPEN_DATA_URL": server.url})
    # benchmarks.week's children measure the job: this module loads what a run worker lacks (the server's tables).
    job_request = {"kind": "memory", "weeks": [WEEK.isoformat()], "job": JOB, "table": TABLE}
    floor_request = {"kind": "floor", "url": server.url, "folder": str(folder / "floor")}
    runs, floors = [], []
    for label in ("first run, empty warehouse", "second run, the week replaced"):
        run, floor = {"label": label}, {}
        with server_usage(server, run):
            run.update(week.run_child(job_request, env))
        with server_usage(server, floor):
            floor.update(week.run_child(floor_request, env, "benchmarks.hourly"))
        runs.append(run)
        floors.append(floor)
    return {"runs": runs, "floors": floors}


def time_ratio(results: dict) -> float:
    """The job's seconds over the near-floor script's, both summed over their runs."""
    return sum(run["run_seconds"] for run in results["week"]["runs"]) / sum(floor["run_seconds"] for floor in results["week"]["floors"])


def backfill(server: GeneratedServer, weeks: list[date], folder: Path) -> dict:
    """`weeks` backfilled through `dg dev` as the UI launches it; timed from launch, rows counted once it closed."""
    import duckdb

    result = {"weeks": len(weeks), "first_week": weeks[0].isoformat(), "last_week": weeks[-1].isoformat()}
    with dagster_dev(folder, {"MTA_OPEN_DATA_URL": server.url}) as ui, RunMemory() as run_memory, server_usage(server, result):
        started = time.monotonic()
        backfill_id = launch_asset_backfill(ui, ASSETS, [saturday.isoformat() for saturday in weeks])
        # Until every week is in the warehouse, or the backfill ended without (a run failed).
        wait_until(
            lambda: materialized_count(ui, ASSETS[-1]) >= len(weeks)
            or backfill_status(ui, backfill_id) not in BACKFILL_GOING_ON,
            "every week in the warehouse",
            timeout=3600,
            every=0.5,
        )
        seconds = time.monotonic() - started
        status = wait_for_backfill(ui, backfill_id, timeout=600)
        closed = time.monotonic() - started
        runs, run_seconds = backfill_run_span(ui, backfill_id)
        materialized = materialized_count(ui, ASSETS[-1])
    with duckdb.connect(str(folder / "data" / "warehouse.duckdb"), read_only=True) as connection:
        counts = dict(connection.execute(f"SELECT week_ending, count(*) FROM mta.{TABLE} GROUP BY week_ending").fetchall())
    return {
        **result,
        "seconds": seconds,
        "closed": closed,
        "status": status,
        "runs": runs,
        "run_seconds": run_seconds,
        "materialized": materialized,
        "rows": sum(counts.values()),
        "exactly_once": counts == {saturday: ROWS_PER_WEEK for saturday in weeks},
        "run_peak_mb": run_memory.peak_mb,
    }


def targets(results: dict) -> list[tuple[str, str, str, bool]]:
    rows = [
        (f"memory growth, {run['label']}", f"{run['growth_mb']:.0f} MB", f"<= {MAX_GROWTH_MB} MB", run["growth_mb"] <= MAX_GROWTH_MB)
        for run in results["week"]["runs"]
    ]
    ratio = time_ratio(results)
    rows.append(("time, the job over the near-floor script", f"{ratio:.2f}x", f"<= {MAX_TIME_RATIO}x", ratio <= MAX_TIME_RATIO))
    rows += [
        (f"warehouse holds the week once, {run['label']}", f"{run['rows']:,} rows", f"= {ROWS_PER_WEEK:,}",
         run["success"] and run["rows"] == ROWS_PER_WEEK)
        for run in results["week"]["runs"]
    ]  # fmt: skip
    if results["backfill"]:
        result = results["backfill"]
        expected = result["weeks"] * ROWS_PER_WEEK
        rows.append(
            (f"backfill of {result['weeks']} weeks, every week once", f"{result['rows']:,} rows", f"= {expected:,}",
             result["exactly_once"] and result["status"] == "COMPLETED_SUCCESS")
        )  # fmt: skip
    return rows


def week_lines(results: dict) -> list[str]:
    """The one week's numbers for the terminal, a line a run."""
    lines = []
    for run in results["week"]["runs"]:
        steps = ", ".join(
            f"{key} {seconds:.1f} s (+{run['step_rise_mb'][key]:.0f} MB)" for key, seconds in run["step_seconds"].items()
        )
        lines.append(
            f"{run['label']}: {run['run_seconds']:.1f} s, {run['requests'].get('pages', 0)} pages "
            f"({sum(run['requests'].values())} requests; {run['server_cpu_seconds']:.1f} s of the server's CPU), "
            f"{run['rows']:,} rows in the warehouse; RSS baseline "
            f"{run['baseline_mb']:.0f} MB, peak {run['peak_mb']:.0f} MB, growth {run['growth_mb']:.0f} MB "
            f"(anonymous {run['anon_growth_mb']:.0f} MB), after {run['after_mb']:.0f} MB; Arrow pool peak "
            f"{run['arrow_pool_peak_mb']:.0f} MB; steps: {steps}"
        )
    floors = results["week"]["floors"]
    times = ", ".join(f"{floor['run_seconds']:.1f} s ({floor['server_cpu_seconds']:.1f} s of the server's CPU)" for floor in floors)
    pages = floors[0]["requests"].get("pages", 0)
    lines.append(f"near-floor script: {times}; {pages} pages, {floors[-1]['rows']:,} rows after the second")
    return lines


def backfill_lines(result: dict) -> list[str]:
    requests_by_kind = ", ".join(f"{kind} {count}" for kind, count in sorted(result["requests"].items()))
    return [
        f"{result['weeks']} weeks ({result['first_week']} to {result['last_week']}): {result['materialized']} in the "
        f"warehouse after {result['seconds']:.1f} s from launch; backfill {result['status']} after {result['closed']:.1f} s",
        f"{result['runs']} runs, {result['run_seconds']:.1f} s from the first run's start to the last one's end "
        f"({result['run_seconds'] / result['weeks']:.2f} s a week)",
        f"{result['rows']:,} rows in the warehouse (every week once: {'yes' if result['exactly_once'] else 'NO'}); "
        f"requests served: {requests_by_kind}; the generated server used {result['server_cpu_seconds']:.0f} s of CPU",
        f"peak resident memory of a run process: {result['run_peak_mb']:.0f} MB",
    ]


def print_report(results: dict) -> None:
    print(f"{ROWS_PER_WEEK:,} rows a week; {results['machine']}")
    print()
    print(f"ONE WEEK ({WEEK}), hourly_ridership_job in a fresh process per run")
    print("\n".join(f"  {line}" for line in week_lines(results)))
    if results["backfill"]:
        print()
        print("BACKFILL through dg dev, launched as the UI launches it")
        print("\n".join(f"  {line}" for line in backfill_lines(results["backfill"])))
    print()
    print("TARGETS")
    for name, value, target, ok in targets(results):
        print(f"  {name:52} {value:>16}  {target:>12}  {week.verdict(ok)}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backfill-weeks", type=int, default=52, help=f"weeks to {LAST_BACKFILL_WEEK}; 0 skips the backfill")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child:
        child_main(json.loads(arguments.child))
        return {}

    weeks = [LAST_BACKFILL_WEEK - timedelta(weeks=offset) for offset in range(arguments.backfill_weeks - 1, -1, -1)]
    with tempfile.TemporaryDirectory(prefix="mta-hourly-bench-") as directory, generated_hourly_server() as server:
        folder = Path(directory)
        results = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "week": one_week(server, folder / "week"),
            "backfill": backfill(server, weeks, folder / "backfill") if weeks else None,
        }
    print_report(results)
    return results


if __name__ == "__main__":
    main()
