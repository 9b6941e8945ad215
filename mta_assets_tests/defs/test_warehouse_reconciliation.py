"""The reconciliation sensor: weeks the lake holds and the warehouse lacks are named and loaded, once."""

from dagster import Definitions, SkipReason, build_sensor_context

from mta_assets.defs.turnstile_lake_checks import lake_checks
from mta_assets.defs.turnstile_lake import turnstile_lake
from mta_assets.defs.turnstile_warehouse import turnstile_warehouse
from mta_assets.defs.warehouse_reconciliation import contiguous_batches, turnstile_warehouse_job, warehouse_reconciliation_sensor
from mta_assets.partitions import weekly_partitions
from loopback.http_mirror import Misbehaviour
from mta_assets_tests.lib.project import RANGE_END, RANGE_START, Project


def evaluate(project: Project, cursor: str | None = None):
    return warehouse_reconciliation_sensor(build_sensor_context(instance=project.instance, cursor=cursor))


def weeks_of(requests) -> list[tuple[str, str]]:
    return [(request.tags[RANGE_START], request.tags[RANGE_END]) for request in requests]


def test_the_good_weeks_of_a_run_that_failed_a_week_are_requested_once_and_loaded(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    for key in ("2023-05-06", "2023-05-13", "2023-05-20"):
        project.publish(key, turnstile_count=20)
    mirror.misbehaviours["turnstile_230520.txt"] = Misbehaviour(status=404)
    failed = project.run_range("2023-05-06", "2023-06-03")
    assert not failed.success
    # The lake holds four weeks, the warehouse none: that run's warehouse step never ran.
    assert project.instance.get_materialized_partitions(turnstile_lake.key) == {"2023-05-06", "2023-05-13", "2023-05-27", "2023-06-03"}
    assert project.instance.get_materialized_partitions(turnstile_warehouse.key) == set()

    result = evaluate(project)
    # Exactly the good weeks, in runs of consecutive weeks (the failed week splits them), with the lake checks.
    assert weeks_of(result.run_requests) == [("2023-05-06", "2023-05-13"), ("2023-05-27", "2023-06-03")]
    assert {request.job_name for request in result.run_requests} == {"turnstile_warehouse_job"}
    # Asked again before the runs: nothing more is requested, and the tick names the weeks waiting.
    again = evaluate(project, result.cursor)
    assert again.run_requests == []
    assert "turnstile_warehouse: 4 week(s) behind turnstile_lake (2023-05-06, 2023-05-13, 2023-05-27, 2023-06-03)" in again.skip_reason.skip_message

    job = Definitions(
        assets=[turnstile_lake, turnstile_warehouse], asset_checks=[lake_checks], jobs=[turnstile_warehouse_job], resources=project.resources()
    ).resolve_job_def("turnstile_warehouse_job")
    for request in result.run_requests:
        run = job.execute_in_process(instance=project.instance, tags=request.tags)
        assert run.success
        assert {evaluation.check_name for evaluation in run.get_asset_check_evaluations()} >= {"lake_columns"}
    for key in ("2023-05-06", "2023-05-13", "2023-05-27", "2023-06-03"):
        assert project.rows(key) == mirror.files[f"turnstile_{key[2:4]}{key[5:7]}{key[8:]}.txt"].count(b"\n") - 1
    assert project.rows("2023-05-20") == 0
    done = evaluate(project, again.cursor)
    assert done.run_requests == [] and done.skip_reason.skip_message == "Every lake week is in the warehouse."


def test_a_week_stored_again_after_its_load_is_requested_again(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    assert project.run("2023-06-03").success
    assert isinstance(evaluate(project).skip_reason, SkipReason)
    # The lake alone, again: the warehouse holds the week from an older lake object.
    assert project.run("2023-06-03", selection=[turnstile_lake]).success
    assert weeks_of(evaluate(project).run_requests) == [("2023-06-03", "2023-06-03")]


def test_batches_are_consecutive_weeks_across_the_week_never_published_and_at_most_26():
    keys = weekly_partitions.get_partition_keys()
    assert list(contiguous_batches(["2010-05-22", "2010-06-05", "2010-06-19"], weekly_partitions)) == [
        ["2010-05-22", "2010-06-05"],
        ["2010-06-19"],
    ]
    assert [len(batch) for batch in contiguous_batches(keys[:60], weekly_partitions)] == [26, 26, 8]


def test_a_blocking_lake_check_that_fails_in_the_reconciliation_run_keeps_the_weeks_out(mirror, tmp_path):
    import pyarrow.parquet as pq

    project = Project(mirror, tmp_path)
    mirror.misbehaviours["turnstile_230527.txt"] = Misbehaviour(status=404)
    project.publish("2023-05-20", turnstile_count=20)
    assert not project.run_range("2023-05-20", "2023-06-03").success
    # The stored week loses a column after its run: lake_columns (blocking) fails when it is checked again.
    stored_week = project.lake / "turnstile_230520.parquet"
    pq.write_table(pq.read_table(stored_week).drop_columns(["division"]), stored_week)
    (request,) = [request for request in evaluate(project).run_requests if request.tags[RANGE_START] == "2023-05-20"]
    job = Definitions(
        assets=[turnstile_lake, turnstile_warehouse], asset_checks=[lake_checks], jobs=[turnstile_warehouse_job], resources=project.resources()
    ).resolve_job_def("turnstile_warehouse_job")
    run = job.execute_in_process(instance=project.instance, tags=request.tags, raise_on_error=False)
    assert not run.success
    checks = {evaluation.check_name: evaluation.passed for evaluation in run.get_asset_check_evaluations()}
    assert checks["lake_columns"] is False
    # The warehouse step never started: the blocking check stopped it, not the changed object.
    assert "turnstile_warehouse" not in {event.step_key for event in run.all_events if event.is_step_start}
    assert project.rows("2023-05-20") == 0
