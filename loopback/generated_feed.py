"""A whole turnstile feed on loopback, generated on request: every week's file at real size, no disk.

One generated week per layout is the template; a request for a week's file (its name as the MTA gave it,
irregular weeks included) gets the template of its layout (legacy before 2014-10-18, modern from then)
with its dates moved to that week (about 35 ms for 33 MB), so serving hundreds of weeks needs a few weeks'
memory, not 20 GB of files. A week is moved once for its requests that follow each other (the download,
then the request past its end that confirms it), and not at all for a request past the end: moving dates
keeps the length. Weeks outside [first, last], and the week never published, answer 404.

    python -m loopback.generated_feed PORT [--turnstiles 5000] [--first 2010-05-01] [--last 2024-02-17]
"""

import argparse
import re
import signal
from datetime import date, datetime, timedelta
from functools import lru_cache
from http.server import ThreadingHTTPServer

from loopback.serving import QuietHandler
from loopback.turnstile_files import MovableWeek, legacy_week_file, week_file
from mta_assets.partitions import FIRST_MODERN_WEEK, IRREGULAR_WEEKS, NEVER_PUBLISHED

_NAME = re.compile(r"^/turnstile_(\d{6})\.txt$")
# The weeks whose file is not named after their Saturday, by the name they have.
_WEEK_OF_IRREGULAR_FILE = {irregular.file_stem[len("turnstile_"):]: week for week, irregular in IRREGULAR_WEEKS.items()}


def readings_per_week(turnstiles: int, last: date, weeks: list[date]) -> dict[date, int]:
    """The readings of each of `weeks` as `serve(..., turnstiles, first, last)` serves them: its layout's template's."""
    modern = week_file(last, turnstiles, crlf=True).count(b"\n") - 1
    legacy_lines = legacy_week_file(FIRST_MODERN_WEEK - timedelta(weeks=1), turnstiles, crlf=True).decode().splitlines()
    legacy = sum((len(text.split(",")) - 3) // 5 for text in legacy_lines)
    return {week: legacy if week < FIRST_MODERN_WEEK else modern for week in weeks}


def serve(port: int, turnstiles: int, first: date, last: date) -> None:
    modern_week, legacy_week = last, FIRST_MODERN_WEEK - timedelta(weeks=1)
    modern = MovableWeek(week_file(modern_week, turnstiles, crlf=True), modern_week)
    # A legacy line holds up to 8 readings of one turnstile: fewer turnstiles give a week of the same size.
    legacy_template = legacy_week_file(legacy_week, turnstiles, crlf=True) if first < FIRST_MODERN_WEEK else b""
    legacy = MovableWeek(legacy_template, legacy_week, "%m-%d-%y")

    def template_of(week: date) -> MovableWeek:
        return legacy if week < FIRST_MODERN_WEEK else modern

    @lru_cache(maxsize=4)  # two runs download at a time
    def body_of(week: date) -> bytes:
        return template_of(week).moved_to(week)

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            match = _NAME.match(self.path)
            stem = match.group(1) if match else ""
            week = _WEEK_OF_IRREGULAR_FILE.get(stem) or (datetime.strptime(stem, "%y%m%d").date() if stem else None)
            not_published = week in NEVER_PUBLISHED or (week in IRREGULAR_WEEKS and stem not in _WEEK_OF_IRREGULAR_FILE)
            if week is None or not_published or not first <= week <= last or week.weekday() != 5:
                self.send_error(404)
                return
            size = len(template_of(week))
            # Ranges as a static web server answers them (the source asks for the bytes after those it
            # received, to confirm it has them all; the sensor for the first byte): 206, or 416 past the end.
            asked = re.match(r"^bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
            if asked and int(asked.group(1)) >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            first_byte = int(asked.group(1)) if asked else 0
            last_byte = min(int(asked.group(2)), size - 1) if asked and asked.group(2) else size - 1
            self.send_response(206 if asked else 200)
            if asked:
                self.send_header("Content-Range", f"bytes {first_byte}-{last_byte}/{size}")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(last_byte + 1 - first_byte))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(memoryview(body_of(week))[first_byte : last_byte + 1])

        do_HEAD = do_GET

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--turnstiles", type=int, default=5000, help="5000 gives about 250,000 lines a week")
    parser.add_argument("--first", type=date.fromisoformat, default=date(2010, 5, 1))
    parser.add_argument("--last", type=date.fromisoformat, default=date(2024, 2, 17))
    arguments = parser.parse_args()
    # Started from a background job, the process inherits an ignored SIGTERM; it stops on one all the same.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    serve(arguments.port, arguments.turnstiles, arguments.first, arguments.last)
