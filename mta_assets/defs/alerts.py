"""Run-failure alerts: every failed run posted to the alert webhook."""

from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRun,
    DefaultSensorStatus,
    RepositoryDefinition,
    RunFailureSensorContext,
    run_failure_sensor,
)
from dagster._utils.error import SerializableErrorInfo

from mta_assets.lib.active_runs import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG
from mta_assets.lib.alert_webhook import AlertWebhook



def root_message(error: SerializableErrorInfo) -> str:
    """The message of the exception that started it: Dagster wraps what a step raised in its own error."""
    while error.cause is not None:
        error = error.cause
    return error.message


def describe_failure(context: RunFailureSensorContext, webhook: AlertWebhook) -> str:
    run = context.dagster_run
    tags = run.tags
    week = tags.get(PARTITION_TAG) or (
        f"{tags[RANGE_START_TAG]} to {tags[RANGE_END_TAG]}" if RANGE_START_TAG in tags else "no week"
    )
    assets = ", ".join(sorted(key.to_user_string() for key in run.asset_selection or [])) or run.job_name
    errors = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        message = data.user_failure_data.description if data.user_failure_data else root_message(data.error)
        errors.append(f"{event.step_key}: {message.strip()}")
    error = "\n".join(errors) or context.failure_event.message
    return (
        f"mta_assets run failed: {assets}, week {week}\n"
        f"{error}\n"
        f"<{webhook.run_link(run.run_id)}|Open the run in Dagster>"
    )


def run_assets(instance: DagsterInstance, run: DagsterRun) -> set[AssetKey]:
    """The assets the run's steps materialize or check, as its execution plan records them."""
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    outputs = [output.properties for step in plan.steps for output in step.outputs if output.properties]
    return {output.asset_key for output in outputs if output.asset_key} | {
        output.asset_check_key.asset_key for output in outputs if output.asset_check_key
    }


def is_this_locations_run(instance: DagsterInstance, run: DagsterRun, repository: RepositoryDefinition) -> bool:
    """Whether the run materializes or checks assets of this code location.

    Dagster's own match (the code location in the run's remote job origin) drops every run executed
    in-process, as `dagster asset materialize` executes them: they have no remote origin. So the sensor
    watches every location's runs, and the run's assets decide: an asset key belongs to one code location
    of a deployment, so each failed run is this location's, and alerted once, or another's.
    """
    return bool(run_assets(instance, run) & repository.asset_graph.get_all_asset_keys())


@run_failure_sensor(
    default_status=DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=True,
    description="Posts each failed run of this code location's assets (asset, week, error, link) to "
    "MTA_ALERT_WEBHOOK_URL, however it was launched: UI, CLI, schedule, sensor or backfill.",
)
def run_failure_alert(context: RunFailureSensorContext, alert_webhook: AlertWebhook) -> None:
    if is_this_locations_run(context.instance, context.dagster_run, context.repository_def):
        alert_webhook.post(describe_failure(context, alert_webhook))
