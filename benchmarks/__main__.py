"""Every benchmark, and a markdown report of them in docs/benchmarks.md.

    python -m benchmarks [--output docs/benchmarks.md]
"""

import argparse
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import backfill, ingest_week


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024 / 1024:.0f} GiB, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def report(ingest: dict, backfills: list[dict]) -> str:
    new, old = ingest[ingest_week.NEW], ingest[ingest_week.OLD]
    lines = [
        "# Benchmarks",
        "",
        f"Run by `python -m benchmarks` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {machine()}.",
        "",
        "## One week through lake and warehouse, against the old way",
        "",
        "A real-size generated week (about 250,000 lines, 33 MB) served by an HTTP server process on loopback;",
        "mta_assets materializes `turnstile_lake` and `turnstile_warehouse` in process (parquet lake, DuckDB);",
        "the old way is pandas `read_csv(chunksize=5000)` appending each chunk to a gzip CSV. Median time over",
        "five weeks, largest growth of the process's resident memory during a week.",
        "",
        "| run | seconds per week | RSS growth (MB) | target |",
        "|---|---|---|---|",
        f"| mta_assets: lake + warehouse | {new['seconds']:.2f} | {new['rss_growth_mb']:.0f} | <= 1.5 s, <= 150 MB |",
        f"| old way: pandas chunks to gzip CSV | {old['seconds']:.2f} | {old['rss_growth_mb']:.0f} | |",
        f"| **speed-up** | **{old['seconds'] / new['seconds']:.1f}x** | | >= 3x |",
        "",
        "## Backfills launched as the UI launches them, run by the daemon",
        "",
        "`dagster dev` with the project's dagster.yaml (2 runs at a time, up to 26 weeks a run), a fresh",
        "instance per size, real-size weeks from a loopback mirror. *To warehouse*: launch until every week is",
        "materialized in the warehouse, including the backfill daemon's wait (it looks every 30 s). *Runs*:",
        "first run start to last run end. *Closed*: until the daemon marks the backfill done.",
        "",
        "| weeks | lines | to warehouse (s) | runs | runs (s) | runs per week (s) | closed (s) | every week once |",
        "|---|---|---|---|---|---|---|---|",
    ]
    first = backfills[0]
    for result in backfills:
        lines.append(
            f"| {result['weeks']} | {result['lines']:,} | {result['seconds']:.1f} | {result['runs']} | "
            f"{result['run_seconds']:.1f} | {result['run_seconds'] / result['weeks']:.2f} | {result['closed']:.1f} | "
            f"{'yes' if result['exactly_once'] else 'NO'} |"
        )
    last = backfills[-1]
    lines += [
        "",
        f"From {first['weeks']} to {last['weeks']} weeks ({last['weeks'] / first['weeks']:.0f}x the weeks) the runs took "
        f"{last['run_seconds'] / first['run_seconds']:.1f}x as long; target: {last['weeks']} weeks closed within 60 s.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md")
    arguments = parser.parse_args()
    ingest = ingest_week.main([])
    backfills = backfill.main([])
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(report(ingest, backfills))
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
