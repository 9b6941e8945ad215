"""Run-failure alerts to a Slack-compatible webhook."""

import requests
from dagster import ConfigurableResource, DefaultSensorStatus, RunFailureSensorContext, get_dagster_logger, run_failure_sensor
from pydantic import Field

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


class AlertWebhook(ConfigurableResource):
    """Where failure alerts go; with no URL they are only logged."""

    url: str = Field(default="", description="Slack-compatible incoming webhook (MTA_ALERT_WEBHOOK_URL).")
    ui_url: str = Field(default="http://127.0.0.1:3000", description="The Dagster UI, for run links (MTA_DAGSTER_UI_URL).")
    timeout_seconds: float = 10.0

    def run_link(self, run_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}"

    def post(self, text: str) -> bool:
        """Send the alert; a webhook that is down is logged, never raised, so the sensor keeps running."""
        log = get_dagster_logger()
        if not self.url:
            log.warning(f"MTA_ALERT_WEBHOOK_URL is not set; alert not sent:\n{text}")
            return False
        try:
            response = requests.post(self.url, json={"text": text}, timeout=self.timeout_seconds)
            response.raise_for_status()
        except requests.RequestException as error:
            log.error(f"Could not post the alert to MTA_ALERT_WEBHOOK_URL ({error}):\n{text}")
            return False
        return True


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
        message = data.user_failure_data.description if data.user_failure_data else data.error.message
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
