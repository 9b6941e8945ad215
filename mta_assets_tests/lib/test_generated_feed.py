"""The generated turnstile feed (loopback.generated_feed): each week's file at its size, dates moved to the week."""

import re
import signal
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import requests

from loopback.emulators import free_port, wait_until_ready
from loopback.turnstile_files import MovableWeek, legacy_week_file, week_file
from mta_assets.partitions import FIRST_MODERN_WEEK

PROJECT = Path(__file__).parents[2]  # where `python -m loopback...` finds the package
TURNSTILES = 40
FIRST, LAST = date(2014, 9, 27), date(2014, 11, 1)
LEGACY_TEMPLATE_WEEK = FIRST_MODERN_WEEK - timedelta(weeks=1)


def dates_in(body: bytes, pattern: str, date_format: str) -> set[date]:
    return {datetime.strptime(text.decode(), date_format).date() for text in re.findall(pattern.encode(), body)}


@pytest.mark.parametrize(
    ("template", "template_week", "week", "pattern", "date_format"),
    [
        (week_file(LAST, TURNSTILES), LAST, date(2016, 2, 27), r"\d\d/\d\d/\d{4}", "%m/%d/%Y"),
        (legacy_week_file(LEGACY_TEMPLATE_WEEK, TURNSTILES), LEGACY_TEMPLATE_WEEK, date(2010, 5, 8), r"\d\d-\d\d-\d\d(?=,\d\d:\d\d:\d\d)", "%m-%d-%y"),
    ],
    ids=["modern", "legacy"],
)
def test_a_moved_week_is_the_template_with_each_date_moved_by_the_same_weeks(template, template_week, week, pattern, date_format):
    movable = MovableWeek(template, template_week, date_format)
    moved = movable.moved_to(week)
    expected = template
    for day in range(7, 0, -1):
        old, new = template_week - timedelta(days=day), week - timedelta(days=day)
        expected = expected.replace(f"{old:{date_format}}".encode(), f"{new:{date_format}}".encode())
    assert moved == expected and len(moved) == len(template) == len(movable)
    assert dates_in(moved, pattern, date_format) == {week - timedelta(days=day) for day in range(7, 0, -1)}
    assert movable.moved_to(template_week) == template


def started_feed(**popen) -> tuple[subprocess.Popen, str]:
    """`python -m loopback.generated_feed` on a free port, serving; the process and its URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "loopback.generated_feed", str(port), "--turnstiles", str(TURNSTILES), "--first", FIRST.isoformat(), "--last", LAST.isoformat()],
        cwd=PROJECT,
        **popen,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(server, url, "loopback.generated_feed", 30)
    except BaseException:
        server.kill()
        server.wait()
        raise
    return server, url


@pytest.fixture(scope="module")
def feed():
    server, url = started_feed()
    try:
        yield url
    finally:
        server.kill()
        server.wait()


def test_the_feed_process_stops_on_sigterm_though_started_ignoring_it():
    """A background job hands its processes an ignored SIGTERM; the tests and benchmarks stop the feed with one."""
    server, _ = started_feed(preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    try:
        server.terminate()
        assert server.wait(timeout=60) == -signal.SIGTERM
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize(
    ("name", "week", "template", "template_week", "date_format"),
    [
        ("turnstile_141025.txt", date(2014, 10, 25), week_file(LAST, TURNSTILES, crlf=True), LAST, "%m/%d/%Y"),
        ("turnstile_141004.txt", date(2014, 10, 4), legacy_week_file(LEGACY_TEMPLATE_WEEK, TURNSTILES, crlf=True), LEGACY_TEMPLATE_WEEK, "%m-%d-%y"),
    ],
    ids=["modern", "legacy"],
)
def test_the_feed_serves_a_week_whole_in_parts_and_past_its_end_as_a_web_server_does(feed, name, week, template, template_week, date_format):
    body = MovableWeek(template, template_week, date_format).moved_to(week)
    whole = requests.get(f"{feed}/{name}", timeout=30)
    assert (whole.status_code, whole.content) == (200, body)
    first_byte = requests.get(f"{feed}/{name}", headers={"Range": "bytes=0-0"}, timeout=30)
    assert (first_byte.status_code, first_byte.content, first_byte.headers["Content-Range"]) == (206, body[:1], f"bytes 0-0/{len(body)}")
    rest = requests.get(f"{feed}/{name}", headers={"Range": "bytes=100-"}, timeout=30)
    assert (rest.status_code, rest.content) == (206, body[100:])
    past_the_end = requests.get(f"{feed}/{name}", headers={"Range": f"bytes={len(body)}-"}, timeout=30)
    assert (past_the_end.status_code, past_the_end.headers["Content-Range"]) == (416, f"bytes */{len(body)}")


def test_weeks_outside_the_feed_and_other_names_are_not_found(feed):
    for name in ("turnstile_140920.txt", "turnstile_141108.txt", "turnstile_141026.txt", "index.html"):
        assert requests.get(f"{feed}/{name}", timeout=30).status_code == 404, name
