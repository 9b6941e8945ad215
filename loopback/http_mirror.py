"""A real HTTP server on 127.0.0.1 that serves turnstile files, and misbehaves on request."""

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Misbehaviour:
    """How the server answers one path: a status, N failures before success, a cut body, a page."""

    status: int | None = None  # answer this status (with a small body) every time
    failures_before_success: int = 0  # answer `failure_status` this many times, then serve the file
    failure_status: int = 503
    cut_after_bytes: int | None = None  # promise the whole file, send this many bytes, close
    body: bytes | None = None  # serve these bytes with status 200 instead of the file
    content_type: str = "text/plain"
    head_status: int | None = None  # answer HEAD with this status (405: HEAD not served)
    retry_after: str | None = None  # Retry-After header sent with the `status` and `failure_status` answers


@dataclass
class HttpMirror:
    """Files by name, served at http://127.0.0.1:PORT/NAME; counts requests per path.

    `request_times` holds the time.monotonic() of each request per path, in arrival order.

    It also receives: POSTed bodies are kept in `posts` (a webhook receiver).
    """

    files: dict[str, bytes] = field(default_factory=dict)
    posts: list[bytes] = field(default_factory=list)
    misbehaviours: dict[str, Misbehaviour] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
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

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

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
                count = mirror._record(name)
                rule = mirror.misbehaviours.get(name, Misbehaviour())
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
                data = mirror.files[name]
                if rule.cut_after_bytes is not None:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if send_body:
                        self.wfile.write(data[: rule.cut_after_bytes])
                    self.close_connection = True
                    return
                self._send(200, data, rule.content_type, send_body)

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

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
