"""Reading a body whole (through MtaTurnstileSource, against the real loopback server) and redacting URLs."""

import time

import pytest

from loopback.emulators import free_port
from loopback.http_mirror import Misbehaviour
from mta_assets_tests.lib.logs import all_output
from mta_assets.lib.alert_webhook import AlertWebhook
from mta_assets.lib.errors import ConfigurationError
from mta_assets.lib.http import redact_url, scrub_url
from mta_assets.settings import source_from_env
from mta_assets.turnstile.files import MtaTurnstileSource
from mta_assets.lib.week_source import SourceUnavailable
from mta_assets_tests.turnstile.test_files import NAME, WEEK, within

SECRET = "SECRETxyz"


def source_for(mirror, **overrides) -> MtaTurnstileSource:
    settings = {"base_url": mirror.url, "backoff_seconds": 0.01, "read_timeout_seconds": 5, "max_attempts": 2, **overrides}
    return MtaTurnstileSource(**settings)


def mid_line_share(week_bytes: bytes, share: float) -> int:
    """The byte count nearest `share` of the file that ends mid-line, so no line break hides the cut."""
    cut = int(len(week_bytes) * share)
    while week_bytes[cut - 1 : cut] == b"\n":
        cut -= 1
    return cut


def assert_fails_leaving_nothing(mirror, tmp_path, message: str, attempts: int = 2) -> None:
    with pytest.raises(SourceUnavailable, match=rf"Week 2023-06-03: .*{NAME} failed {attempts} times; last error: {message}"):
        within(20, lambda: source_for(mirror, max_attempts=attempts).download(WEEK, tmp_path))
    assert mirror.requests[NAME] == attempts
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .partial


# --- a body that ends early fails, whatever the server announced ----------------------------------------


@pytest.mark.parametrize("share", [0.9, 0.5])
def test_a_cut_without_content_length_fails_and_leaves_nothing(mirror, week_bytes, tmp_path, share):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(framing="close", cut_after_bytes=mid_line_share(week_bytes, share))
    assert_fails_leaving_nothing(mirror, tmp_path, "the server gave no length and the body ends mid-line")


def test_a_content_length_too_short_fails_when_the_server_has_more(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    announced = len(week_bytes) * 9 // 10
    mirror.misbehaviours[NAME] = Misbehaviour(announced_length=announced, ranges=True)
    assert_fails_leaving_nothing(mirror, tmp_path, rf"received {announced:,} bytes but the server has more")
    assert mirror.range_requests[NAME] == 2  # one length probe per attempt


def test_a_chunked_body_without_its_terminal_chunk_fails(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(framing="chunked", cut_after_bytes=len(week_bytes) // 2)
    assert_fails_leaving_nothing(mirror, tmp_path, r"the connection broke after [\d,]+ bytes \(IncompleteRead")


def test_a_whole_chunked_body_is_kept(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(framing="chunked")
    assert source_for(mirror).download(WEEK, tmp_path).path.read_bytes() == week_bytes


@pytest.mark.parametrize("framing", ["length", "close"])
def test_a_whole_gzip_body_is_kept_decoded_byte_for_byte(mirror, week_bytes, tmp_path, framing):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(gzip=True, framing=framing)
    download = source_for(mirror).download(WEEK, tmp_path)
    assert download.path.read_bytes() == week_bytes
    assert download.bytes == len(week_bytes)


def test_a_cut_gzip_body_with_its_encoded_length_fails(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(gzip=True, cut_after_bytes=5_000)
    assert_fails_leaving_nothing(mirror, tmp_path, r"the connection broke after 5,000 bytes \(IncompleteRead")


def test_a_cut_gzip_body_without_length_fails(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(gzip=True, framing="close", cut_after_bytes=5_000)
    assert_fails_leaving_nothing(mirror, tmp_path, "the server gave no length and the body ends mid-line")


def test_a_cut_gzip_body_fails_on_the_probe_of_a_server_with_ranges(mirror, week_bytes, tmp_path):
    """The probe asks for no content coding, so the server compares the decoded size with its file."""
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(gzip=True, framing="close", cut_after_bytes=5_000, ranges=True)
    assert_fails_leaving_nothing(mirror, tmp_path, r"received [\d,]+ bytes but the server has more")


# --- a body whose end is known is kept, even one that ends mid-line -------------------------------------


def test_a_whole_body_without_length_that_ends_with_a_line_break_is_kept(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(framing="close")
    download = source_for(mirror).download(WEEK, tmp_path)
    assert download.path.read_bytes() == week_bytes
    assert mirror.requests[NAME] == 1


def test_a_server_with_ranges_confirms_a_close_delimited_body_that_ends_mid_line(mirror, week_bytes, tmp_path):
    """The MTA's own truncated files end mid-line; a confirmed length keeps them (the parser rejects the line)."""
    truncated = week_bytes[: mid_line_share(week_bytes, 0.999)]
    mirror.files[NAME] = truncated
    mirror.misbehaviours[NAME] = Misbehaviour(framing="close", ranges=True)
    assert source_for(mirror).download(WEEK, tmp_path).path.read_bytes() == truncated
    assert (mirror.requests[NAME], mirror.range_requests[NAME]) == (1, 1)


def test_a_close_delimited_cut_on_a_line_break_fails_when_the_probe_finds_more(mirror, week_bytes, tmp_path):
    cut = week_bytes.index(b"\n", len(week_bytes) // 2) + 1  # the line-break rule alone would accept it
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(framing="close", cut_after_bytes=cut, ranges=True)
    assert_fails_leaving_nothing(mirror, tmp_path, rf"received {cut:,} bytes but the server has more")


# --- the deadline ---------------------------------------------------------------------------------------


def test_a_trickle_fails_at_the_deadline_naming_the_week_and_the_setting(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(trickle=(100, 0.2))
    started = time.monotonic()
    with pytest.raises(
        SourceUnavailable,
        match=rf"Week 2023-06-03: .*{NAME} did not arrive whole within the download deadline of 2s "
        r"\(not whole after 2s \([\d,]+ bytes received\)\).* MTA_DOWNLOAD_DEADLINE_SECONDS",
    ):
        within(10, lambda: source_for(mirror, deadline_seconds=2).download(WEEK, tmp_path))
    assert 2 <= time.monotonic() - started < 6
    assert mirror.requests[NAME] == 1  # the deadline covers every attempt: none after it
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf", "nan"])
def test_a_bad_deadline_setting_is_refused_naming_it(value):
    with pytest.raises(ConfigurationError, match=rf"MTA_DOWNLOAD_DEADLINE_SECONDS='{value}' is not a number of seconds"):
        source_from_env({"MTA_DOWNLOAD_DEADLINE_SECONDS": value})


def test_the_deadline_setting_reaches_the_source():
    assert source_from_env({}).deadline_seconds == 900
    assert source_from_env({"MTA_DOWNLOAD_DEADLINE_SECONDS": "120"}).deadline_seconds == 120


# --- no secret in logs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://user:pw@mirror.example:8443/mta/turnstile_230603.txt?token=abc&x=", "https://mirror.example:8443/mta/turnstile_230603.txt?token=***&x=***"),
        ("http://127.0.0.1:8000/turnstile_230603.txt", "http://127.0.0.1:8000/turnstile_230603.txt"),
        ("http://[::1]:80/a#frag", "http://[::1]:80/a"),
    ],
)
def test_redact_url_keeps_where_and_what_but_no_credential(url, redacted):
    assert redact_url(url) == redacted


def test_redact_url_without_the_path_keeps_only_scheme_host_and_port():
    assert redact_url(f"https://hooks.slack.com/services/T000/B000/{SECRET}", keep_path=False) == "https://hooks.slack.com"


def test_scrub_url_removes_the_parts_requests_quotes():
    url = f"http://u:{SECRET}@127.0.0.1:1/t.txt?token={SECRET}"
    text = f"HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /t.txt?token={SECRET} ({url})"
    assert SECRET not in scrub_url(text, url)
    assert "/t.txt?token=***" in scrub_url(text, url)


@pytest.mark.parametrize("where", ["answering 500", "closed port"])
def test_a_failed_webhook_post_logs_no_secret(mirror, every_log, capsys, where):
    path = f"services/T000/B000/{SECRET}"
    if where == "answering 500":
        mirror.misbehaviours[path] = Misbehaviour(status=500)
        url = f"{mirror.url}/{path}"
    else:
        url = f"http://127.0.0.1:{free_port()}/{path}"
    assert AlertWebhook(url=url, timeout_seconds=2).post("a run failed") is False
    output = all_output(every_log, capsys)
    assert "Could not post the alert to MTA_ALERT_WEBHOOK_URL (http://127.0.0.1:" in output
    assert ("HTTP 500" if where == "answering 500" else "ConnectionError") in output
    assert SECRET not in output
    assert "B000" not in output


@pytest.mark.parametrize("where", ["answering 503", "closed port", "cut"])
def test_a_failed_download_shows_no_token_in_its_error_or_logs(mirror, week_bytes, tmp_path, every_log, capsys, where):
    mirror.files[NAME] = week_bytes
    port = free_port() if where == "closed port" else mirror.url.rsplit(":", 1)[1]
    if where != "closed port":
        mirror.misbehaviours[NAME] = Misbehaviour(status=503) if where == "answering 503" else Misbehaviour(cut_after_bytes=100)
    source = MtaTurnstileSource(
        base_url=f"http://reader:{SECRET}@127.0.0.1:{port}/?token={SECRET}", backoff_seconds=0.01, max_attempts=2
    )
    with pytest.raises(SourceUnavailable, match=rf"{NAME}\?token=\*\*\* failed 2 times") as raised:
        within(20, lambda: source.download(WEEK, tmp_path))
    assert SECRET not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__  # no chained text quoting the URL
    assert SECRET not in all_output(every_log, capsys)


def test_a_token_in_the_source_url_reaches_the_server_and_stays_out_of_the_download(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    source = MtaTurnstileSource(base_url=f"{mirror.url}/?token={SECRET}")
    assert source.file_url(WEEK) == f"{mirror.url}/{NAME}?token={SECRET}"
    download = source.download(WEEK, tmp_path)
    assert download.path.read_bytes() == week_bytes
    assert download.url == f"{mirror.url}/{NAME}?token=***"
