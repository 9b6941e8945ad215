"""MtaTurnstileSource against a real HTTP server on loopback (and a file:// mirror): the one retry layer."""

import threading
import time
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from loopback.http_mirror import Misbehaviour
from mta_assets.lib.retries import retry_after_seconds
from mta_assets.turnstile.files import MtaTurnstileSource
from mta_assets.lib.week_source import SourceError, SourceUnavailable, WeekNotPublished

WEEK = date(2023, 6, 3)
NAME = "turnstile_230603.txt"


def source_for(mirror, **overrides) -> MtaTurnstileSource:
    """A source on the mirror with backoff so small that retries cost nothing."""
    settings = {"base_url": mirror.url, "backoff_seconds": 0.01, "read_timeout_seconds": 5, **overrides}
    return MtaTurnstileSource(**settings)


def gaps(mirror, name: str = NAME) -> list[float]:
    """Seconds between consecutive requests the mirror received for `name`."""
    times = mirror.request_times.get(name, [])
    return [later - earlier for earlier, later in zip(times, times[1:])]


def within(seconds: float, call):
    """Run `call` and return or raise what it does, but fail the test if it takes longer than `seconds`.

    Guards the tests whose failure mode would be a long sleep (a lost attempt cap or time budget), so that
    they fail instead of hanging the suite.
    """
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as error:  # handed back to the test thread as it is
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still running after {seconds}s: the retries are not bounded as configured")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def http_date(offset: timedelta) -> str:
    """An HTTP date `offset` from now (never a fixed calendar date)."""
    return format_datetime(datetime.now(timezone.utc) + offset, usegmt=True)


# --- success ---------------------------------------------------------------------------------------------


def test_downloads_the_whole_file_to_disk(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    download = source_for(mirror).download(WEEK, tmp_path)
    assert download.path == tmp_path / NAME
    assert download.path.read_bytes() == week_bytes
    assert download.bytes == len(week_bytes)
    assert download.url == f"{mirror.url}/{NAME}"
    assert download.week == WEEK
    assert mirror.requests[NAME] == 1


def test_a_base_url_with_a_trailing_slash_gives_the_same_file_url(mirror):
    assert source_for(mirror, base_url=mirror.url + "/").file_url(WEEK) == f"{mirror.url}/{NAME}"


# --- not published: never retried -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
def test_a_missing_week_is_not_published_and_requested_once(mirror, tmp_path, status):
    mirror.misbehaviours[NAME] = Misbehaviour(status=status)
    with pytest.raises(WeekNotPublished, match=rf"Week 2023-06-03: .*{NAME} is not published \(HTTP {status}\)"):
        source_for(mirror).download(WEEK, tmp_path)
    assert mirror.requests[NAME] == 1


def test_a_file_the_server_does_not_have_is_not_published(mirror, tmp_path):
    with pytest.raises(WeekNotPublished, match=r"\(HTTP 404\)"):
        source_for(mirror).download(WEEK, tmp_path)
    assert mirror.requests[NAME] == 1


def test_an_unexpected_status_fails_at_once_naming_the_setting(mirror, tmp_path):
    mirror.misbehaviours[NAME] = Misbehaviour(status=403)
    with pytest.raises(SourceError, match=r"Week 2023-06-03: .* answered HTTP 403; check MTA_SOURCE_URL") as raised:
        source_for(mirror).download(WEEK, tmp_path)
    assert type(raised.value) is SourceError
    assert mirror.requests[NAME] == 1


# --- retried ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_and_throttling_are_retried_then_succeed(mirror, week_bytes, tmp_path, status):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(failures_before_success=2, failure_status=status)
    download = source_for(mirror, max_attempts=3).download(WEEK, tmp_path)
    assert download.path.read_bytes() == week_bytes
    assert mirror.requests[NAME] == 3


def test_server_errors_until_the_attempts_run_out_fail_naming_the_week_and_count(mirror, tmp_path):
    mirror.misbehaviours[NAME] = Misbehaviour(status=503)
    with pytest.raises(SourceUnavailable, match=rf"Week 2023-06-03: .*{NAME} failed 3 times; last error: HTTP 503\."):
        within(5, lambda: source_for(mirror, max_attempts=3).download(WEEK, tmp_path))
    assert mirror.requests[NAME] == 3


def test_one_attempt_means_no_retry(mirror, tmp_path):
    mirror.misbehaviours[NAME] = Misbehaviour(status=500)
    with pytest.raises(SourceUnavailable, match="failed 1 time; last error: HTTP 500"):
        within(5, lambda: source_for(mirror, max_attempts=1).download(WEEK, tmp_path))
    assert mirror.requests[NAME] == 1


def test_a_body_cut_short_is_retried_then_fails(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(cut_after_bytes=len(week_bytes) // 2)
    with pytest.raises(
        SourceUnavailable, match=r"Week 2023-06-03: .* failed 2 times; last error: the connection broke after [\d,]+ bytes \(IncompleteRead"
    ):
        source_for(mirror, max_attempts=2).download(WEEK, tmp_path)
    assert mirror.requests[NAME] == 2


def test_a_failed_download_leaves_no_partial_file(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(cut_after_bytes=len(week_bytes) // 2)
    with pytest.raises(SourceUnavailable):
        source_for(mirror, max_attempts=1).download(WEEK, tmp_path)
    assert not (tmp_path / NAME).exists()


def test_an_unreachable_server_is_retried_then_fails(tmp_path):
    from loopback.emulators import free_port

    source = MtaTurnstileSource(base_url=f"http://127.0.0.1:{free_port()}", backoff_seconds=0.01, max_attempts=2)
    with pytest.raises(SourceUnavailable, match=r"Week 2023-06-03: .* failed 2 times; last error: ConnectionError"):
        source.download(WEEK, tmp_path)


# --- waiting: backoff, Retry-After, the time budget ------------------------------------------------------


def test_without_retry_after_the_waits_grow_exponentially(mirror, tmp_path):
    mirror.misbehaviours[NAME] = Misbehaviour(status=503)
    with pytest.raises(SourceUnavailable, match="failed 3 times"):
        source_for(mirror, max_attempts=3, backoff_seconds=0.1).download(WEEK, tmp_path)
    first, second = gaps(mirror)
    assert first >= 0.1  # backoff_seconds, plus jitter up to backoff_seconds
    assert second >= 0.2  # doubled
    assert second < 5  # and not some other, unbounded wait


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_waited_even_with_tiny_backoff(mirror, week_bytes, tmp_path, status):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(failures_before_success=1, failure_status=status, retry_after="1")
    download = source_for(mirror).download(WEEK, tmp_path)
    assert download.path.read_bytes() == week_bytes
    assert mirror.requests[NAME] == 2
    [gap] = gaps(mirror)
    assert gap >= 0.95  # the server's wish, not backoff_seconds=0.01


def test_a_garbage_retry_after_falls_back_to_backoff(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(failures_before_success=1, retry_after="soon, maybe")
    assert source_for(mirror).download(WEEK, tmp_path).bytes == len(week_bytes)
    assert mirror.requests[NAME] == 2


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_retry_after_beyond_the_time_budget_fails_without_waiting_it_out(mirror, tmp_path, form):
    retry_after = "3600" if form == "seconds" else http_date(timedelta(hours=1))
    mirror.misbehaviours[NAME] = Misbehaviour(status=503, retry_after=retry_after)
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match=r"Week 2023-06-03: .* failed 1 time; last error: HTTP 503"):
        within(10, lambda: source_for(mirror, deadline_seconds=60).download(WEEK, tmp_path))
    assert time.monotonic() - started < 10  # far from the hour the server asked for
    assert mirror.requests[NAME] == 1


def test_a_backoff_beyond_the_time_budget_stops_the_retries(mirror, tmp_path):
    mirror.misbehaviours[NAME] = Misbehaviour(status=503)
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="failed 1 time;"):
        within(5, lambda: source_for(mirror, backoff_seconds=30, deadline_seconds=5).download(WEEK, tmp_path))
    assert time.monotonic() - started < 5
    assert mirror.requests[NAME] == 1


# --- retry_after_seconds ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "seconds"), [("120", 120.0), ("0", 0.0), (" 7 ", 7.0)])
def test_retry_after_in_seconds(header, seconds):
    assert retry_after_seconds(header) == seconds


def test_retry_after_as_an_http_date_is_the_time_until_then():
    seconds = retry_after_seconds(http_date(timedelta(seconds=90)))
    assert seconds is not None
    assert 85 <= seconds <= 90  # the header drops sub-second precision


def test_retry_after_as_an_http_date_in_the_past_is_zero():
    assert retry_after_seconds(http_date(-timedelta(minutes=5))) == 0.0


@pytest.mark.parametrize("header", [None, "", "   ", "soon", "1.5", "-5", "Someday, 99 Foo 20xx"])
def test_retry_after_garbage_is_none(header):
    assert retry_after_seconds(header) is None


def test_retry_after_as_an_http_date_without_a_zone_is_read_as_gmt():
    naive = (datetime.now(timezone.utc) + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S -0000")
    assert 85 <= retry_after_seconds(naive) <= 90


# --- file:// mirror and settings -------------------------------------------------------------------------


def test_a_file_mirror_copies_the_file(tmp_path, week_bytes):
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / NAME).write_bytes(week_bytes)
    target = tmp_path / "download"
    target.mkdir()
    download = MtaTurnstileSource(base_url=folder.as_uri()).download(WEEK, target)
    assert download.path == target / NAME
    assert download.path.read_bytes() == week_bytes
    assert download.bytes == len(week_bytes)


def test_a_week_missing_from_a_file_mirror_is_not_published(tmp_path):
    folder = tmp_path / "mirror"
    folder.mkdir()
    source = MtaTurnstileSource(base_url=folder.as_uri())
    with pytest.raises(WeekNotPublished, match=r"Week 2023-06-10: .*turnstile_230610.txt does not exist in the mirror"):
        source.download(date(2023, 6, 10), tmp_path)


def test_an_unsupported_url_scheme_names_the_setting(tmp_path):
    source = MtaTurnstileSource(base_url="ftp://example.org")
    with pytest.raises(SourceError, match="MTA_SOURCE_URL 'ftp://example.org' is neither http"):
        source.download(WEEK, tmp_path)
