from datetime import date

import pytest

from mta_assets.source import MtaTurnstileSource, SourceError, SourceUnavailable, WeekNotPublished
from mta_assets_tests.lib.http_mirror import Misbehaviour

WEEK = date(2023, 6, 3)
NAME = "turnstile_230603.txt"


def source_for(mirror, **overrides) -> MtaTurnstileSource:
    return MtaTurnstileSource(base_url=mirror.url, backoff_seconds=0.01, read_timeout_seconds=5, **overrides)


def test_downloads_the_whole_file_to_disk(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    download = source_for(mirror).download(WEEK, tmp_path)
    assert download.path.read_bytes() == week_bytes
    assert download.bytes == len(week_bytes)
    assert download.url == f"{mirror.url}/{NAME}"


def test_a_missing_week_is_not_published_and_never_retried(mirror, tmp_path):
    with pytest.raises(WeekNotPublished, match=r"Week 2023-06-03: .*turnstile_230603.txt is not published \(HTTP 404\)"):
        source_for(mirror).download(WEEK, tmp_path)
    assert mirror.requests[NAME] == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_throttling_are_retried(mirror, week_bytes, tmp_path, status):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(failures_before_success=2, failure_status=status)
    assert source_for(mirror).download(WEEK, tmp_path).bytes == len(week_bytes)
    assert mirror.requests[NAME] == 3


def test_server_errors_until_the_retries_run_out_fail_with_the_week(mirror, tmp_path):
    mirror.misbehaviours[NAME] = Misbehaviour(status=503)
    with pytest.raises(SourceUnavailable, match=r"Week 2023-06-03: .* failed 3 times; last error: HTTP 503"):
        source_for(mirror, max_attempts=3).download(WEEK, tmp_path)
    assert mirror.requests[NAME] == 3


def test_a_connection_cut_mid_file_is_retried_then_fails(mirror, week_bytes, tmp_path):
    mirror.files[NAME] = week_bytes
    mirror.misbehaviours[NAME] = Misbehaviour(cut_after_bytes=len(week_bytes) // 2)
    with pytest.raises(SourceUnavailable, match="Week 2023-06-03"):
        source_for(mirror, max_attempts=2).download(WEEK, tmp_path)
    assert mirror.requests[NAME] == 2


def test_an_unreachable_server_fails_after_retries(tmp_path):
    from mta_assets_tests.lib.emulators import free_port

    source = MtaTurnstileSource(base_url=f"http://127.0.0.1:{free_port()}", backoff_seconds=0.01, max_attempts=2)
    with pytest.raises(SourceUnavailable, match="ConnectionError"):
        source.download(WEEK, tmp_path)


def test_an_html_page_served_with_200_is_refused(mirror, tmp_path):
    mirror.misbehaviours[NAME] = Misbehaviour(body=b"<html><body>We are updating the site</body></html>", content_type="text/html")
    with pytest.raises(SourceError, match=r"Week 2023-06-03: turnstile_230603.txt is an HTML page"):
        source_for(mirror).download(WEEK, tmp_path)


def test_a_legacy_layout_file_is_refused(mirror, tmp_path):
    mirror.files[NAME] = b"A002,R051,02-00-00,05-21-11,00:00:00,REGULAR,003169391,001097585,05-21-11,04:00:00,REGULAR,003169415,001097588\n"
    with pytest.raises(SourceError, match="legacy layout"):
        source_for(mirror).download(WEEK, tmp_path)


def test_an_empty_file_is_refused(mirror, tmp_path):
    mirror.files[NAME] = b""
    with pytest.raises(SourceError, match="is empty"):
        source_for(mirror).download(WEEK, tmp_path)


def test_a_file_mirror_works_like_http(tmp_path, week_bytes):
    folder = tmp_path / "mirror"
    folder.mkdir()
    (folder / NAME).write_bytes(week_bytes)
    source = MtaTurnstileSource(base_url=folder.as_uri())
    target = tmp_path / "download"
    target.mkdir()
    assert source.download(WEEK, target).path.read_bytes() == week_bytes
    with pytest.raises(WeekNotPublished, match="turnstile_230610.txt does not exist in the mirror"):
        source.download(date(2023, 6, 10), target)


def test_an_unsupported_url_scheme_names_the_setting(tmp_path):
    with pytest.raises(SourceError, match="MTA_SOURCE_URL 'ftp://example.org'"):
        MtaTurnstileSource(base_url="ftp://example.org").download(WEEK, tmp_path)
