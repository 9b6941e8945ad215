"""The warehouse follows the lake on the automation's ticks."""

from datetime import date, datetime

from dagster import Definitions, evaluate_automation_conditions, materialize

from loopback.turnstile_files import HEADER, line, turnstiles, week_lines
from mta_assets.defs.turnstile_warehouse import turnstile_warehouse
from mta_assets_tests.lib.project import LAKE_AND_WAREHOUSE, RANGE_END, RANGE_START, Project

LAKE_ONLY = LAKE_AND_WAREHOUSE[:-1]


def tick_after_a_lake_run(project: Project, **run) -> set[str]:
    """Run the lake (and its checks) alone, then one automation tick: the warehouse weeks it requests."""
    defs = Definitions(assets=LAKE_AND_WAREHOUSE, resources=project.resources())
    first = evaluate_automation_conditions(defs=defs, instance=project.instance)  # the first tick records state
    materialize(LAKE_AND_WAREHOUSE, selection=LAKE_ONLY, instance=project.instance, resources=project.resources(), raise_on_error=False, **run)
    tick = evaluate_automation_conditions(defs=defs, instance=project.instance, cursor=first.cursor)
    return tick.get_requested_partitions(turnstile_warehouse.key)


def test_the_weeks_of_a_lake_backfill_are_loaded_on_the_next_tick(mirror, tmp_path):
    project = Project(mirror, tmp_path, weeks=("2023-05-20", "2023-05-27", "2023-06-03"))
    requested = tick_after_a_lake_run(project, tags={RANGE_START: "2023-05-20", RANGE_END: "2023-06-03"})
    assert requested == {"2023-05-20", "2023-05-27", "2023-06-03"}


def test_a_week_with_a_stray_reading_is_still_loaded(mirror, tmp_path):
    """The stray is flagged by a warning, which does not hold the week back."""
    project = Project(mirror, tmp_path)
    lines = week_lines(date(2023, 6, 3), turnstile_count=20)
    stray = line(turnstiles(1)[0], datetime(2023, 6, 9, 1), "REGULAR", 10, 10)  # a week late
    mirror.files["turnstile_230603.txt"] = "\n".join([HEADER, *lines, stray]).encode()
    assert tick_after_a_lake_run(project, partition_key="2023-06-03") == {"2023-06-03"}
