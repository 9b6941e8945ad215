"""Every benchmark, and a markdown report of them in docs/benchmarks.md.

    python -m benchmarks [--output docs/benchmarks.md] [--only week|backfill|history|hourly|everything|ridership]

With --only, that benchmark runs and its section is rewritten; the other sections are kept as they are
in the output file, with the date they were run.
"""

import argparse
import re
from pathlib import Path

from benchmarks import backfill, history, hourly, ridership, week
from benchmarks.machine import machine
from benchmarks.report import REPORT, now

BACKFILL_HEADING = "## Backfills launched as the UI launches them, run by the daemon"
WEEK_HEADING = "## Memory and speed of a week, as a real run meets them"
HISTORY_HEADING = "## The whole feed, backfilled through the daemon"
HOURLY_HEADING = "## Hourly ridership"


def week_section(results: dict) -> list[str]:
    memory, timing, medians = results["memory"], results["time"], results["medians"]
    floor = medians[week.FLOOR]
    lines = [
        WEEK_HEADING,
        "",
        f"Run on {results['date']} by `python -m benchmarks.week`.",
        "",
        f"Real-size generated weeks ({results['lines_per_week']:,} lines, {results['mb_per_week']:.0f} MB each) served by a",
        "`python -m http.server` process on loopback. Each run is `turnstile_job` (the lake week, its checks",
        "and the warehouse week), with the project's dagster.yaml (SQLite storage) in a temporary DAGSTER_HOME and",
        "a temporary lake folder and DuckDB file.",
        "",
        "### Memory",
        "",
        "A fresh process per run: it loads the definitions (`mta_assets.definitions.defs`), records its resident",
        "memory (RSS) as the baseline, then runs the job once, RSS sampled every 2 ms. Growth is the peak minus",
        "the baseline; *anonymous* leaves out the pages of shared libraries (Arrow, DuckDB) that the run touches",
        "first; *after* is RSS once the run has ended. The three runs share the lake, warehouse and instance,",
        "in this order.",
        "",
        "| run | baseline (MB) | peak (MB) | growth (MB) | anonymous growth (MB) | after (MB) | target | |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in memory:
        lines.append(
            f"| {run['label']} | {run['baseline_mb']:.0f} | {run['peak_mb']:.0f} | {run['growth_mb']:.0f} | "
            f"{run['anon_growth_mb']:.0f} | {run['after_mb']:.0f} | <= {week.MAX_GROWTH_MB} MB | "
            f"{week.verdict(run['growth_mb'] <= week.MAX_GROWTH_MB)} |"
        )
    lines += [
        "",
        "How far RSS rose within each step (MB); what a step does not give back stays under the next ones:",
        "",
        "| run | " + " | ".join(week.short(key) for key in memory[0]["step_rise_mb"]) + " |",
        "|---|" + "---|" * len(memory[0]["step_rise_mb"]),
    ]
    for run in memory:
        lines.append(f"| {run['label']} | " + " | ".join(f"{value:.0f}" for value in run["step_rise_mb"].values()) + " |")
    lines += [
        "",
        "### Time",
        "",
        f"One process, {len(timing['runs'][week.FLOOR])} weeks each way, interleaved, after a warm-up week of each;",
        "median seconds per week. The near-floor script streams the file to disk, reads it with pyarrow CSV",
        "(typed as the lake's rows, multi-threaded), writes parquet and replaces the week in DuckDB (DELETE +",
        "INSERT from the parquet, one transaction); no checks, no Dagster. Its second form uses the package's",
        "parquet and DuckDB settings. `mta_assets, in-memory instance` is the same job on",
        "`DagsterInstance.ephemeral()`: the difference to the first row is what Dagster's SQLite storage costs.",
        "",
        "| way | seconds per week | / near-floor |",
        "|---|---|---|",
    ]
    for way, seconds in medians.items():
        lines.append(f"| {way} | {seconds:.2f} | {seconds / floor:.2f}x |")
    lines += [
        "",
        "mta_assets steps (median seconds): "
        + ", ".join(f"{week.short(key)} {value:.2f}" for key, value in timing["step_seconds"].items())
        + f"; outside the steps (run creation, events) {timing['outside_steps_seconds']:.2f}.",
        "",
        "### Targets",
        "",
        "| target | measured | limit | |",
        "|---|---|---|---|",
    ]
    for name, value, limit, ok in week.targets(results):
        lines.append(f"| {name} | {value} | {limit} | {week.verdict(ok)} |")
    lines.append("")
    return lines


def backfill_section(backfills: list[dict], date: str) -> list[str]:
    lines = [
        BACKFILL_HEADING,
        "",
        f"Run on {date} by `python -m benchmarks.backfill`.",
        "",
        "`dg dev` with the project's dagster.yaml (2 runs at a time, up to 26 weeks a run), a fresh",
        "instance per size, real-size weeks from a loopback mirror. *To warehouse*: launch until every week is",
        "materialized in the warehouse, including the backfill daemon's wait (it looks every 30 s). *Runs*:",
        "first run start to last run end. *Closed*: until the daemon marks the backfill done.",
        "",
        "| weeks | lines | to warehouse (s) | runs | runs (s) | runs per week (s) | closed (s) | every week once |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in backfills:
        lines.append(
            f"| {result['weeks']} | {result['lines']:,} | {result['seconds']:.1f} | {result['runs']} | "
            f"{result['run_seconds']:.1f} | {result['run_seconds'] / result['weeks']:.2f} | {result['closed']:.1f} | "
            f"{'yes' if result['exactly_once'] else 'NO'} |"
        )
    first, last = backfills[0], backfills[-1]
    lines += [
        "",
        f"From {first['weeks']} to {last['weeks']} weeks ({last['weeks'] / first['weeks']:.0f}x the weeks) the runs took "
        f"{last['run_seconds'] / first['run_seconds']:.1f}x as long; target: {last['weeks']} weeks closed within 60 s.",
        "",
    ]
    return lines


def history_section(result: dict, date: str) -> list[str]:
    return [
        HISTORY_HEADING,
        "",
        f"Run on {date} by `python -m benchmarks.history`.",
        "",
        "Every week the MTA published from 2010-05-01 to 2024-02-17, real size, in its layout (legacy before",
        "2014-10-18), generated on request by a loopback server (`loopback.generated_feed`); one backfill of",
        "`turnstile_lake` and `turnstile_warehouse` launched as the",
        "UI launches it, run by the daemon of `dg dev` with the project's dagster.yaml (2 runs at a time, the",
        "download pool at 2, the warehouse pool at 1); the ridership assets follow by their automation.",
        "",
        *[f"- {line}" for line in history.report(result)],
        "",
    ]


def hourly_section(results: dict) -> list[str]:
    lines = [
        HOURLY_HEADING,
        "",
        f"Run on {results['date']} by `python -m benchmarks.hourly`.",
        "",
        f"NY Open Data's hourly ridership generated at real size ({hourly.ROWS_PER_WEEK:,} rows a week) by a",
        "`python -m loopback.generated_hourly` process on loopback; pages are what that server answered.",
        "",
        f"### One week ({hourly.WEEK})",
        "",
        "`hourly_ridership_job` (the lake week, then the warehouse week) in a fresh process per run, measured as",
        "in *Memory and speed of a week*: RSS once the definitions are loaded is the baseline, growth is the peak",
        "minus it. The second run replaces the week in the same lake, warehouse and instance. The near-floor",
        "script streams the same pages to disk, reads each with pyarrow CSV (typed), writes one parquet file and",
        "replaces the week in DuckDB (DELETE + INSERT); no checks, no totals, no Dagster; a fresh process each time,",
        "after each run of the job (interleaved: the machine is shared and its load moves).",
        "",
        "*Server CPU*: what the generated server spent on the pages; it competes with the run for the 2 cores.",
        "",
        "| run | seconds | pages | server CPU (s) | rows in the warehouse | baseline (MB) | peak (MB) | growth (MB) | anonymous growth (MB) | target | |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["week"]["runs"]:
        lines.append(
            f"| {run['label']} | {run['run_seconds']:.1f} | {run['requests'].get('pages', 0)} | "
            f"{run['server_cpu_seconds']:.1f} | {run['rows']:,} | "
            f"{run['baseline_mb']:.0f} | {run['peak_mb']:.0f} | {run['growth_mb']:.0f} | {run['anon_growth_mb']:.0f} | "
            f"<= {hourly.MAX_GROWTH_MB} MB | {week.verdict(run['growth_mb'] <= hourly.MAX_GROWTH_MB)} |"
        )
    for number, floor in enumerate(results["week"]["floors"], 1):
        lines.append(
            f"| near-floor script, run {number} | {floor['run_seconds']:.1f} | {floor['requests'].get('pages', 0)} | "
            f"{floor['server_cpu_seconds']:.1f} | {floor['rows']:,} | | | | | | |"
        )
    first = results["week"]["runs"][0]
    lines += [
        "",
        "Steps of the first run: "
        + ", ".join(
            f"{key} {seconds:.1f} s, RSS rose {first['step_rise_mb'][key]:.0f} MB within it"
            for key, seconds in first["step_seconds"].items()
        )
        + ".",
        "",
    ]
    if results["backfill"]:
        lines += [
            f"### Backfill of {results['backfill']['weeks']} weeks",
            "",
            "Launched as the UI launches a backfill of `hourly_ridership_lake` and `hourly_ridership_warehouse`, run",
            "by the daemon of `dg dev` with the project's dagster.yaml (2 runs at a time, up to 26 weeks a run); the",
            "time from launch includes the backfill daemon's wait (it looks every 30 s).",
            "",
            *[f"- {line}" for line in hourly.backfill_lines(results["backfill"])],
            "",
        ]
    lines += ["### Targets", "", "| target | measured | limit | |", "|---|---|---|---|"]
    for name, value, limit, ok in hourly.targets(results):
        lines.append(f"| {name} | {value} | {limit} | {week.verdict(ok)} |")
    lines.append("")
    return lines


def kept_section(previous: str, heading: str) -> list[str]:
    """The section under `heading` in an earlier report, as it is (each section says when it was run)."""
    if heading not in previous:
        return [heading, "", "Not run yet: `python -m benchmarks`.", ""]
    section = previous[previous.index(heading) :]
    following = section.find("\n## ", len(heading))
    return (section if following < 0 else section[: following + 1]).rstrip("\n").splitlines() + [""]


def report(sections: list[list[str]]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `python -m benchmarks` on {now()}; each section says when it was run.",
        f"Machine: {machine()}.",
        "",
    ]
    for section in sections:
        lines += section
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPORT)
    parser.add_argument(
        "--only", choices=["week", "backfill", "history", "hourly", "everything", "ridership"], help="run one benchmark; keep the others' sections"
    )
    arguments = parser.parse_args()
    previous = arguments.output.read_text() if arguments.output.exists() else ""
    runs = {
        WEEK_HEADING: lambda: week_section(week.main([])),
        BACKFILL_HEADING: lambda: backfill_section(backfill.main([]), now()),
        HISTORY_HEADING: lambda: history_section(history.main([]), now()),
        HOURLY_HEADING: lambda: hourly_section(hourly.main([])),
        history.EVERYTHING_HEADING: lambda: history.everything_section(*history.run_scaling(5000), now()),
        ridership.HEADING: lambda: ridership.section(ridership.measure(ridership.FIRST_WEEK, ridership.WEEKS, None), now()),
    }
    chosen = {
        "week": WEEK_HEADING,
        "backfill": BACKFILL_HEADING,
        "history": HISTORY_HEADING,
        "hourly": HOURLY_HEADING,
        "everything": history.EVERYTHING_HEADING,
        "ridership": ridership.HEADING,
    }.get(
        arguments.only
    )
    sections = [run() if chosen in (None, heading) else kept_section(previous, heading) for heading, run in runs.items()]
    # Sections no benchmark writes (comparisons of two versions of the code, kept by hand) stay as they are.
    sections += [kept_section(previous, heading) for heading in re.findall(r"^## .+$", previous, re.MULTILINE) if heading not in runs]
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(report(sections))
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
