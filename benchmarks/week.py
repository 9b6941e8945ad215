"""Benchmark: memory and speed of a week, measured the way a real run meets them.

Real-size generated weeks (about 250,000 lines, 33 MB each) are served by a separate `python -m
http.server` process on loopback. Every measurement runs in a fresh child process of this Python, with
MTA_SOURCE_URL, MTA_LAKE_URL, MTA_DUCKDB_PATH and DAGSTER_HOME (the project's dagster.yaml, SQLite
storage) pointing at the loopback server and a temporary folder, as a run worker is set up:

* memory: the child loads the code location (`mta_assets.definitions.defs`), resolves `turnstile_job`
  (the lake week, its checks and the warehouse week) and the instance, and records its resident memory
  (RSS) as the baseline. It then runs the job once, for one week or for 26 consecutive weeks in one run
  (the partition range tags a backfill sets), sampling RSS from /proc/self/statm every 2 ms on a thread.
  Growth is the peak minus the baseline. The children share the lake, the warehouse and the instance, in
  this order: one week into an empty warehouse, 26 weeks in one run, one more week into the 27 weeks.
* time: one child runs N weeks each way, interleaved, after one warm-up week of each: `turnstile_job` on
  the DAGSTER_HOME instance; the same job on an in-memory instance (what Dagster's storage costs); the
  near-floor script: stream the file to disk, read it with pyarrow CSV (typed as the turnstile table),
  write parquet, replace the week in DuckDB (DELETE + INSERT from the parquet in one transaction); and the
  near-floor script with the package's parquet and DuckDB settings. Medians, and their ratio to the floor.

It reports against the targets (growth <= 100 MB for one week and for 26 weeks; mta_assets at most 1.3x
the near-floor script) and never fails on them.

    python -m benchmarks.week [--turnstiles 5000] [--time-weeks 5] [--range-weeks 26]
"""

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.machine import machine
from loopback.turnstile_files import write_weeks

if TYPE_CHECKING:  # imported in the children only after the definitions, as a run worker imports it
    from mta_assets.lib.tables import Table

REPOSITORY = Path(__file__).resolve().parents[1]
INSTANCE_CONFIG = REPOSITORY / "dagster_home" / "dagster.yaml"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
# Memory: FIRST_WEEK, the range after it, the week after that. Time: weeks from TIME_WEEKS_START, in a lake
# and warehouse of their own (and the floors' DuckDB files).
FIRST_WEEK = date(2022, 12, 3)
TIME_WEEKS_START = date(2023, 7, 1)

MAX_GROWTH_MB = 100
MAX_RATIO = 1.3
SAMPLE_SECONDS = 0.002
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_and_anon_bytes() -> tuple[int, int]:
    """Resident memory, and its anonymous part (without the pages of mapped files such as shared libraries)."""
    with open("/proc/self/statm") as statm:
        _, resident, shared, *_ = (int(value) for value in statm.read().split())
    return resident * _PAGE, (resident - shared) * _PAGE


class RssSampler:
    """Resident memory (and its anonymous part) sampled every 2 ms on a thread, with the time of each sample."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int, int]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            self.samples.append((time.time(), *rss_and_anon_bytes()))
            time.sleep(SAMPLE_SECONDS)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.samples.append((time.time(), *rss_and_anon_bytes()))

    @property
    def peak(self) -> int:
        return max(rss for _, rss, _ in self.samples)

    @property
    def peak_anon(self) -> int:
        return max(anon for _, _, anon in self.samples)

    def rise_between(self, start: float, end: float) -> int | None:
        """How far RSS rose during [start, end] above where it was when the window began."""
        inside = [rss for at, rss, _ in self.samples if start <= at <= end]
        return max(inside) - inside[0] if inside else None


# ---------------------------------------------------------------------------------------------------
# In the children


def _step_windows(instance, run_id: str) -> dict[str, tuple[float, float]]:
    """Each step's start and end (epoch seconds), from the run's event log."""
    windows: dict[str, list[float]] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type_value == "STEP_START":
            windows[event.step_key] = [record.timestamp, record.timestamp]
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in windows:
            windows[event.step_key][1] = record.timestamp
    return {key: (start, end) for key, (start, end) in windows.items()}


def _load_definitions(job_name: str = "turnstile_job"):
    """What a run worker has before the run: the code location's definitions, the job and the instance."""
    from dagster import DagsterInstance

    from mta_assets.definitions import defs

    job = defs().resolve_job_def(job_name)
    return job, DagsterInstance.get()


def _run_job(job, instance, weeks: list[date]):
    if len(weeks) == 1:
        return job.execute_in_process(partition_key=weeks[0].isoformat(), instance=instance, raise_on_error=False)
    return job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        tags={RANGE_START: weeks[0].isoformat(), RANGE_END: weeks[-1].isoformat()},
    )


def _warehouse_rows(weeks: list[date], table: str = "turnstile") -> int:
    import duckdb

    with duckdb.connect(os.environ["MTA_DUCKDB_PATH"], read_only=True) as connection:
        return connection.execute(
            f"SELECT count(*) FROM mta.{table} WHERE week_ending IN ({', '.join('?' * len(weeks))})", weeks
        ).fetchone()[0]


def child_memory(weeks: list[date], job_name: str = "turnstile_job", table: str = "turnstile") -> dict:
    """One run of `job_name` for `weeks`, its RSS sampled: growth above the loaded definitions, and the rows
    of `weeks` in the warehouse table `table` after it."""
    started = time.perf_counter()
    job, instance = _load_definitions(job_name)
    import pyarrow as pa  # after the definitions, as in a run worker: mta_assets sets up Arrow's allocator first

    load_seconds = time.perf_counter() - started
    gc.collect()
    baseline, baseline_anon = rss_and_anon_bytes()
    with RssSampler() as sampler:
        started = time.perf_counter()
        result = _run_job(job, instance, weeks)
        seconds = time.perf_counter() - started
    gc.collect()
    after, _ = rss_and_anon_bytes()
    pool = pa.default_memory_pool()
    windows = _step_windows(instance, result.run_id)
    return {
        "weeks": len(weeks),
        "success": result.success,
        "rows": _warehouse_rows(weeks, table),
        "load_seconds": load_seconds,
        "run_seconds": seconds,
        "baseline_mb": baseline / 1e6,
        "peak_mb": sampler.peak / 1e6,
        "growth_mb": (sampler.peak - baseline) / 1e6,
        "anon_growth_mb": (sampler.peak_anon - baseline_anon) / 1e6,
        "after_mb": after / 1e6,
        "step_rise_mb": {key: (sampler.rise_between(start, end) or 0) / 1e6 for key, (start, end) in windows.items()},
        "step_seconds": {key: end - start for key, (start, end) in windows.items()},
        "arrow_pool": pool.backend_name,
        "arrow_pool_peak_mb": pool.max_memory() / 1e6,
        "arrow_allocated_after_mb": pa.total_allocated_bytes() / 1e6,
    }


_RAW_NAMES = ["CA", "UNIT", "SCP", "STATION", "LINENAME", "DIVISION", "DATE", "TIME", "DESC", "ENTRIES", "EXITS"]
_TEXT = ("CA", "UNIT", "SCP", "STATION", "LINENAME", "DIVISION", "DATE", "DESC")


def floor_week(url: str, week: date, folder: Path, duckdb_path: str, tuned: bool = False) -> int:
    """The near-floor script: download, pyarrow CSV (typed), parquet, DELETE + INSERT in DuckDB.

    The same typed rows as the lake's, in one multi-threaded read, with no checks and no Dagster. `tuned`
    uses the package's settings: dictionaries on text columns only, DuckDB row groups of 32,768 rows,
    insertion order not preserved.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pv
    import pyarrow.parquet as pq
    import requests

    from mta_assets.lib.tables import TURNSTILE

    download = folder / f"turnstile_{week:%y%m%d}.txt"
    with requests.get(f"{url}/{download.name}", stream=True, timeout=60) as response:
        response.raise_for_status()
        with open(download, "wb") as file:
            for chunk in response.iter_content(1 << 20):
                file.write(chunk)
    types = {name: pa.string() for name in _RAW_NAMES}
    types.update(TIME=pa.time32("s"), ENTRIES=pa.int64(), EXITS=pa.int64())
    raw = pv.read_csv(
        download,
        read_options=pv.ReadOptions(column_names=_RAW_NAMES, skip_rows=1),
        convert_options=pv.ConvertOptions(column_types=types),
    )
    text = {name: pc.ascii_trim_whitespace(raw[name]) for name in _TEXT}
    day = pc.strptime(text["DATE"], format="%m/%d/%Y", unit="s")
    seconds = pc.cast(pc.cast(raw["TIME"], pa.int32()), pa.int64())
    table = pa.table(
        {
            "control_area": text["CA"],
            "unit": text["UNIT"],
            "scp": text["SCP"],
            "station": text["STATION"],
            "line_name": text["LINENAME"],
            "division": text["DIVISION"],
            "reading_at": pc.add(day, pc.cast(seconds, pa.duration("s"))),
            "description": text["DESC"],
            "entries": raw["ENTRIES"],
            "exits": raw["EXITS"],
            "week_ending": pa.repeat(pa.scalar(week, pa.date32()), raw.num_rows),
        },
        schema=TURNSTILE.arrow_schema,
    )
    parquet = folder / f"turnstile_{week:%y%m%d}.parquet"
    dictionaries = [field.name for field in table.schema if field.type in (pa.string(), pa.date32())] if tuned else True
    pq.write_table(table, parquet, compression="snappy", use_dictionary=dictionaries)
    download.unlink()
    rows = floor_replace(TURNSTILE, parquet, week, duckdb_path, tuned)
    parquet.unlink()
    return rows


def floor_replace(table: "Table", parquet: Path, week: date, duckdb_path: str, tuned: bool = False) -> int:
    """The near-floor's load: the week of `table` replaced by the parquet's rows (DELETE + INSERT, one
    transaction); `tuned` as in floor_week. The rows of the week after it."""
    import duckdb

    if tuned:
        connection = duckdb.connect()
        connection.execute("ATTACH ? AS floor (ROW_GROUP_SIZE 32768)", [duckdb_path])
        connection.execute("USE floor")
        connection.execute("SET preserve_insertion_order = false")
    else:
        connection = duckdb.connect(duckdb_path)
    with connection:
        columns = ", ".join(f"{column.name} {column.duckdb_type}" for column in table.columns)
        connection.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({columns})")
        connection.begin()
        connection.execute(f"DELETE FROM {table.name} WHERE week_ending = ?", [week])
        connection.execute(f"INSERT INTO {table.name} BY NAME SELECT * FROM read_parquet(?)", [str(parquet)])
        rows = connection.execute(f"SELECT count(*) FROM {table.name} WHERE week_ending = ?", [week]).fetchone()[0]
        connection.commit()
    return rows


# The ways timed, in the order they run for each week.
MTA_ASSETS = "mta_assets"
MTA_ASSETS_IN_MEMORY = "mta_assets, in-memory instance"
FLOOR = "near-floor"
FLOOR_TUNED = "near-floor, package's settings"


def child_time(weeks: list[date], other_weeks: list[date], floor_folder: str) -> dict:
    """Each way once per week, interleaved; the first week of each way is the warm-up and is not kept.

    mta_assets runs `turnstile_job` on the instance of DAGSTER_HOME (the project's dagster.yaml: SQLite
    storage, as `dg dev` runs it) for `weeks`, and on an in-memory instance for `other_weeks` (other
    weeks of the same warehouse, so neither replaces the other's rows); the floors load `weeks` into
    DuckDB files of their own.
    """
    from dagster import DagsterInstance

    job, instance = _load_definitions()
    in_memory = DagsterInstance.ephemeral()
    url = os.environ["MTA_SOURCE_URL"]
    folder = Path(floor_folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[float]] = {MTA_ASSETS: [], MTA_ASSETS_IN_MEMORY: [], FLOOR: [], FLOOR_TUNED: []}
    steps: dict[str, list[float]] = {}
    outside_steps: list[float] = []

    def timed(way: str, work, keep: bool):
        started = time.perf_counter()
        result = work()
        if keep:
            runs[way].append(time.perf_counter() - started)
        return result

    for number, (week, other_week) in enumerate(zip(weeks, other_weeks)):
        keep = number > 0
        result = timed(MTA_ASSETS, lambda: _run_job(job, instance, [week]), keep)
        other = timed(MTA_ASSETS_IN_MEMORY, lambda: _run_job(job, in_memory, [other_week]), keep)
        if not (result.success and other.success):
            raise RuntimeError(f"turnstile_job failed for {week} or {other_week}")
        rows = _warehouse_rows([week])
        floor_rows = timed(FLOOR, lambda: floor_week(url, week, folder, str(folder / "floor.duckdb")), keep)
        tuned_rows = timed(FLOOR_TUNED, lambda: floor_week(url, week, folder, str(folder / "tuned.duckdb"), tuned=True), keep)
        if not rows == floor_rows == tuned_rows == _warehouse_rows([other_week]):
            raise RuntimeError(f"{week}: mta_assets loaded {rows} rows, the floors {floor_rows} and {tuned_rows}")
        if keep:
            windows = _step_windows(instance, result.run_id)
            for key, (start, end) in windows.items():
                steps.setdefault(key, []).append(end - start)
            outside_steps.append(runs[MTA_ASSETS][-1] - sum(end - start for start, end in windows.values()))
    return {
        "rows": rows,
        "runs": runs,
        "step_seconds": {key: statistics.median(values) for key, values in steps.items()},
        "outside_steps_seconds": statistics.median(outside_steps),
    }


def child_main(request: dict) -> None:
    """A child's measurement. A memory request may name another job and its warehouse table (benchmarks.hourly
    does): this module's children import nothing a run worker lacks before the definitions."""
    weeks = [date.fromisoformat(key) for key in request["weeks"]]
    if request["kind"] == "memory":
        result = child_memory(weeks, request.get("job", "turnstile_job"), request.get("table", "turnstile"))
    else:
        other_weeks = [date.fromisoformat(key) for key in request["other_weeks"]]
        result = child_time(weeks, other_weeks, request["floor_folder"])
    print("RESULT " + json.dumps(result))


# ---------------------------------------------------------------------------------------------------
# In the parent


@contextmanager
def serving(folder: Path):
    """`folder` served by a separate HTTP server process on loopback, as a mirror would be."""
    from loopback.emulators import free_port, reset_signals, wait_until_ready

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=reset_signals,  # or server.terminate() below would not stop it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(server, url, "the mirror's http.server", 10)
        yield url
    finally:
        server.terminate()
        server.wait()


def run_child(request: dict, env: dict[str, str], module: str = "benchmarks.week") -> dict:
    """The RESULT a fresh `python -m {module} --child {request}` prints."""
    completed = subprocess.run(
        [sys.executable, "-m", module, "--child", json.dumps(request)],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode or not lines:
        raise RuntimeError(f"benchmark child {request['kind']} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-5000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def child_env(folder: Path, sources: dict[str, str]) -> dict[str, str]:
    """A run worker's environment: the `sources` settings (MTA_SOURCE_URL, ...), the lake, DuckDB file and
    DAGSTER_HOME (the project's dagster.yaml) under `folder`; no other MTA_ setting."""
    home = folder / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(INSTANCE_CONFIG, home / "dagster.yaml")
    env = {name: value for name, value in os.environ.items() if not name.startswith("MTA_")}
    env.update(
        sources,
        MTA_LAKE_URL=str(folder / "lake"),
        MTA_DUCKDB_PATH=str(folder / "warehouse.duckdb"),
        DAGSTER_HOME=str(home),
    )
    return env


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def short(step: str) -> str:
    return step.removeprefix("turnstile_lake_")


def print_report(results: dict) -> None:
    memory, timing = results["memory"], results["time"]
    print(f"week: {results['mb_per_week']:.1f} MB, {results['lines_per_week']:,} lines; {results['machine']}")
    print()
    print("MEMORY: a fresh process per run; baseline once the definitions are loaded, then one run of turnstile_job")
    print(
        f"{'run':34} {'load s':>6} {'run s':>6} {'baseline MB':>11} {'peak MB':>8} {'growth MB':>9} "
        f"{'anon MB':>7} {'after MB':>8}  target"
    )
    for run in memory:
        print(
            f"{run['label']:34} {run['load_seconds']:6.1f} {run['run_seconds']:6.1f} {run['baseline_mb']:11.0f} "
            f"{run['peak_mb']:8.0f} {run['growth_mb']:9.0f} {run['anon_growth_mb']:7.0f} {run['after_mb']:8.0f}  "
            f"<= {MAX_GROWTH_MB} MB {verdict(run['growth_mb'] <= MAX_GROWTH_MB)}"
        )
    print("  growth: peak RSS minus baseline. anon: the same for anonymous memory only, without the pages of")
    print("  shared libraries (Arrow, DuckDB) first touched by the run. after: RSS once the run has ended.")
    print("  How far RSS rose within each step, MB (what is not given back stays under the next steps):")
    for run in memory:
        print(f"    {run['label']}: " + ", ".join(f"{short(key)} {value:.0f}" for key, value in run["step_rise_mb"].items()))
        print(
            f"    {'':{len(run['label'])}}  Arrow pool ({run['arrow_pool']}): peak {run['arrow_pool_peak_mb']:.0f} MB, "
            f"{run['arrow_allocated_after_mb']:.0f} MB still allocated after the run"
        )
    print()
    runs = timing["runs"]
    print(f"TIME: one process, {len(runs[FLOOR])} weeks each way, interleaved, after a warm-up week of each")
    print(f"{'way':34} {'median s':>8} {'/ floor':>7}  each week (s)")
    floor = statistics.median(runs[FLOOR])
    for way, each in runs.items():
        print(f"{way:34} {statistics.median(each):8.2f} {statistics.median(each) / floor:6.2f}x  {', '.join(f'{s:.2f}' for s in each)}")
    print(
        "  mta_assets steps (median s): "
        + ", ".join(f"{short(key)} {value:.2f}" for key, value in timing["step_seconds"].items())
        + f"; outside the steps {timing['outside_steps_seconds']:.2f}"
    )
    print()
    print("TARGETS")
    for name, value, target, ok in targets(results):
        print(f"  {name:46} {value:>8}  {target:>9}  {verdict(ok)}")


def targets(results: dict) -> list[tuple[str, str, str, bool]]:
    rows = [
        (f"memory growth, {run['label']}", f"{run['growth_mb']:.0f} MB", f"<= {MAX_GROWTH_MB} MB", run["growth_mb"] <= MAX_GROWTH_MB)
        for run in results["memory"]
    ]
    rows.append(("time, mta_assets / near-floor", f"{results['ratio']:.2f}x", f"<= {MAX_RATIO}x", results["ratio"] <= MAX_RATIO))
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turnstiles", type=int, default=5000, help="5000 gives about 250,000 lines, 33 MB a week")
    parser.add_argument("--time-weeks", type=int, default=5, help="weeks each way, after one warm-up week each")
    parser.add_argument("--range-weeks", type=int, default=26, help="weeks of the multi-week run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child:
        child_main(json.loads(arguments.child))
        return {}

    range_weeks = [FIRST_WEEK + timedelta(weeks=1 + offset) for offset in range(arguments.range_weeks)]
    after_range = range_weeks[-1] + timedelta(weeks=1)
    time_weeks = [TIME_WEEKS_START + timedelta(weeks=offset) for offset in range(1 + arguments.time_weeks)]
    other_weeks = [time_weeks[-1] + timedelta(weeks=1 + offset) for offset in range(len(time_weeks))]
    with tempfile.TemporaryDirectory(prefix="mta-week-bench-") as directory:
        folder = Path(directory)
        mirror = folder / "mirror"
        mirror.mkdir()
        lines = write_weeks(mirror, [FIRST_WEEK, *range_weeks, after_range, *time_weeks, *other_weeks], arguments.turnstiles)
        size = (mirror / f"turnstile_{FIRST_WEEK:%y%m%d}.txt").stat().st_size
        with serving(mirror) as url:
            memory_env = child_env(folder / "memory", {"MTA_SOURCE_URL": url})
            memory = []
            for label, weeks in (
                ("1 week, empty warehouse", [FIRST_WEEK]),
                (f"{len(range_weeks)} weeks in one run", range_weeks),
                (f"1 week, warehouse of {len(range_weeks) + 1} weeks", [after_range]),
            ):
                run = run_child({"kind": "memory", "weeks": [week.isoformat() for week in weeks]}, memory_env)
                if not run["success"] or run["rows"] != lines * len(weeks):
                    raise RuntimeError(f"{label}: run success {run['success']}, {run['rows']} rows for {len(weeks)} weeks")
                memory.append({"label": label, **run})
            timing = run_child(
                {
                    "kind": "time",
                    "weeks": [week.isoformat() for week in time_weeks],
                    "other_weeks": [week.isoformat() for week in other_weeks],
                    "floor_folder": str(folder / "floor"),
                },
                child_env(folder / "time", {"MTA_SOURCE_URL": url}),
            )
    medians = {way: statistics.median(each) for way, each in timing["runs"].items()}
    results = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "lines_per_week": lines,
        "mb_per_week": size / 1e6,
        "memory": memory,
        "time": timing,
        "medians": medians,
        "ratio": medians[MTA_ASSETS] / medians[FLOOR],
    }
    print_report(results)
    return results


if __name__ == "__main__":
    main()
