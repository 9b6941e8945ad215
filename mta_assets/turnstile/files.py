"""The MTA turnstile feed (or a mirror of it) as a Dagster resource: one week's file onto local disk."""

import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse, urlsplit, urlunsplit

import requests
from pydantic import Field

from mta_assets.lib.http import BodyCut, Deadline, DeadlineExceeded, describe_error, read_whole_body, redact_url
from mta_assets.lib.retries import RetriesExhausted, Retryable, retry_after_seconds
from mta_assets.lib.week_source import SourceError, SourceUnavailable, WeekNotPublished, WeekSource
from mta_assets.partitions import file_stem

MTA_TURNSTILE_URL = "http://web.mta.info/developers/data/nyct/turnstile"
_CHUNK_BYTES = 1 << 20
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_GONE_STATUSES = frozenset({404, 410})


@dataclass(frozen=True)
class Download:
    week: date
    url: str  # redacted (no user info, query values as ***), fit for metadata and logs
    path: Path
    bytes: int


class MtaTurnstileSource(WeekSource):
    """Fetches turnstile_YYMMDD.txt from the MTA, another HTTP server or a file:// mirror.

    One retry layer (lib/retries.py): connection errors, cut bodies, 5xx and 429 are retried with
    exponential backoff and jitter, or after the server's Retry-After, within `max_attempts`;
    `deadline_seconds` bounds a whole download, attempts and waits included. URLs in logs and errors are
    redacted.
    """

    base_url: str = Field(default=MTA_TURNSTILE_URL, description="Folder URL holding turnstile_YYMMDD.txt files.")

    def file_url(self, week: date) -> str:
        """The week's file in the folder `base_url` names; a query (a mirror's token) stays at the end."""
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}/{file_stem(week)}.txt"))

    def download(self, week: date, directory: Path) -> Download:
        """Stream the week's file into `directory`, whole or not at all."""
        url = self.file_url(week)
        path = directory / f"{file_stem(week)}.txt"
        scheme = urlparse(url).scheme
        if scheme == "file":
            size = self._copy_local(url, path, week)
        elif scheme in ("http", "https"):
            size = self._fetch_with_retries(url, path, week)
        else:
            raise SourceError(
                f"MTA_SOURCE_URL {redact_url(self.base_url)!r} is neither http(s):// nor file://; set it to the "
                f"folder that holds the turnstile_YYMMDD.txt files."
            )
        return Download(week=week, url=redact_url(url), path=path, bytes=size)

    def is_published(self, week: date) -> bool:
        """Whether the week's file exists, asked cheaply: HEAD, or a one-byte ranged GET where HEAD is not served.

        Raises SourceUnavailable when the source cannot say (connection errors, 5xx, 429); the caller asks
        again later rather than retrying here.
        """
        url = self.file_url(week)
        scheme = urlparse(url).scheme
        if scheme == "file":
            return Path(unquote(urlparse(url).path)).is_file()
        if scheme not in ("http", "https"):
            raise SourceError(f"MTA_SOURCE_URL {redact_url(self.base_url)!r} is neither http(s):// nor file://.")
        timeout = (self.connect_timeout_seconds, self.read_timeout_seconds)
        try:
            response = requests.head(url, timeout=timeout, allow_redirects=True)
            if response.status_code in (405, 501):
                with requests.get(url, headers={"Range": "bytes=0-0"}, stream=True, timeout=timeout) as response:
                    pass
        except (requests.ConnectionError, requests.Timeout) as error:
            raise SourceUnavailable(f"{redact_url(url)}: {type(error).__name__}") from None
        if response.status_code in (200, 206):
            return True
        if response.status_code in _GONE_STATUSES:
            return False
        if response.status_code in _RETRIED_STATUSES:
            raise SourceUnavailable(f"{redact_url(url)} answered HTTP {response.status_code}")
        raise SourceError(f"{redact_url(url)} answered HTTP {response.status_code}; check MTA_SOURCE_URL.")

    def _copy_local(self, url: str, path: Path, week: date) -> int:
        mirror_file = Path(unquote(urlparse(url).path))
        if not mirror_file.is_file():
            raise WeekNotPublished(
                f"Week {week}: {mirror_file} does not exist in the mirror. Add the file, or pick a week the "
                f"mirror holds."
            )
        with open(mirror_file, "rb") as source, open(path, "wb") as target:
            shutil.copyfileobj(source, target, _CHUNK_BYTES)
        return path.stat().st_size

    def _fetch_with_retries(self, url: str, path: Path, week: date) -> int:
        deadline = Deadline.after(self.deadline_seconds)
        try:
            return self.with_retries(lambda: self._fetch_once(url, path, week, deadline), deadline, f"Week {week}")
        except DeadlineExceeded as late:
            raise self._too_late(url, week, str(late)) from None
        except RetriesExhausted as exhausted:
            if exhausted.out_of_time:
                raise self._too_late(url, week, f"last error: {exhausted.last_error}") from None
            raise SourceUnavailable(
                f"Week {week}: {redact_url(url)} failed {exhausted.attempts} "
                f"time{'s' if exhausted.attempts > 1 else ''}; last error: {exhausted.last_error}. "
                f"The source may be down: retry later, or point MTA_SOURCE_URL at a mirror."
            ) from None

    def _too_late(self, url: str, week: date, detail: str) -> SourceUnavailable:
        return SourceUnavailable(
            f"Week {week}: {redact_url(url)} did not arrive whole within the download deadline of "
            f"{self.deadline_seconds:g}s ({detail}). The source is too slow: retry later, point MTA_SOURCE_URL "
            f"at a faster mirror, or raise MTA_DOWNLOAD_DEADLINE_SECONDS."
        )

    def _fetch_once(self, url: str, path: Path, week: date, deadline: Deadline) -> int:
        """One attempt: the body goes to a temporary name, renamed to `path` only when it is whole."""
        partial = path.with_name(f".{path.name}.partial")
        try:
            size = self._stream(url, partial, week, deadline)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return size

    def _stream(self, url: str, target: Path, week: date, deadline: Deadline) -> int:
        timeout = (self.connect_timeout_seconds, self.read_timeout_seconds)
        try:
            with requests.get(url, stream=True, timeout=deadline.timeout(*timeout)) as response:
                if response.status_code in _GONE_STATUSES:
                    raise WeekNotPublished(
                        f"Week {week}: {redact_url(url)} is not published (HTTP {response.status_code}). The MTA "
                        f"publishes a Saturday's file over the following days: try again later, or check MTA_SOURCE_URL."
                    )
                if response.status_code in _RETRIED_STATUSES:
                    raise Retryable(
                        f"HTTP {response.status_code}", retry_after_seconds(response.headers.get("Retry-After"))
                    )
                if response.status_code != 200:
                    raise SourceError(
                        f"Week {week}: {redact_url(url)} answered HTTP {response.status_code}; check MTA_SOURCE_URL."
                    )
                with open(target, "wb") as file:
                    return read_whole_body(response, file, deadline, timeout)
        except BodyCut as cut:
            raise Retryable(str(cut)) from None
        except (requests.ConnectionError, requests.Timeout) as error:  # the texts quote the URL: scrubbed
            raise Retryable(describe_error(error, url)) from None
