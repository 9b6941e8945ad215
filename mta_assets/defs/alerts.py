"""Run-failure alerts: every failed run posted to the alert webhook."""

from dagster import DefaultSensorStatus, RunFailureSensorContext, run_failure_sensor
from dagster._utils.error import SerializableErrorInfo

from mta_assets.alert_webhook import AlertWebhook

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


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


@run_failure_sensor(
    default_status=DefaultSensorStatus.RUNNING,
    description="Posts each failed run (asset, week, error, link) to MTA_ALERT_WEBHOOK_URL.",
)
def turnstile_failure_alert(context: RunFailureSensorContext, alert_webhook: AlertWebhook) -> None:
    alert_webhook.post(describe_failure(context, alert_webhook))
