"""Benchmark: backfills of 13, 26 and 52 real-size weeks, launched as the UI launches them, run by the daemon.

Each size gets a fresh project folder and DAGSTER_HOME, a separate HTTP server process serving the weeks
on loopback, and `dg dev` with the project's dagster.yaml. Time is from launch to the backfill's end.

    python -m benchmarks.backfill [--weeks 13 26 52] [--turnstiles 5000]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from loopback.dagster_dev import (
    backfill_run_span,
    dagster_dev,
    launch_asset_backfill,
    materialized_count,
    wait_for_backfill,
)
from loopback.emulators import free_port, reset_signals
from loopback.turnstile_files import write_weeks

LAST_WEEK = date(2023, 6, 3)


def run_backfill(week_count: int, turnstiles: int) -> dict:
    weeks = [LAST_WEEK - timedelta(weeks=offset) for offset in range(week_count - 1, -1, -1)]
    with tempfile.TemporaryDirectory(prefix="mta-backfill-") as directory:
        folder = Path(directory)
        mirror = folder / "mirror"
        mirror.mkdir()
        lines = write_weeks(mirror, weeks, turnstiles)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(mirror)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=reset_signals,  # or server.terminate() below would not stop it
        )
        try:
            with dagster_dev(folder, {"MTA_SOURCE_URL": f"http://127.0.0.1:{port}"}) as url:
                started = time.monotonic()
                backfill_id = launch_asset_backfill(
                    url, ["turnstile_lake", "turnstile_warehouse"], [week.isoformat() for week in weeks]
                )
                while materialized_count(url, "turnstile_warehouse") < week_count:
                    time.sleep(0.5)
                seconds = time.monotonic() - started
                status = wait_for_backfill(url, backfill_id, timeout=1200)
                closed = time.monotonic() - started
                runs, run_seconds = backfill_run_span(url, backfill_id)
        finally:
            server.terminate()
            server.wait()
        with duckdb.connect(str(folder / "data" / "warehouse.duckdb"), read_only=True) as connection:
            counts = dict(
                connection.execute("SELECT week_ending, count(*) FROM mta.turnstile GROUP BY week_ending").fetchall()
            )
        exactly_once = counts == {week: lines for week in weeks}
    return {
        "weeks": week_count,
        "lines": lines * week_count,
        "seconds": seconds,
        "closed": closed,
        "runs": runs,
        "run_seconds": run_seconds,
        "status": status,
        "exactly_once": exactly_once,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, nargs="+", default=[13, 26, 52])
    parser.add_argument("--turnstiles", type=int, default=5000, help="5000 gives about 250,000 lines a week")
    arguments = parser.parse_args(argv)
    results = [run_backfill(count, arguments.turnstiles) for count in arguments.weeks]
    print("seconds: from launch until every week is materialized in the warehouse. It includes the wait for")
    print("the backfill daemon, which looks for new backfills every 30 s. runs: the backfill's runs and the")
    print("seconds from the first run's start to the last one's end. closed: until the daemon marks it done.")
    header = f"{'weeks':>5} {'lines':>12} {'seconds':>8} {'runs':>5} {'run s':>6} {'run s/week':>10} {'closed':>7} {'status':>18} {'once':>5}"
    print(header)
    for result in results:
        print(
            f"{result['weeks']:5d} {result['lines']:12,d} {result['seconds']:8.1f} {result['runs']:5d} "
            f"{result['run_seconds']:6.1f} {result['run_seconds'] / result['weeks']:10.2f} {result['closed']:7.1f} "
            f"{result['status']:>18} {str(result['exactly_once']):>5}"
        )
    return results


if __name__ == "__main__":
    main()
