"""The MTA turnstile feed (or a mirror of it) as a Dagster resource."""

import random
import shutil
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests
from dagster import ConfigurableResource, get_dagster_logger
from pydantic import Field

from mta_assets.parsing import check_header
from mta_assets.partitions import file_stem

MTA_TURNSTILE_URL = "http://web.mta.info/developers/data/nyct/turnstile"
_CHUNK_BYTES = 1 << 20
_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class SourceError(Exception):
    """A week's file could not be fetched or is not a turnstile file; the message says what to do."""


class WeekNotPublished(SourceError):
    """The source has no file for the week (HTTP 404 or a missing file in a mirror)."""


class SourceUnavailable(SourceError):
    """The source kept failing (connection errors, 5xx, 429) until the retries ran out."""


@dataclass(frozen=True)
class Download:
    week: date
    url: str
    path: Path
    bytes: int


class _Retryable(Exception):
    """One attempt failed in a way that another attempt may fix."""


class MtaTurnstileSource(ConfigurableResource):
    """Fetches turnstile_YYMMDD.txt from the MTA, another HTTP server or a file:// mirror."""

    base_url: str = Field(default=MTA_TURNSTILE_URL, description="Folder URL holding turnstile_YYMMDD.txt files.")
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 60.0
    max_attempts: int = Field(default=5, ge=1, description="Attempts per download, the first included.")
    backoff_seconds: float = Field(default=2.0, ge=0, description="Base delay; doubles each retry, with jitter.")
    max_rejected_share: float = Field(
        default=0.01, ge=0, le=1, description="Share of unparseable lines above which a week fails."
    )

    def file_url(self, week: date) -> str:
        return f"{self.base_url.rstrip('/')}/{file_stem(week)}.txt"

    def download(self, week: date, directory: Path) -> Download:
        """Stream the week's file into `directory` and check that it is a modern turnstile file."""
        url = self.file_url(week)
        path = directory / f"{file_stem(week)}.txt"
        scheme = urlparse(url).scheme
        if scheme == "file":
            size = self._copy_local(url, path, week)
        elif scheme in ("http", "https"):
            size = self._fetch_with_retries(url, path, week)
        else:
            raise SourceError(
                f"MTA_SOURCE_URL {self.base_url!r} is neither http(s):// nor file://; set it to the folder "
                f"that holds the turnstile_YYMMDD.txt files."
            )
        with open(path, "rb") as file:
            try:
                check_header(file.read(4096), path.name)
            except ValueError as error:
                raise SourceError(f"Week {week}: {error} (from {url})") from None
        return Download(week=week, url=url, path=path, bytes=size)

    def is_published(self, week: date) -> bool:
        """Whether the week's file exists, asked cheaply: HEAD, or a one-byte ranged GET where HEAD is not served.

        Raises SourceUnavailable when the source cannot say (connection errors, 5xx, 429).
        """
        url = self.file_url(week)
        scheme = urlparse(url).scheme
        if scheme == "file":
            return Path(unquote(urlparse(url).path)).is_file()
        if scheme not in ("http", "https"):
            raise SourceError(f"MTA_SOURCE_URL {self.base_url!r} is neither http(s):// nor file://.")
        timeout = (self.connect_timeout_seconds, self.read_timeout_seconds)
        try:
            response = requests.head(url, timeout=timeout, allow_redirects=True)
            if response.status_code in (405, 501):
                with requests.get(url, headers={"Range": "bytes=0-0"}, stream=True, timeout=timeout) as response:
                    pass
        except (requests.ConnectionError, requests.Timeout) as error:
            raise SourceUnavailable(f"{url}: {type(error).__name__}") from None
        if response.status_code in (200, 206):
            return True
        if response.status_code in (404, 410):
            return False
        if response.status_code in _RETRIED_STATUSES:
            raise SourceUnavailable(f"{url} answered HTTP {response.status_code}")
        raise SourceError(f"{url} answered HTTP {response.status_code}; check MTA_SOURCE_URL.")

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
        log = get_dagster_logger()
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._fetch_once(url, path, week)
            except _Retryable as error:
                if attempt == self.max_attempts:
                    raise SourceUnavailable(
                        f"Week {week}: {url} failed {self.max_attempts} times; last error: {error}. The source "
                        f"may be down: retry later, or point MTA_SOURCE_URL at a mirror."
                    ) from None
                delay = self.backoff_seconds * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
                log.warning(f"Week {week}: attempt {attempt} of {self.max_attempts} failed ({error}); retrying in {delay:.1f}s")
                time.sleep(delay)
        raise AssertionError("unreachable: max_attempts >= 1")

    def _fetch_once(self, url: str, path: Path, week: date) -> int:
        try:
            with requests.get(
                url, stream=True, timeout=(self.connect_timeout_seconds, self.read_timeout_seconds)
            ) as response:
                if response.status_code == 404:
                    raise WeekNotPublished(
                        f"Week {week}: {url} is not published (HTTP 404). The MTA publishes a Saturday's file "
                        f"over the following days: try again later, or check MTA_SOURCE_URL."
                    )
                if response.status_code in _RETRIED_STATUSES:
                    raise _Retryable(f"HTTP {response.status_code}")
                if response.status_code != 200:
                    raise SourceError(
                        f"Week {week}: {url} answered HTTP {response.status_code}; check MTA_SOURCE_URL."
                    )
                # With a Content-Encoding, requests decodes the body and the length no longer applies.
                expected = None if response.headers.get("Content-Encoding") else response.headers.get("Content-Length")
                size = 0
                with open(path, "wb") as file:
                    for chunk in response.iter_content(_CHUNK_BYTES):
                        file.write(chunk)
                        size += len(chunk)
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
            raise _Retryable(f"{type(error).__name__}: {error}") from None
        if expected is not None and size != int(expected):
            raise _Retryable(f"received {size:,} of {int(expected):,} bytes")
        return size
