"""What every source of weeks shares (the MTA's files, NY Open Data's turnstile and hourly datasets): the
retry and deadline settings, the shares of bad and repeated readings a week may have, and the errors."""

from collections.abc import Callable
from typing import TypeVar

from dagster import ConfigurableResource
from pydantic import Field

from mta_assets.lib.http import Deadline
from mta_assets.lib.retries import call_with_retries

T = TypeVar("T")


class SourceError(Exception):
    """A week could not be read from its source; the message says what to do."""


class WeekNotPublished(SourceError):
    """The source has no file for the week (HTTP 404 or 410, or a missing file in a mirror)."""


class SourceUnavailable(SourceError):
    """The source kept failing (connection errors, cuts, 5xx, 429) until the retries ran out."""


class WeekSource(ConfigurableResource):
    """What every source of weeks shares (turnstile and hourly): the retry and deadline settings, and the
    shares of bad and repeated readings a turnstile week may have."""

    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 60.0
    max_attempts: int = Field(default=5, ge=1, description="Attempts per request, the first included.")
    backoff_seconds: float = Field(default=2.0, ge=0, description="First delay between attempts; doubles, with jitter.")
    deadline_seconds: float = Field(
        default=900.0,
        gt=0,
        allow_inf_nan=False,
        description="A week's download, all requests, attempts and waits included, fails this long after it "
        "started (MTA_DOWNLOAD_DEADLINE_SECONDS); no retry starts a wait that would end later.",
    )
    max_rejected_share: float = Field(
        default=0.01, ge=0, le=1, description="Share of unparseable lines above which a week fails."
    )
    max_duplicate_share: float = Field(
        default=0.01, ge=0, le=1, description="Share of readings repeating another line exactly above which a week fails."
    )

    def with_retries(self, attempt: Callable[[], T], deadline: Deadline, what: str) -> T:
        """`attempt()` under the one retry layer, with this source's attempts and backoff."""
        return call_with_retries(
            attempt, max_attempts=self.max_attempts, backoff_seconds=self.backoff_seconds, deadline=deadline, what=what
        )
