"""Benchmark: the whole feed (2010-05-01 to 2024-02-17, 720 real-size weeks in two layouts) through `dg dev`.

Launched as the UI launches a backfill of turnstile_lake and turnstile_warehouse over every week the MTA
published (2010-05-29, never published, is left out), from a loopback server that generates each week
on request in its layout, run by the daemon with the project's dagster.yaml (2 runs at a
time, 2 download connections, one DuckDB writer). Reports the time until every week is in the
warehouse, the runs and whether any failed (on DuckDB's lock or otherwise), the time until the
ridership tables follow every week, how many ridership runs the automation launched while the backfill
was loading, the time until the unified tables (daily_ridership, system_daily_ridership) follow them
too, and the DuckDB file's size.

    python -m benchmarks.history [--turnstiles 5000] [--first 2010-05-01] [--last 2024-02-17]
"""

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
from dagster import AssetKey, DagsterInstance, DagsterRunStatus

from loopback.dagster_dev import dagster_dev, launch_asset_backfill, materialized_count, wait_for_backfill
from loopback.emulators import free_port
from mta_assets.defs.alerts import root_message
from mta_assets.partitions import NEVER_PUBLISHED
from loopback.generated_feed import readings_per_week

RIDERSHIP = {"stations", "station_daily_ridership", "system_ridership"}


def _failure_messages(instance: DagsterInstance, run_id: str) -> list[str]:
    """What each failed step of the run raised (not Dagster's wrapper around it)."""
    return [
        root_message(event.dagster_event.step_failure_data.error) if event.dagster_event.step_failure_data.error else ""
        for event in instance.all_logs(run_id)
        if event.dagster_event and event.dagster_event.is_step_failure
    ]


class RunMemory:
    """The largest resident memory any run process reached, sampled from /proc every half second.

    Runs launched by `dg dev` are processes its code server spawns (multiprocessing's spawn_main); each
    runs one run's steps in process.
    """

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "RunMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            for status in Path("/proc").glob("[0-9]*/status"):
                try:
                    if b"spawn_main" not in (status.parent / "cmdline").read_bytes():
                        continue
                    rss = next(line for line in status.read_text().splitlines() if line.startswith("VmRSS:"))
                except (OSError, StopIteration):
                    continue  # the process ended between the listing and the read
                self.peak_mb = max(self.peak_mb, int(rss.split()[1]) / 1024)


def wait_until(condition, what: str, timeout: float, every: float = 2) -> None:
    """Return once `condition()` holds, asking every `every` seconds; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(every)


def run_history(turnstiles: int, first: date, last: date) -> dict:
    weeks = [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    weeks = [week for week in weeks if week not in NEVER_PUBLISHED]
    expected = readings_per_week(turnstiles, last, weeks)
    with tempfile.TemporaryDirectory(prefix="mta-history-") as directory:
        folder = Path(directory)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "loopback.generated_feed", str(port), "--turnstiles", str(turnstiles),
             "--first", first.isoformat(), "--last", last.isoformat()],
        )
        try:
            with dagster_dev(folder, {"MTA_SOURCE_URL": f"http://127.0.0.1:{port}"}) as url, RunMemory() as run_memory:
                instance = DagsterInstance.from_config(str(folder / "dagster_home"))
                started = time.monotonic()
                backfill_id = launch_asset_backfill(url, ["turnstile_lake", "turnstile_warehouse"], [w.isoformat() for w in weeks])
                wait_until(lambda: materialized_count(url, "turnstile_warehouse") >= len(weeks), "every week in the warehouse", 3600)
                warehouse_seconds = time.monotonic() - started
                status = wait_for_backfill(url, backfill_id, timeout=3600)
                closed_seconds = time.monotonic() - started
                closed_at = time.time()
                wait_until(lambda: materialized_count(url, "system_ridership") >= len(weeks), "the ridership of every week", 3600)
                ridership_seconds = time.monotonic() - started
                ridership_weeks = materialized_count(url, "system_ridership")
                # The unified tables follow every week that has turnstile ridership.
                wait_until(lambda: materialized_count(url, "system_daily_ridership") >= ridership_weeks, "the unified series", 3600)
                unified_seconds = time.monotonic() - started
                records = instance.get_run_records()
                runs = [record for record in records if record.dagster_run.tags.get("dagster/backfill") == backfill_id]
                ridership_runs = [
                    record for record in records
                    if {key.to_user_string() for key in record.dagster_run.asset_selection or []} & RIDERSHIP
                ]
                failed = [record for record in records if record.dagster_run.status == DagsterRunStatus.FAILURE]
                messages = [message for record in failed for message in _failure_messages(instance, record.dagster_run.run_id)]
        finally:
            server.terminate()
            server.wait()
        database = folder / "data" / "warehouse.duckdb"
        with duckdb.connect(str(database), read_only=True) as connection:
            counts = dict(connection.execute("SELECT week_ending, count(*) FROM mta.turnstile GROUP BY week_ending").fetchall())
            ridership_days = connection.execute("SELECT count(DISTINCT service_date) FROM mta.station_daily_ridership").fetchone()[0]
            unified_days = connection.execute("SELECT count(*) FROM mta.system_daily_ridership").fetchone()[0]
        return {
            "weeks": len(weeks),
            "readings": sum(expected.values()),
            "warehouse_seconds": warehouse_seconds,
            "closed_seconds": closed_seconds,
            "status": status,
            "runs": len(runs),
            "failed_runs": len(failed),
            "lock_failures": sum("lock" in message.lower() for message in messages),
            "ridership_seconds": ridership_seconds,
            "ridership_weeks": ridership_weeks,
            "ridership_days": ridership_days,
            "ridership_runs": len(ridership_runs),
            "ridership_runs_while_loading": sum(1 for record in ridership_runs if record.create_timestamp.timestamp() < closed_at),
            "unified_seconds": unified_seconds,
            "unified_days": unified_days,
            "unified_runs": sum(
                1 for record in records if AssetKey("system_daily_ridership") in (record.dagster_run.asset_selection or ())
            ),
            "every_week_once": counts == expected,
            "duckdb_mb": database.stat().st_size / 1e6,
            "run_peak_mb": run_memory.peak_mb,
        }


def report(result: dict) -> list[str]:
    return [
        f"weeks {result['weeks']} ({result['readings']:,} readings), backfill {result['status']} with {result['runs']} runs, "
        f"{result['failed_runs']} runs failed ({result['lock_failures']} on a lock)",
        f"every week in the warehouse after {result['warehouse_seconds']:.0f} s (exactly once: {result['every_week_once']}); "
        f"backfill closed after {result['closed_seconds']:.0f} s",
        f"ridership: {result['ridership_weeks']} weeks ({result['ridership_days']} service days) after "
        f"{result['ridership_seconds']:.0f} s, in {result['ridership_runs']} runs, "
        f"{result['ridership_runs_while_loading']} of them launched while the backfill was loading",
        f"unified tables (daily_ridership, system_daily_ridership): {result['unified_days']:,} days after "
        f"{result['unified_seconds']:.0f} s, system_daily_ridership in {result['unified_runs']} runs",
        f"DuckDB file: {result['duckdb_mb']:,.0f} MB; peak resident memory of a run process: {result['run_peak_mb']:,.0f} MB",
    ]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turnstiles", type=int, default=5000, help="5000 gives about 250,000 lines a week")
    parser.add_argument("--first", type=date.fromisoformat, default=date(2010, 5, 1))
    parser.add_argument("--last", type=date.fromisoformat, default=date(2024, 2, 17))
    arguments = parser.parse_args(argv)
    result = run_history(arguments.turnstiles, arguments.first, arguments.last)
    print("\n".join(report(result)))
    return result


if __name__ == "__main__":
    main()
