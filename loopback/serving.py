"""Serving an HTTP handler on 127.0.0.1 from a thread, as every loopback server here does."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (tests read their own output) and sends answers whole."""

    def log_message(self, *args) -> None:
        pass

    def send_whole(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """The answer: status, headers, the body's length and the body."""
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def serve_on_loopback(handler: type[BaseHTTPRequestHandler], port: int = 0) -> ThreadingHTTPServer:
    """A server on `port` of 127.0.0.1 (0: a free one), answering from a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def stop_serving(server: ThreadingHTTPServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()
