"""A real HTTP server on 127.0.0.1 that serves turnstile files, and misbehaves on request."""

import gzip
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal
from http.server import ThreadingHTTPServer

from loopback.serving import QuietHandler, serve_on_loopback, stop_serving


@dataclass
class Misbehaviour:
    """How the server answers one path: a status, N failures before success, a cut or slow body, a page.

    A file's body is framed by `framing`: "length" (Content-Length), "close" (HTTP/1.0 style: no length,
    the end is the connection closing) or "chunked" (HTTP/1.1 chunks, then the terminal chunk).
    """

    status: int | None = None  # answer this status (with a small body) every time
    failures_before_success: int = 0  # answer `failure_status` this many times, then serve the file
    failure_status: int = 503
    cut_after_bytes: int | None = None  # send this many bytes of the (encoded) body, then close; no terminal chunk
    framing: Literal["length", "close", "chunked"] = "length"
    announced_length: int | None = None  # a Content-Length to announce instead of the true one (with "length")
    gzip: bool = False  # Content-Encoding: gzip, when the request accepts it
    trickle: tuple[int, float] | None = None  # (bytes, seconds): send that many bytes, wait that long, repeat
    ranges: bool = False  # honour Range: bytes=N- with 206, or 416 from the end on; otherwise ignore it (200)
    body: bytes | None = None  # serve these bytes with status 200 instead of the file
    content_type: str = "text/plain"
    head_status: int | None = None  # answer HEAD with this status (405: HEAD not served)
    retry_after: str | None = None  # Retry-After header sent with the `status` and `failure_status` answers


@dataclass
class HttpMirror:
    """Files by name, served at http://127.0.0.1:PORT/NAME; counts requests per path.

    `requests` and `request_times` (the time.monotonic() of each, in arrival order) cover requests without
    a Range header; `range_requests` counts those with one (length probes, ranged checks).

    It also receives: POSTed bodies are kept in `posts` (a webhook receiver).
    """

    files: dict[str, bytes] = field(default_factory=dict)
    posts: list[bytes] = field(default_factory=list)
    misbehaviours: dict[str, Misbehaviour] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    range_requests: Counter = field(default_factory=Counter)
    request_times: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _record(self, name: str) -> int:
        """Count one request to `name` and note when it arrived; returns the count so far."""
        with self._lock:
            self.requests[name] += 1
            self.request_times.setdefault(name, []).append(time.monotonic())
            return self.requests[name]

    def start(self) -> "HttpMirror":
        mirror = self

        class Handler(QuietHandler):
            def do_HEAD(self) -> None:
                self._answer(send_body=False)

            def do_GET(self) -> None:
                self._answer(send_body=True)

            def do_POST(self) -> None:
                name = self.path.lstrip("/")
                mirror._record(name)
                mirror.posts.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                rule = mirror.misbehaviours.get(name, Misbehaviour())
                self._send(rule.status or 200, b"ok", "text/plain", send_body=True)

            def _answer(self, send_body: bool) -> None:
                name = self.path.lstrip("/").split("?")[0]
                rule = mirror.misbehaviours.get(name, Misbehaviour())
                if self.headers.get("Range"):
                    with mirror._lock:
                        mirror.range_requests[name] += 1
                    if rule.ranges and name in mirror.files and rule.status is None:
                        return self._send_range(mirror.files[name], self.headers["Range"], send_body)
                    count = mirror.requests[name] + 1  # a ranged request consumes no failure
                else:
                    count = mirror._record(name)
                if self.command == "HEAD" and rule.head_status is not None:
                    return self._send(rule.head_status, b"", "text/plain", send_body=False)
                if rule.status is not None:
                    return self._send(
                        rule.status, f"status {rule.status}".encode(), "text/plain", send_body, rule.retry_after
                    )
                if count <= rule.failures_before_success:
                    return self._send(rule.failure_status, b"try later", "text/plain", send_body, rule.retry_after)
                if rule.body is not None:
                    return self._send(200, rule.body, rule.content_type, send_body)
                if name not in mirror.files:
                    return self._send(404, b"<html><body>Not Found</body></html>", "text/html", send_body)
                self._send_file(mirror.files[name], rule, send_body)

            def _send_file(self, data: bytes, rule: Misbehaviour, send_body: bool) -> None:
                if rule.framing == "chunked":
                    self.protocol_version = "HTTP/1.1"  # chunks exist from HTTP/1.1 on
                encoded = rule.gzip and "gzip" in self.headers.get("Accept-Encoding", "")
                body = gzip.compress(data) if encoded else data
                self.send_response(200)
                self.send_header("Content-Type", rule.content_type)
                if encoded:
                    self.send_header("Content-Encoding", "gzip")
                if rule.framing == "length":
                    self.send_header("Content-Length", str(rule.announced_length or len(body)))
                elif rule.framing == "chunked":
                    self.send_header("Transfer-Encoding", "chunked")
                    self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                if not send_body:
                    return
                sent = body[: rule.cut_after_bytes] if rule.cut_after_bytes is not None else body
                step, pause = rule.trickle or (1 << 16, 0.0)
                try:
                    for start in range(0, len(sent), step):
                        piece = sent[start : start + step]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if rule.framing == "chunked" else piece)
                        self.wfile.flush()
                        time.sleep(pause)
                    if rule.framing == "chunked" and rule.cut_after_bytes is None:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up (a length probe reads no body; a deadline gives up on a trickle)

            def _send_range(self, data: bytes, header: str, send_body: bool) -> None:
                """One range, `bytes=N-` or `bytes=N-M`, as a server that supports ranges answers it."""
                first, _, last = header.removeprefix("bytes=").partition("-")
                start, end = int(first), min(int(last or len(data) - 1), len(data) - 1)
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.send_header("Content-Length", str(end + 1 - start))
                self.end_headers()
                if send_body:
                    self.wfile.write(data[start : end + 1])

            def _send(
                self, status: int, body: bytes, content_type: str, send_body: bool, retry_after: str | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

        self._server = serve_on_loopback(Handler)
        return self

    def stop(self) -> None:
        stop_serving(self._server)
