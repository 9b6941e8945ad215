"""Reading an HTTP body whole, within a deadline, and naming URLs in logs without their secrets.

`read_whole_body` takes an open streamed `requests` response and either returns with every byte of the
body written out, or raises: a body that ends early is a `BodyCut` (worth another attempt) whatever the
server announced (a Content-Length, a wrong one, none, chunked framing, a Content-Encoding), and a body
still arriving at the deadline is `DeadlineExceeded`.
"""

import logging
import re
import time
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

_CHUNK_BYTES = 1 << 20


class BodyCut(Exception):
    """The body ended before its end, or its end cannot be told from a cut; another attempt may get it whole."""


class DeadlineExceeded(Exception):
    """The deadline passed before the body arrived whole."""


@dataclass(frozen=True)
class Deadline:
    """A point in time (time.monotonic()) after which no more time is spent on one download."""

    seconds: float
    at: float

    @classmethod
    def after(cls, seconds: float) -> "Deadline":
        return cls(seconds=seconds, at=time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self, progress: str) -> None:
        """Raise DeadlineExceeded, saying how far the download got, once the deadline has passed."""
        if self.remaining() <= 0:
            raise DeadlineExceeded(f"not whole after {self.seconds:g}s ({progress})")

    def timeout(self, connect_seconds: float, read_seconds: float) -> tuple[float, float]:
        """requests' (connect, read) timeouts, each cut to the time left, so no single wait outlives the deadline."""
        left = max(self.remaining(), 0.001)
        return min(connect_seconds, left), min(read_seconds, left)


def read_whole_body(
    response: requests.Response, sink: BinaryIO, deadline: Deadline, timeout: tuple[float, float], probe: bool = True
) -> int:
    """Write the (decoded) body of a streamed 200 response to `sink`; returns its size once it is known whole.

    Whole means: the bytes on the wire match the Content-Length, if any (the encoded length when there is a
    Content-Encoding); then a ranged probe (see `_length_from_probe`) confirms that the server has no byte
    beyond them. When no answer told the length, the body is accepted only if it ends with a line break.
    `timeout` is the (connect, read) pair for the probe. Without `probe` (the answer to a query, which a
    second request would compute all over again), only the framing and the Content-Length are checked:
    the caller checks the content.
    """
    raw = response.raw
    size = 0
    last_byte = b""
    try:
        while True:
            deadline.check(f"{raw.tell():,} bytes received")
            chunk = raw.read1(_CHUNK_BYTES, decode_content=True)
            if not chunk:
                break
            sink.write(chunk)
            size += len(chunk)
            last_byte = chunk[-1:]
    # urllib3: a Content-Length or chunked body that stopped short, or a TLS record broken mid-body.
    except (ProtocolError, SSLError) as error:
        raise BodyCut(f"the connection broke after {raw.tell():,} bytes ({_reason(error)})") from None
    except ReadTimeoutError:
        raise BodyCut(f"the server sent nothing for the read timeout after {raw.tell():,} bytes") from None
    except DecodeError as error:
        raise BodyCut(f"the {response.headers.get('Content-Encoding')} body does not decode ({_reason(error)})") from None
    announced = _content_length(response)
    if announced is not None and raw.tell() != announced:
        raise BodyCut(f"received {raw.tell():,} of {announced:,} bytes")
    if announced is not None and response.headers.get("Content-Encoding", "identity") != "identity":
        # The encoded body arrived whole. No probe: a server that stores the body encoded (an object with
        # Content-Encoding: gzip at rest) counts ranges in encoded bytes, which the decoded size is not.
        return size
    if not probe:
        return size
    deadline.check(f"{size:,} bytes received, length not yet confirmed")
    confirmed = _length_from_probe(response, size, deadline.timeout(*timeout))
    if confirmed is not None and confirmed != size:
        raise BodyCut(f"received {size:,} bytes but the server says the body has {confirmed:,}")
    if confirmed is None and announced is None and last_byte != b"\n":
        raise BodyCut(f"the server gave no length and the body ends mid-line after {size:,} bytes")
    return size


def _length_from_probe(response: requests.Response, size: int, timeout: tuple[float, float]) -> int | None:
    """The body's full length as the server tells it when asked for the bytes from `size` on; None if it does not.

    Raises BodyCut when the server answers with bytes from `size` on (206).

    The probe repeats the request (its headers included) with `Range: bytes=<size>-` and no content coding,
    and never reads the answer's body: a server that ignores ranges would send the whole file again.
    """
    headers = {**response.request.headers, "Range": f"bytes={size}-", "Accept-Encoding": "identity"}
    with requests.get(response.url, headers=headers, stream=True, timeout=timeout) as probe:
        if probe.status_code == 416:  # nothing from `size` on: `size` is the end ("bytes */T" says so again)
            total = probe.headers.get("Content-Range", "").removeprefix("bytes */")
            return int(total) if total.isdigit() else size
        if probe.status_code == 206:
            raise BodyCut(f"received {size:,} bytes but the server has more ({probe.headers.get('Content-Range')})")
        if probe.status_code == 200 and probe.headers.get("Content-Encoding", "identity") == "identity":
            return _content_length(probe)
        return None


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _reason(error: Exception) -> str:
    """urllib3 wraps the cause (IncompleteRead, zlib.error) as the second argument; its text says enough."""
    cause = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], Exception) else error
    return str(cause)


class _RequestLogFilter(logging.Filter):
    """Masks secrets in urllib3's DEBUG line for each request ("GET /path?query HTTP/1.1"): query values always,
    and the paths registered with `hide_path_in_logs`."""

    _QUERY_VALUE = re.compile(r"([?&][^=&\s\"]*=)[^&\s\"]*")

    def __init__(self) -> None:
        super().__init__()
        self.paths: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = self._QUERY_VALUE.sub(r"\1***", record.getMessage())
        for path in self.paths:
            text = text.replace(path, "/***")
        record.msg, record.args = text, ()
        return True


_request_log_filter = _RequestLogFilter()
logging.getLogger("urllib3.connectionpool").addFilter(_request_log_filter)


def hide_path_in_logs(url: str) -> None:
    """Keep the path of `url` out of urllib3's request log too: for URLs whose path is the secret (webhooks)."""
    path = urlsplit(url).path
    if path.strip("/"):
        _request_log_filter.paths.add(path)


def redact_url(url: str, keep_path: bool = True) -> str:
    """`url` fit for a log: scheme, host and port, the path (unless `keep_path` is False), query values as ***.

    User name and password and the fragment are dropped. For a URL whose path is itself the secret (a
    Slack webhook), pass keep_path=False.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    if not keep_path:
        return urlunsplit((parts.scheme, netloc, "", "", ""))
    return urlunsplit((parts.scheme, netloc, parts.path, _redacted_query(parts.query), ""))


def _redacted_query(query: str) -> str:
    return "&".join(f"{name}=***" for name, _ in parse_qsl(query, keep_blank_values=True))


def scrub_url(text: str, url: str) -> str:
    """`text` with `url`, and each part of it that may be secret, redacted as `redact_url` does.

    requests' exception texts quote the path and query ("Max retries exceeded with url: /a?token=..."),
    so the parts are replaced wherever they appear, not only the whole URL.
    """
    parts = urlsplit(url)
    text = text.replace(url, redact_url(url))
    secrets = [(parts.query, _redacted_query(parts.query))] if parts.query else []
    if parts.password:
        secrets.append((parts.password, "***"))
    if parts.username:
        secrets.append((f"{parts.username}@", ""))
    for secret, mask in secrets:
        text = text.replace(secret, mask)
    return text


def describe_error(error: Exception, url: str) -> str:
    """`Type: text` of a requests error, with `url` and the URL of the request that failed scrubbed out."""
    text = f"{type(error).__name__}: {error}"
    failed_request = getattr(error, "request", None)
    for leaked in {url, getattr(failed_request, "url", None) or url}:
        text = scrub_url(text, leaked)
    return text
