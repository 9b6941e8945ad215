"""The one retry layer of the HTTP sources: backoff with jitter, or the server's Retry-After, within a
bound on attempts and a deadline."""

from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

from dagster import get_dagster_logger
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from mta_assets.lib.http import Deadline

T = TypeVar("T")


class Retryable(Exception):
    """One attempt failed in a way that another attempt may fix; `retry_after` is the server's wish."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RetriesExhausted(Exception):
    """Every allowed attempt failed, or the next wait would end after the deadline.

    `out_of_time` says that the deadline, not the attempt cap, stopped the retries.
    """

    def __init__(self, attempts: int, last_error: BaseException, out_of_time: bool) -> None:
        super().__init__(f"{attempts} attempt{'s' if attempts > 1 else ''}; last error: {last_error}")
        self.attempts = attempts
        self.last_error = last_error
        self.out_of_time = out_of_time


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date; None if it is neither."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # HTTP dates are GMT; "-0000" and zone-less dates parse without a zone
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError, OverflowError):
        return None


def call_with_retries(
    attempt: Callable[[], T], *, max_attempts: int, backoff_seconds: float, deadline: Deadline, what: str
) -> T:
    """`attempt()`, again after each Retryable it raises, until it returns.

    Raises RetriesExhausted once `max_attempts` have failed or the next wait would end after `deadline`
    (no wait is started that the deadline would cut); any other exception passes at once. Each retry is
    logged as a warning starting with `what` (for example "Week 2023-06-03").
    """
    log = get_dagster_logger()

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception()
        if isinstance(error, Retryable) and error.retry_after is not None:
            return error.retry_after
        return wait_exponential_jitter(multiplier=backoff_seconds, jitter=backoff_seconds)(state)

    def past_deadline(state: RetryCallState) -> bool:
        return state.upcoming_sleep >= deadline.remaining()

    retrying = Retrying(
        retry=retry_if_exception_type(Retryable),
        stop=stop_after_attempt(max_attempts) | past_deadline,
        wait=wait,
        before_sleep=lambda state: log.warning(
            f"{what}: attempt {state.attempt_number} of {max_attempts} failed "
            f"({state.outcome.exception()}); retrying in {state.next_action.sleep:.1f}s"
        ),
    )
    try:
        return retrying(attempt)
    except RetryError as exhausted:
        last = exhausted.last_attempt
        raise RetriesExhausted(last.attempt_number, last.exception(), out_of_time=deadline.remaining() <= 0) from None
