"""Where failure alerts go: a Slack-compatible incoming webhook, as a Dagster resource."""

import requests
from dagster import ConfigurableResource, get_dagster_logger
from pydantic import Field

from mta_assets.lib.http import hide_path_in_logs, redact_url


class AlertWebhook(ConfigurableResource):
    """Posts alerts to a Slack-compatible webhook; with no URL they are only logged."""

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
        hide_path_in_logs(self.url)
        try:
            response = requests.post(self.url, json={"text": text}, timeout=self.timeout_seconds)
        except requests.RequestException as error:
            return self._not_sent(type(error).__name__, text)
        if not response.ok:
            return self._not_sent(f"HTTP {response.status_code}", text)
        return True

    def _not_sent(self, reason: str, text: str) -> bool:
        """Log the failure by its type or status only: the webhook's path is its secret, and requests' texts quote it."""
        get_dagster_logger().error(
            f"Could not post the alert to MTA_ALERT_WEBHOOK_URL ({redact_url(self.url, keep_path=False)}: {reason}):\n{text}"
        )
        return False
