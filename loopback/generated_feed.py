"""A whole turnstile feed on loopback, generated on request: every Saturday's file at real size, no disk.

One generated week is the template; a request for turnstile_YYMMDD.txt gets it with its dates moved to
that week (about 30 ms for 33 MB), so serving hundreds of weeks needs one week's memory, not 16 GB of
files. Weeks outside [first, last] answer 404.

    python -m loopback.generated_feed PORT [--turnstiles 5000] [--first 2014-10-18] [--last 2024-02-17]
"""

import argparse
import re
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback.turnstile_files import moved_to, week_file

_NAME = re.compile(r"^/turnstile_(\d{6})\.txt$")


def serve(port: int, turnstiles: int, first: date, last: date) -> None:
    template_week = last
    template = week_file(template_week, turnstiles, crlf=True)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            match = _NAME.match(self.path)
            week = datetime.strptime(match.group(1), "%y%m%d").date() if match else None
            if week is None or not first <= week <= last or week.weekday() != 5:
                self.send_error(404)
                return
            body = moved_to(template, template_week, week)
            # Ranges as a static web server answers them (the source asks for the bytes after those it
            # received, to confirm it has them all): 206 with the rest, or 416 past the end.
            start = re.match(r"^bytes=(\d+)-$", self.headers.get("Range", ""))
            if start and int(start.group(1)) >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            offset = int(start.group(1)) if start else 0
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {offset}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body) - offset))
            self.end_headers()
            self.wfile.write(body[offset:])

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--turnstiles", type=int, default=5000, help="5000 gives about 250,000 lines a week")
    parser.add_argument("--first", type=date.fromisoformat, default=date(2014, 10, 18))
    parser.add_argument("--last", type=date.fromisoformat, default=date(2024, 2, 17))
    arguments = parser.parse_args()
    serve(arguments.port, arguments.turnstiles, arguments.first, arguments.last)
