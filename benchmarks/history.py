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

With --everything, every hourly week too (2017-01-07 to the latest Saturday, 606,305 rows each, from
`loopback.generated_hourly`), in a second backfill launched beside the first, until system_daily_ridership
holds every day from 2010-05-01 to the latest Saturday; first the last 52 weeks of each source the same way,
for how each figure scales; it writes its section of docs/benchmarks.md (the largest run of each kind too).

    python -m benchmarks.history --everything
"""

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, DagsterRunStatus

from loopback.dagster_dev import dagster_dev, launch_asset_backfill, materialized_count, materialized_partitions, wait_for_backfill
from loopback.emulators import free_port
from mta_assets.defs.alerts import root_message
from mta_assets.partitions import NEVER_PUBLISHED, hourly_partitions, weekly_partitions
from mta_assets.run_launcher import run_process_id
from loopback.generated_feed import readings_per_week

RIDERSHIP = {"stations", "station_daily_ridership", "system_ridership"}
UNIFIED = {"unit_station_complex_key", "daily_ridership", "system_daily_ridership"}
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


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
        self.peaks_mb: dict[int, float] = {}  # by process id
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
                pid = int(status.parent.name)
                self.peaks_mb[pid] = max(self.peaks_mb.get(pid, 0.0), int(rss.split()[1]) / 1024)

    @property
    def peak_mb(self) -> float:
        return max(self.peaks_mb.values(), default=0.0)

    def peak_by_kind(self, instance: DagsterInstance, records) -> dict[str, tuple[float, str]]:
        """The largest resident memory of each kind of run (run_kind), with the run's assets and weeks."""
        largest: dict[str, tuple[float, str]] = {}
        for record in records:
            run = record.dagster_run
            peak = self.peaks_mb.get(run_process_id(instance, run.run_id) or -1)
            if peak is not None and peak > largest.get(kind := run_kind(run), (0.0, ""))[0]:
                largest[kind] = (peak, describe_run(run))
        return largest


def run_kind(run) -> str:
    """What a run loads: 'turnstile', 'hourly' (lake and warehouse), 'ridership' or 'unified' tables."""
    names = {key.to_user_string() for key in run.asset_selection or ()} or {run.job_name}
    if names & {"hourly_ridership_lake", "hourly_ridership_job"}:
        return "hourly"
    if names & {"turnstile_lake", "turnstile_warehouse", "turnstile_job"}:
        return "turnstile"
    return "unified" if names & UNIFIED else "ridership"


def describe_run(run) -> str:
    names = sorted(key.to_user_string() for key in run.asset_selection or ()) or [run.job_name]
    tags = run.tags
    weeks = tags.get("dagster/partition") or f"{tags.get(RANGE_START, '?')} to {tags.get(RANGE_END, '?')}"
    return f"{', '.join(names)}; {weeks}"


def wait_until(condition, what: str, timeout: float, every: float = 2) -> None:
    """Return once `condition()` holds, asking every `every` seconds; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(every)


def generated_feed(turnstiles: int, first: date, last: date) -> tuple[subprocess.Popen, str]:
    """`loopback.generated_feed` serving every week from `first` to `last` as a process of its own, and its URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "loopback.generated_feed", str(port), "--turnstiles", str(turnstiles),
         "--first", first.isoformat(), "--last", last.isoformat()],
    )  # fmt: skip
    return server, f"http://127.0.0.1:{port}"


def run_history(turnstiles: int, first: date, last: date) -> dict:
    weeks = [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    weeks = [week for week in weeks if week not in NEVER_PUBLISHED]
    expected = readings_per_week(turnstiles, last, weeks)
    with tempfile.TemporaryDirectory(prefix="mta-history-") as directory:
        folder = Path(directory)
        server, feed_url = generated_feed(turnstiles, first, last)
        try:
            with dagster_dev(folder, {"MTA_SOURCE_URL": feed_url}) as url, RunMemory() as run_memory:
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


EVERYTHING_HEADING = "## Every week since 2010, both sources, backfilled from the UI"
SCALING_FROM_WEEKS = 52
TURNSTILE_ASSETS = ["turnstile_lake", "turnstile_warehouse"]
HOURLY_ASSETS = ["hourly_ridership_lake", "hourly_ridership_warehouse"]
# Each follower and the warehouse assets it follows; its lag is how long after a source's materialization of
# a week the follower's next materialization of that week came.
FOLLOWING = {"system_ridership": ("turnstile_warehouse",), "system_daily_ridership": ("station_daily_ridership", "hourly_ridership_warehouse")}
TABLES = ("turnstile", "hourly_ridership", "stations", "station_daily_ridership", "system_ridership", "daily_ridership", "system_daily_ridership")
TABLE_OF = {"turnstile_warehouse": "turnstile", "hourly_ridership_warehouse": "hourly_ridership"}


def materialization_times(instance: DagsterInstance, asset: str) -> dict[str, list[float]]:
    """Every materialization of the asset's weeks, by partition key, oldest first."""
    times: dict[str, list[float]] = {}
    cursor = None
    while True:
        result = instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey(asset)), limit=1000, cursor=cursor, ascending=True)
        for record in result.records:
            times.setdefault(record.asset_materialization.partition, []).append(record.timestamp)
        if not result.has_more:
            return times
        cursor = result.cursor


def lags(source_times: dict[str, list[float]], follower_times: dict[str, list[float]]) -> list[float]:
    """For each materialization of a source week, the seconds until the follower's next one of that week."""
    found = []
    for key, times in source_times.items():
        for landed in times:
            later = [followed for followed in follower_times.get(key, []) if followed >= landed]
            found.append(min(later) - landed if later else float("inf"))
    return found


def run_everything(turnstiles: int, last_weeks: int | None = None) -> dict:
    """Both sources' every week (or their `last_weeks`) backfilled side by side through `dg dev`, until the
    unified series holds every week either source has."""
    turnstile_weeks = weekly_partitions.get_partition_keys()[-(last_weeks or 0):]
    hourly_weeks = hourly_partitions.get_partition_keys()[-(last_weeks or 0):]
    unified_weeks = sorted(set(turnstile_weeks) | set(hourly_weeks))
    feed_first, feed_last = date.fromisoformat(turnstile_weeks[0]), date.fromisoformat(turnstile_weeks[-1])
    # The hourly datasets hold every hour to the end of the latest week.
    newest_hour = datetime.combine(date.fromisoformat(hourly_weeks[-1]), datetime.min.time()) - timedelta(hours=1)
    with tempfile.TemporaryDirectory(prefix="mta-everything-") as directory:
        folder = Path(directory)
        feed, feed_url = generated_feed(turnstiles, feed_first, feed_last)
        hourly = subprocess.Popen(
            [sys.executable, "-m", "loopback.generated_hourly", "--port", "0", "--newest-hour", newest_hour.isoformat()],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            env = {"MTA_SOURCE_URL": feed_url, "MTA_OPEN_DATA_URL": hourly.stdout.readline().strip()}
            with dagster_dev(folder, env) as url, RunMemory() as run_memory:
                instance = DagsterInstance.from_config(str(folder / "dagster_home"))
                started = time.monotonic()
                backfills = {
                    "turnstile": launch_asset_backfill(url, TURNSTILE_ASSETS, turnstile_weeks),
                    "hourly": launch_asset_backfill(url, HOURLY_ASSETS, hourly_weeks),
                }
                # By partition, not by count: the sensors load the latest weeks by themselves meanwhile.
                holds = lambda asset, weeks: set(weeks) <= materialized_partitions(url, asset)  # noqa: E731
                wait_until(lambda: holds("turnstile_warehouse", turnstile_weeks), "every turnstile week in the warehouse", 7200, every=5)
                turnstile_seconds = time.monotonic() - started
                wait_until(lambda: holds("hourly_ridership_warehouse", hourly_weeks), "every hourly week in the warehouse", 7200, every=5)
                hourly_seconds = time.monotonic() - started
                wait_until(lambda: holds("system_daily_ridership", unified_weeks), "every week of the unified series", 7200, every=5)
                everything_seconds = time.monotonic() - started
                statuses = {name: wait_for_backfill(url, backfill_id, timeout=600) for name, backfill_id in backfills.items()}
                times = {asset: materialization_times(instance, asset) for asset in {*FOLLOWING, *TABLE_OF, *(s for sources in FOLLOWING.values() for s in sources)}}
                records = instance.get_run_records()
                run_peaks = run_memory.peak_by_kind(instance, records)
                failed = [record for record in records if record.dagster_run.status == DagsterRunStatus.FAILURE]
                messages = [message for record in failed for message in _failure_messages(instance, record.dagster_run.run_id)]
        finally:
            for server in (feed, hourly):
                server.terminate()
                server.wait()
        database = folder / "data" / "warehouse.duckdb"
        with duckdb.connect(str(database), read_only=True) as connection:
            rows = {table: connection.execute(f"SELECT count(*) FROM mta.{table}").fetchone()[0] for table in TABLES}
            per_week = {
                table: dict(connection.execute(f"SELECT week_ending, count(*) FROM mta.{table} GROUP BY week_ending").fetchall())
                for table in ("turnstile", "hourly_ridership")
            }
            days, distinct_days, first_day, last_day = connection.execute(
                "SELECT count(*), count(DISTINCT service_date), min(service_date), max(service_date) FROM mta.system_daily_ridership"
            ).fetchone()
        # Every week a table holds (the sensors' latest weeks too) holds its rows once; none is missing.
        turnstile_held, hourly_held = per_week["turnstile"], per_week["hourly_ridership"]
        expected_turnstile = readings_per_week(turnstiles, feed_last, list(turnstile_held))
        lake_bytes = sum(path.stat().st_size for path in (folder / "data" / "lake").rglob("*") if path.is_file())
        return {
            "turnstile_weeks": len(turnstile_weeks),
            "hourly_weeks": len(hourly_weeks),
            "unified_weeks": len(unified_weeks),
            "turnstile_seconds": turnstile_seconds,
            "hourly_seconds": hourly_seconds,
            "everything_seconds": everything_seconds,
            "statuses": statuses,
            "runs": len(records),
            "failed_runs": len(failed),
            "failure_messages": messages[:3],
            "run_peak_mb": run_memory.peak_mb,
            "run_peaks": run_peaks,
            "duckdb_mb": database.stat().st_size / 1e6,
            "lake_mb": lake_bytes / 1e6,
            "rows": rows,
            "turnstile_once": turnstile_held == expected_turnstile and {date.fromisoformat(key) for key in turnstile_weeks} <= set(turnstile_held),
            "hourly_once": all(rows == hourly_rows_of(week) for week, rows in hourly_held.items())
            and {date.fromisoformat(key) for key in hourly_weeks} <= set(hourly_held),
            "unified_days": days,
            "unified_days_once": days == distinct_days,
            "unified_span": f"{first_day} to {last_day}",
            "lag_seconds": {follower: max(lag for source in sources for lag in lags(times[source], times[follower])) for follower, sources in FOLLOWING.items()},
            "materializations": {asset: sum(len(keys) for keys in by_key.values()) for asset, by_key in times.items()},
        }


def run_scaling(turnstiles: int) -> tuple[dict, dict]:
    """The last 52 weeks of each source, then every week, each on an instance of its own."""
    small = run_everything(turnstiles, SCALING_FROM_WEEKS)
    print("\n".join(everything_report(small)))
    whole = run_everything(turnstiles)
    print("\n".join(everything_report(whole)))
    return small, whole


def hourly_rows_of(week: date) -> int:
    """The rows `loopback.generated_hourly` serves for the week to `week`: a day's for each of its days from
    the datasets' first (the first week, 2017-01-07, starts the day before it)."""
    from loopback.generated_hourly import EPOCH, ROWS_PER_DAY

    days = [week - timedelta(days=n) for n in range(1, 8)]
    return ROWS_PER_DAY * sum(day >= EPOCH.date() for day in days)


def everything_report(result: dict) -> list[str]:
    lag = result["lag_seconds"]
    return [
        f"turnstile: {result['turnstile_weeks']} weeks in the warehouse after {result['turnstile_seconds']:.0f} s "
        f"(exactly once: {result['turnstile_once']}); target <= 300 s",
        f"hourly ridership: {result['hourly_weeks']} weeks in the warehouse after {result['hourly_seconds']:.0f} s "
        f"(exactly once: {result['hourly_once']})",
        f"everything: system_daily_ridership holds {result['unified_days']:,} days ({result['unified_span']}; one row a day: "
        f"{result['unified_days_once']}) after {result['everything_seconds']:.0f} s; target <= 1800 s",
        f"backfills: {', '.join(f'{name} {status}' for name, status in result['statuses'].items())}; {result['runs']} runs, "
        f"{result['failed_runs']} failed" + (f" ({'; '.join(result['failure_messages'])})" if result["failure_messages"] else ""),
        f"largest run process: {result['run_peak_mb']:,.0f} MB resident; target <= 500 MB; by kind of run: "
        + "; ".join(f"{kind} {peak:,.0f} MB ({run})" for kind, (peak, run) in sorted(result["run_peaks"].items())),
        f"ridership behind its source at most {lag['system_ridership']:.0f} s (system_ridership after turnstile_warehouse); "
        f"the unified series at most {lag['system_daily_ridership']:.0f} s (system_daily_ridership after station_daily_ridership "
        f"or hourly_ridership_warehouse)",
        f"DuckDB file {result['duckdb_mb']:,.0f} MB, lake {result['lake_mb']:,.0f} MB; rows: "
        + ", ".join(f"{table} {count:,}" for table, count in result["rows"].items()),
        "materializations: " + ", ".join(f"{asset} {count:,}" for asset, count in sorted(result["materializations"].items())),
    ]


# The figures of the scaling table: label, how to read it from a result, its format.
SCALING = [
    ("turnstile weeks", lambda r: r["turnstile_weeks"], "{:,}"),
    ("hourly weeks", lambda r: r["hourly_weeks"], "{:,}"),
    ("turnstile weeks in the warehouse (s)", lambda r: r["turnstile_seconds"], "{:,.0f}"),
    ("hourly weeks in the warehouse (s)", lambda r: r["hourly_seconds"], "{:,.0f}"),
    ("everything, unified series whole (s)", lambda r: r["everything_seconds"], "{:,.0f}"),
    ("runs", lambda r: r["runs"], "{:,}"),
    ("largest run process (MB)", lambda r: r["run_peak_mb"], "{:,.0f}"),
    *[
        (f"largest {kind} run (MB)", lambda r, kind=kind: r["run_peaks"].get(kind, (float("nan"),))[0], "{:,.0f}")
        for kind in ("turnstile", "hourly", "ridership", "unified")
    ],
    ("ridership behind turnstile_warehouse, at most (s)", lambda r: r["lag_seconds"]["system_ridership"], "{:,.0f}"),
    ("unified series behind its sources, at most (s)", lambda r: r["lag_seconds"]["system_daily_ridership"], "{:,.0f}"),
    ("DuckDB file (MB)", lambda r: r["duckdb_mb"], "{:,.0f}"),
    ("lake (MB)", lambda r: r["lake_mb"], "{:,.0f}"),
    *[(f"rows of {table}", lambda r, table=table: r["rows"][table], "{:,}") for table in TABLES],
]


def scaling_table(small: dict, whole: dict) -> list[str]:
    """Each figure at the last 52 weeks and at every week, and how many times it grew."""
    lines = ["| figure | last 52 weeks of each source | every week | every week / 52 weeks |", "|---|---|---|---|"]
    for label, read, form in SCALING:
        before, after = read(small), read(whole)
        shown = [form.format(value) if value == value else "no such run" for value in (before, after)]  # NaN: none ran
        ratio = f"{after / before:.1f}x" if before and before == before and after == after else ""
        lines.append(f"| {label} | {shown[0]} | {shown[1]} | {ratio} |")
    return lines


def everything_section(small: dict, whole: dict, when: str) -> list[str]:
    lag = whole["lag_seconds"]
    targets = [
        ("turnstile weeks in the warehouse", f"{whole['turnstile_seconds']:.0f} s", "<= 300 s", whole["turnstile_seconds"] <= 300),
        ("everything (the unified series whole)", f"{whole['everything_seconds']:.0f} s", "<= 1800 s", whole["everything_seconds"] <= 1800),
        ("largest run process", f"{whole['run_peak_mb']:,.0f} MB", "<= 500 MB", whole["run_peak_mb"] <= 500),
        (
            "every week in every table exactly once",
            f"turnstile {whole['turnstile_once']}, hourly {whole['hourly_once']}, one row a day {whole['unified_days_once']}",
            "all True",
            whole["turnstile_once"] and whole["hourly_once"] and whole["unified_days_once"],
        ),
        (
            "backfills",
            ", ".join(f"{name} {status}" for name, status in whole["statuses"].items()),
            "COMPLETED_SUCCESS",
            set(whole["statuses"].values()) == {"COMPLETED_SUCCESS"},
        ),
        ("failed runs", f"{whole['failed_runs']}", "0", whole["failed_runs"] == 0),
    ]
    return [
        EVERYTHING_HEADING,
        "",
        f"Run on {when} by `python -m benchmarks.history --everything`.",
        "",
        "Every turnstile week (2010-05-01 to the feed's last, both layouts, real size, from `loopback.generated_feed`)",
        "and every hourly ridership week (2017-01-07 to the latest Saturday, 606,305 rows each, from",
        "`loopback.generated_hourly`, which also spends CPU on the same 2 cores), in two backfills launched together",
        "as the UI launches them, run by the daemon of `dg dev` with the project's dagster.yaml; the ridership and",
        "unified tables follow by their automation; the sensors load the latest weeks meanwhile, as on a first start.",
        "Times from the launch. First the last 52 weeks of each source, on an instance of their own, then every week.",
        "",
        *scaling_table(small, whole),
        "",
        "Ridership lag: how long after a week landed in its source's warehouse table the follower's next",
        f"materialization of that week came (at most {lag['system_ridership']:.0f} s for system_ridership, "
        f"{lag['system_daily_ridership']:.0f} s for system_daily_ridership).",
        "",
        "Every week:",
        "",
        *[f"- {line}" for line in everything_report(whole)],
        "",
        "| target | measured | limit | |",
        "|---|---|---|---|",
        *[f"| {name} | {measured} | {limit} | {'PASS' if ok else 'FAIL'} |" for name, measured, limit, ok in targets],
        "",
    ]


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
    parser.add_argument("--everything", action="store_true", help="both sources, every week, and write the section of docs/benchmarks.md")
    parser.add_argument("--weeks", type=int, help="with --everything: only the last WEEKS of each source, a quick look (not written)")
    arguments = parser.parse_args(argv)
    if arguments.everything:
        from benchmarks.report import now, write_section

        if arguments.weeks is not None:
            result = run_everything(arguments.turnstiles, arguments.weeks)
            print("\n".join(everything_report(result)))
            return result
        small, whole = run_scaling(arguments.turnstiles)
        write_section(EVERYTHING_HEADING, everything_section(small, whole, now()))
        return whole
    result = run_history(arguments.turnstiles, arguments.first, arguments.last)
    print("\n".join(report(result)))
    return result


if __name__ == "__main__":
    main()
