"""Benchmark: the memory of the ridership and unified tables' runs of 26 weeks, over a real-size warehouse.

The warehouse is built directly, not through the sources (that is benchmarks.history's work): one turnstile
week (`loopback.turnstile_files`, 5,000 turnstiles, about 250,000 readings) and one hourly week
(`loopback.generated_hourly`, 606,305 rows) are generated, written to the warehouse's own tables as the
loads write them, and repeated with their dates moved to every week of the span, so each week has the real
size of its source. Then every ridership asset (stations, station_daily_ridership, system_ridership,
daily_ridership, system_daily_ridership, in that order) is materialized in runs of 26 weeks, as a backfill
or the automation runs them, each run in a fresh process that has loaded the definitions (a run worker's
state), its resident memory (RSS) sampled every 2 ms (benchmarks.week). Reported: each asset's largest peak
over its runs, against the 500 MB a run may reach.

    python -m benchmarks.ridership [--first 2017-01-14] [--weeks 104] [--memory-limit 200MB]

--memory-limit sets MTA_DUCKDB_MEMORY_LIMIT in the runs; without it (the setting's default) the results
are written to their section of docs/benchmarks.md.
"""

import argparse
import json
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from benchmarks import week
from benchmarks.machine import machine

ASSETS = ("stations", "station_daily_ridership", "system_ridership", "daily_ridership", "system_daily_ridership")
WEEKS_PER_RUN = 26
MAX_RUN_MB = 500
TURNSTILES = 5000


def build_warehouse(path: str, weeks: list[date]) -> dict[str, int]:
    """The DuckDB file at `path` with real-size turnstile and hourly weeks for `weeks`; rows per table."""
    import duckdb
    import pyarrow as pa

    import pyarrow.csv as pv

    from loopback.generated_hourly import EPOCH, FIELDS, ROWS_PER_DAY, rows_csv
    from loopback.turnstile_files import turnstiles, week_readings
    from mta_assets.lib.tables import HOURLY_RIDERSHIP, TURNSTILE

    template = weeks[0]
    readings = week_readings(template, turnstiles(TURNSTILES))
    turnstile = pa.table(
        {
            "control_area": [reading.turnstile.control_area for reading in readings],
            "unit": [reading.turnstile.unit for reading in readings],
            "scp": [reading.turnstile.scp for reading in readings],
            "station": [reading.turnstile.station for reading in readings],
            "line_name": [reading.turnstile.line_name for reading in readings],
            "division": [reading.turnstile.division for reading in readings],
            "reading_at": pa.array([reading.at for reading in readings], pa.timestamp("s")),
            "description": [reading.description for reading in readings],
            "entries": [reading.entries for reading in readings],
            "exits": [reading.exits for reading in readings],
        }
    )
    del readings
    # The generated hours are numbered from EPOCH: the template's seven days, Saturday to Friday, as the
    # server answers them (CSV).
    first_day = (datetime.combine(template - timedelta(days=7), datetime.min.time()) - EPOCH).days
    text = {name: pa.string() for name in ("transit_mode", "station_complex_id", "station_complex", "borough", "payment_method", "fare_class_category")}
    hourly = pv.read_csv(
        pa.py_buffer(rows_csv(list(FIELDS), first_day * ROWS_PER_DAY, 7 * ROWS_PER_DAY)),
        convert_options=pv.ConvertOptions(
            column_types={"transit_timestamp": pa.timestamp("s"), "ridership": pa.int64(), "transfers": pa.int64(), "latitude": pa.float64(), "longitude": pa.float64(), **text},
            include_columns=["transit_timestamp", *text, "ridership", "transfers", "latitude", "longitude"],
            timestamp_parsers=["%Y-%m-%dT%H:%M:%S.000"],
        ),
    )
    with duckdb.connect(path) as connection:
        connection.execute("CREATE SCHEMA mta")
        for table in (TURNSTILE, HOURLY_RIDERSHIP):
            columns = ", ".join(f"{column.name} {column.duckdb_type}" for column in table.columns)
            connection.execute(f"CREATE TABLE mta.{table.name} ({columns})")
        connection.register("turnstile_week", turnstile)
        connection.register("hourly_week", hourly)
        # Week by week, as the loads append them: each week's rows together in the file.
        for number, each in enumerate(weeks):
            shift = f"INTERVAL {7 * number} DAY"
            connection.execute(
                f"INSERT INTO mta.turnstile BY NAME SELECT * EXCLUDE (reading_at), reading_at + {shift} AS reading_at, "
                f"DATE '{each}' AS week_ending FROM turnstile_week ORDER BY unit, control_area, scp, reading_at"
            )
            connection.execute(
                f"INSERT INTO mta.hourly_ridership BY NAME SELECT * EXCLUDE (transit_timestamp), transit_timestamp + {shift} "
                f"AS transit_timestamp, 'wujg-7c2s' AS dataset_id, DATE '{each}' AS week_ending FROM hourly_week"
            )
        return {
            table: connection.execute(f"SELECT count(*) FROM mta.{table}").fetchone()[0] for table in ("turnstile", "hourly_ridership")
        }


def child_run(asset: str, weeks: list[date]) -> dict:
    """One run of `asset` for `weeks` in this fresh process, after the definitions, its RSS sampled."""
    started = time.perf_counter()
    from dagster import AssetSelection, DagsterInstance, Definitions, define_asset_job

    from mta_assets.defs.alerts import root_message
    from mta_assets.definitions import defs

    # The asset and its checks alone, as the automation's runs have them.
    job = Definitions.merge(defs(), Definitions(jobs=[define_asset_job(asset, AssetSelection.assets(asset))])).resolve_job_def(asset)
    instance = DagsterInstance.get()
    load_seconds = time.perf_counter() - started
    baseline, _ = week.rss_and_anon_bytes()
    with week.RssSampler() as sampler:
        started = time.perf_counter()
        result = week._run_job(job, instance, weeks)
        seconds = time.perf_counter() - started
    failures = [
        root_message(event.step_failure_data.error).strip()[:300]
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error
    ]
    return {
        "asset": asset,
        "weeks": f"{weeks[0]} to {weeks[-1]}",
        "success": result.success,
        "failures": failures,
        "load_seconds": load_seconds,
        "run_seconds": seconds,
        "baseline_mb": baseline / 1e6,
        "peak_mb": sampler.peak / 1e6,
    }


def run_assets(folder: Path, weeks: list[date], memory_limit: str | None) -> list[dict]:
    """Every ridership asset over `weeks`, in runs of WEEKS_PER_RUN, each in a fresh process; the runs' results."""
    env = week.child_env(folder, {})
    if memory_limit:
        env["MTA_DUCKDB_MEMORY_LIMIT"] = memory_limit
    runs = []
    for asset in ASSETS:
        for start in range(0, len(weeks), WEEKS_PER_RUN):
            chunk = weeks[start : start + WEEKS_PER_RUN]
            run = week.run_child({"asset": asset, "weeks": [each.isoformat() for each in chunk]}, env, "benchmarks.ridership")
            print(f"{asset} {run['weeks']}: {'ok' if run['success'] else 'FAILED'}, peak {run['peak_mb']:.0f} MB, "
                  f"{run['run_seconds']:.1f} s" + (f" ({'; '.join(run['failures'])})" if run["failures"] else ""), flush=True)  # fmt: skip
            runs.append(run)
    return runs


def measure(first: date, weeks_count: int, memory_limit: str | None, kept: Path | None = None) -> dict:
    """The runs over a warehouse built for the weeks: in a temporary folder, or in `kept` (built there once,
    then reused as it is)."""
    weeks = [first + timedelta(weeks=number) for number in range(weeks_count)]
    with tempfile.TemporaryDirectory(prefix="mta-ridership-") as directory:
        folder = kept or Path(directory)
        database = folder / "warehouse.duckdb"
        started = time.perf_counter()
        rows = build_warehouse(str(database), weeks) if not database.exists() else None
        build_seconds = time.perf_counter() - started
        runs = run_assets(folder, weeks, memory_limit)
        return {
            "weeks": f"{weeks[0]} to {weeks[-1]} ({len(weeks)})",
            "rows": rows or {},
            "build_seconds": build_seconds,
            "duckdb_mb": database.stat().st_size / 1e6,
            "memory_limit": memory_limit or "the default",
            "runs": runs,
        }


def report(result: dict) -> list[str]:
    lines = [
        f"weeks {result['weeks']}; warehouse built in {result['build_seconds']:.0f} s, {result['duckdb_mb']:,.0f} MB: "
        + ", ".join(f"{table} {count:,} rows" for table, count in result["rows"].items()),
        f"MTA_DUCKDB_MEMORY_LIMIT: {result['memory_limit']}",
    ]
    for asset in ASSETS:
        runs = [run for run in result["runs"] if run["asset"] == asset]
        peak = max(run["peak_mb"] for run in runs)
        failed = [run for run in runs if not run["success"]]
        lines.append(
            f"{asset}: {len(runs)} runs, {len(failed)} failed, largest peak {peak:.0f} MB (baseline "
            f"{max(run['baseline_mb'] for run in runs):.0f} MB), slowest {max(run['run_seconds'] for run in runs):.1f} s; "
            f"target <= {MAX_RUN_MB} MB: {week.verdict(peak <= MAX_RUN_MB and not failed)}"
        )
    return lines


FIRST_WEEK = date(2017, 1, 14)
WEEKS = 104
HEADING = "## The ridership and unified tables' runs of 26 weeks, memory at real size"


def section(result: dict, when: str) -> list[str]:
    return [
        HEADING,
        "",
        f"Run on {when} by `python -m benchmarks.ridership`.",
        "",
        "A warehouse of real-size weeks (one generated turnstile week of 5,000 turnstiles and one generated hourly",
        "week of 606,305 rows, repeated with their dates moved to each week), then every ridership asset in runs",
        "of 26 weeks, in dependency order, each run in a fresh process that has loaded the definitions, its RSS",
        "sampled every 2 ms. Each asset's largest peak over its runs; target <= 500 MB.",
        "",
        *[f"- {line}" for line in report(result)],
        "",
    ]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=date.fromisoformat, default=FIRST_WEEK, help="the first week (a Saturday)")
    parser.add_argument("--weeks", type=int, default=WEEKS)
    parser.add_argument("--memory-limit", help="MTA_DUCKDB_MEMORY_LIMIT for the runs")
    parser.add_argument("--folder", type=Path, help="keep the warehouse in this folder, built on the first use")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child:
        request = json.loads(arguments.child)
        print("RESULT " + json.dumps(child_run(request["asset"], [date.fromisoformat(key) for key in request["weeks"]])))
        return {}
    print(machine())
    result = measure(arguments.first, arguments.weeks, arguments.memory_limit, arguments.folder)
    print("\n".join(report(result)))
    if arguments.memory_limit is None:
        from benchmarks.report import now, write_section

        write_section(HEADING, section(result, now()))
    return result


if __name__ == "__main__":
    main()
