"""Where the lake is: a local folder or a GCS bucket prefix, holding whole files by name.

A file appears under its name whole or not at all: locally it is copied under a hidden temporary name
and renamed; a GCS object exists only once its upload is complete.
"""

import base64
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from dagster_gcp import GCSResource

from mta_assets.lib.errors import ConfigurationError
from mta_assets.lib.leftovers import owned_prefix, remove_leftovers

DEFAULT_LAKE_URL = "data/lake"
# Bucket names: 3-63 characters of lowercase letters, digits, dashes, underscores and dots.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")


class LakeStorage(Protocol):
    def uri(self, name: str) -> str: ...
    def local_path(self, name: str) -> Path | None: ...
    def publish(self, file: Path, name: str) -> None: ...
    def open(self, name: str) -> BinaryIO: ...
    def delete(self, name: str) -> None: ...
    def check_writable(self) -> None: ...
    def md5(self, name: str) -> str | None: ...


def file_md5(path: Path) -> str:
    """A file's MD5 in base64, as GCS reports an object's: what the lake records to know an object again."""
    digest = hashlib.md5()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


class LocalLakeStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def uri(self, name: str) -> str:
        return str((self.root / name).absolute())

    def local_path(self, name: str) -> Path | None:
        return self.root / name

    def check_writable(self) -> None:
        """Raise ConfigurationError naming MTA_LAKE_URL unless files can be created in the lake folder."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as error:
            raise ConfigurationError(
                f"MTA_LAKE_URL={str(self.root)!r}: the lake folder cannot be written ({error.strerror or error}). "
                f"Give this user write access to it, or point MTA_LAKE_URL at a writable folder."
            ) from None

    def publish(self, file: Path, name: str) -> None:
        """Copy `file` in as `name`, replacing any earlier one atomically.

        The copy is written under a hidden name carrying this process's PID; copies left by killed runs
        are removed first.
        """
        self.check_writable()
        remove_leftovers(self.root, f".{name}.")
        descriptor, temporary = tempfile.mkstemp(prefix=owned_prefix(f".{name}."), suffix=".partial", dir=self.root)
        try:
            with os.fdopen(descriptor, "wb") as target, open(file, "rb") as source:
                shutil.copyfileobj(source, target, 1 << 20)
                target.flush()
                os.fsync(target.fileno())
            os.chmod(temporary, 0o644)  # mkstemp creates 0600; lake objects are for every reader
            os.replace(temporary, self.root / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def open(self, name: str) -> BinaryIO:
        return open(self.root / name, "rb")

    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    def md5(self, name: str) -> str | None:
        return file_md5(self.root / name) if (self.root / name).is_file() else None


class GcsLakeStorage:
    def __init__(self, client, bucket: str, prefix: str) -> None:
        self.bucket_name = bucket
        self.prefix = prefix
        self._bucket = client.bucket(bucket)

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def uri(self, name: str) -> str:
        return f"gs://{self.bucket_name}/{self._key(name)}"

    def local_path(self, name: str) -> Path | None:
        return None

    def check_writable(self) -> None:
        """Raise ConfigurationError naming MTA_LAKE_URL when the bucket does not exist."""
        from google.api_core.exceptions import Forbidden

        try:
            exists = self._bucket.exists()
        except Forbidden:
            return  # an account with object roles only may not ask about the bucket; its uploads will tell
        if not exists:
            raise self._missing_bucket()

    def _missing_bucket(self) -> ConfigurationError:
        return ConfigurationError(
            f"MTA_LAKE_URL points at gs://{self.bucket_name}, which does not exist: create the bucket "
            f"(gcloud storage buckets create gs://{self.bucket_name}) or fix MTA_LAKE_URL."
        )

    def publish(self, file: Path, name: str) -> None:
        from google.api_core.exceptions import NotFound

        blob = self._bucket.blob(self._key(name))
        # The object becomes visible only when its upload completes, so no reader sees part of it.
        try:
            blob.upload_from_filename(str(file), content_type="application/octet-stream")
        except NotFound:
            if self._bucket.exists():
                raise
            raise self._missing_bucket() from None

    def open(self, name: str) -> BinaryIO:
        return self._bucket.blob(self._key(name)).open("rb")

    def delete(self, name: str) -> None:
        from google.api_core.exceptions import NotFound

        try:
            self._bucket.blob(self._key(name)).delete()
        except NotFound:
            pass  # deleting what is already gone is the goal

    def md5(self, name: str) -> str | None:
        blob = self._bucket.get_blob(self._key(name))
        return blob.md5_hash if blob is not None else None


@dataclass(frozen=True)
class LakeLocation:
    """Where the lake is, parsed and checked from MTA_LAKE_URL."""

    bucket: str | None
    path: str

    @classmethod
    def from_setting(cls, url: str) -> "LakeLocation":
        url = url.strip()
        if not url:
            raise ConfigurationError(
                "MTA_LAKE_URL is empty; unset it for the local lake (data/lake) or set a folder or gs:// URL."
            )
        if url.startswith("gs:"):
            match = re.match(r"^gs://([^/]+)(?:/(.*))?$", url)
            if not match or not _BUCKET.match(match.group(1)):
                raise ConfigurationError(
                    f"MTA_LAKE_URL={url!r} is not a valid gs:// URL; write it as gs://BUCKET or "
                    f"gs://BUCKET/PREFIX, with a bucket name of 3-63 lowercase letters, digits, dots, "
                    f"dashes or underscores."
                )
            return cls(bucket=match.group(1), path=(match.group(2) or "").strip("/"))
        if "://" in url and not url.startswith("file://"):
            raise ConfigurationError(
                f"MTA_LAKE_URL={url!r} uses a scheme the lake does not support; use a local folder, "
                f"file:///folder or gs://bucket/prefix."
            )
        return cls(bucket=None, path=url.removeprefix("file://"))

    def open(self, gcs: GCSResource) -> LakeStorage:
        if self.bucket is not None:
            return GcsLakeStorage(gcs.get_client(), self.bucket, self.path)
        return LocalLakeStorage(Path(self.path))
