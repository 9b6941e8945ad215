"""Environment settings: read and checked when the definitions load, bound to resources via EnvVar.

A bad value stops the code location from loading, with a message naming the variable. The lake and
the warehouse check their values again when a run uses them, since a run may see another environment
than the code server that loaded the definitions.
"""

import base64
import binascii
import json
import os
import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse

from dagster import ConfigurableResource, EnvVar
from dagster_gcp import GCSResource
from pydantic import TypeAdapter, ValidationError

from mta_assets.lib.alert_webhook import AlertWebhook
from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.resource import LakeResource
from mta_assets.lake.storage import DEFAULT_LAKE_URL, LakeLocation
from mta_assets.turnstile.completeness import DEFAULT_MIN_DEVICES
from mta_assets.lib.errors import ConfigurationError
from mta_assets.lib.http import redact_url
from mta_assets.hourly.source import HourlyRidershipSource
from mta_assets.open_data.soda import OPEN_DATA_URL
from mta_assets.turnstile.open_data import OpenDataTurnstileSource
from mta_assets.turnstile.sources import SOURCE_NAMES, TurnstileSources, parse_sources_setting
from mta_assets.turnstile.files import MTA_TURNSTILE_URL, MtaTurnstileSource
from mta_assets.lib.week_source import WeekSource
from mta_assets.warehouse import BigQueryWarehouse, DuckDBWarehouse, Warehouse
from mta_assets.warehouse.bigquery import BigQueryEndpointResource
from mta_assets.warehouse.duckdb import DEFAULT_DUCKDB_PATH, DEFAULT_MEMORY_LIMIT


def _setting(environ: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    """EnvVar(name) when the variable is set (the UI then shows its name, not its value), else the default."""
    return EnvVar(name) if environ.get(name, "").strip() else default


def check_url(
    environ: Mapping[str, str], name: str, example: str, allow_file: bool = False, path_is_secret: bool = False
) -> None:
    """An http(s):// URL with a host (or a file:// path, where allowed), if the variable is set.

    The message shows the value as logs do: without user, password and query values, and without the
    path where the path is the secret (a webhook).
    """
    url = environ.get(name, "").strip()
    if not url:
        return
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https") and parsed.netloc or allow_file and parsed.scheme == "file" and parsed.path:
        return
    kinds = "an http(s):// or file:// URL" if allow_file else "an http(s):// URL"
    shown = redact_url(url, keep_path=not path_is_secret)
    setting = f"{name}={shown!r}" if shown else f"{name} (its value is not shown: its path is a secret)"
    raise ConfigurationError(f"{setting} is not {kinds}; write it with its scheme, for example {example}, or unset it.")


def source_from_env(environ: Mapping[str, str] = os.environ) -> MtaTurnstileSource:
    check_url(environ, "MTA_SOURCE_URL", "http://127.0.0.1:8000 or file:///srv/mta/turnstile", allow_file=True)
    return MtaTurnstileSource(base_url=_setting(environ, "MTA_SOURCE_URL", MTA_TURNSTILE_URL), **_week_source_settings(environ))


def open_data_from_env(environ: Mapping[str, str] = os.environ) -> OpenDataTurnstileSource:
    """NY Open Data's turnstile datasets."""
    return OpenDataTurnstileSource(**_open_data_settings(environ))


def hourly_source_from_env(environ: Mapping[str, str] = os.environ) -> HourlyRidershipSource:
    """NY Open Data's hourly ridership datasets, at the same address and with the same token as the turnstile's."""
    return HourlyRidershipSource(**_open_data_settings(environ))


def _open_data_settings(environ: Mapping[str, str]) -> dict:
    """NY Open Data's address and app token, the app token (MTA_SOCRATA_APP_TOKEN) bound by name, never by value."""
    check_url(environ, "MTA_OPEN_DATA_URL", "https://data.ny.gov or http://127.0.0.1:8000")
    return {
        "base_url": _setting(environ, "MTA_OPEN_DATA_URL", OPEN_DATA_URL),
        "app_token": _setting(environ, "MTA_SOCRATA_APP_TOKEN", ""),
        **_week_source_settings(environ),
    }


def sources_from_env(environ: Mapping[str, str] = os.environ) -> TurnstileSources:
    """MTA_SOURCES (default files,open-data): the sources of weeks, in the order they are tried."""
    value = environ.get("MTA_SOURCES", "").strip()
    order = parse_sources_setting(value) if value else list(SOURCE_NAMES)
    return TurnstileSources(
        order=order,
        min_devices=_min_week_devices(environ),
        accept_short_weeks=_short_weeks(environ),
        files=source_from_env(environ),
        open_data=open_data_from_env(environ),
    )


def _min_week_devices(environ: Mapping[str, str]) -> int:
    """MTA_MIN_WEEK_DEVICES: the turnstiles a week holds at least when no stored week around it compares."""
    return resource_field(
        environ, "MTA_MIN_WEEK_DEVICES", TurnstileSources, "min_devices",
        f"a whole number of turnstiles above 0; use for example {DEFAULT_MIN_DEVICES} (real weeks hold about 4,500-5,100), or unset it",
    )


def _short_weeks(environ: Mapping[str, str]) -> list[str]:
    """MTA_ACCEPT_SHORT_WEEKS: Saturdays (YYYY-MM-DD, comma-separated) whose short week is stored anyway."""
    value = environ.get("MTA_ACCEPT_SHORT_WEEKS", "")
    weeks = [week.strip() for week in value.split(",") if week.strip()]
    for week in weeks:
        try:
            saturday = date.fromisoformat(week).weekday() == 5
        except ValueError:
            saturday = False
        if not saturday:
            raise ConfigurationError(
                f"MTA_ACCEPT_SHORT_WEEKS={value!r}: {week!r} is not a Saturday written YYYY-MM-DD; list the weeks to "
                f"accept although short by their Saturdays, comma-separated (for example 2017-06-24,2011-05-28), or unset it."
            )
    return weeks


def _week_source_settings(environ: Mapping[str, str]) -> dict[str, float]:
    """The settings every source of weeks takes: the download deadline and the shares of bad and repeated readings."""
    return {
        "max_rejected_share": resource_field(
            environ, "MTA_MAX_REJECTED_SHARE", WeekSource, "max_rejected_share", "a share between 0 and 1; use for example 0.01 (1% of lines)"
        ),
        "max_duplicate_share": resource_field(
            environ, "MTA_MAX_DUPLICATE_SHARE", WeekSource, "max_duplicate_share", "a share between 0 and 1; use for example 0.01 (1% of readings)"
        ),
        "deadline_seconds": resource_field(
            environ, "MTA_DOWNLOAD_DEADLINE_SECONDS", WeekSource, "deadline_seconds",
            "a number of seconds above 0; use for example 900 (15 minutes for one week's download, retries included)",
        ),
    }


def resource_field(environ: Mapping[str, str], name: str, resource: type[ConfigurableResource], field: str, requirement: str):
    """The variable's value as the resource's field takes it, checked by the field's own constraints (its
    default when unset); a ConfigurationError naming the variable and saying what it must be otherwise."""
    value = environ.get(name, "").strip()
    info = resource.model_fields[field]
    if not value:
        return info.default
    try:
        return TypeAdapter(Annotated[(info.annotation, *info.metadata)]).validate_python(value)
    except ValidationError:
        raise ConfigurationError(f"{name}={value!r} is not {requirement}.") from None


def gcs_from_env(environ: Mapping[str, str] = os.environ) -> GCSResource:
    """dagster-gcp's GCS client; credentials from the usual Google sources (or STORAGE_EMULATOR_HOST)."""
    return GCSResource(project=_setting(environ, "MTA_GCP_PROJECT"))


def _lake_location(environ: Mapping[str, str]) -> LakeLocation:
    """MTA_LAKE_URL, parsed and checked (the local lake when unset)."""
    return LakeLocation.from_setting(environ.get("MTA_LAKE_URL") or DEFAULT_LAKE_URL)


def _lake_format(environ: Mapping[str, str]) -> LakeFormat:
    """MTA_LAKE_FORMAT, checked (parquet when unset)."""
    return LakeFormat.from_setting(environ.get("MTA_LAKE_FORMAT") or LakeFormat.PARQUET.value)


def _warehouse_choice(environ: Mapping[str, str]) -> str:
    """MTA_WAREHOUSE, lowercased (duckdb when unset); warehouse_from_env refuses any but duckdb and bigquery."""
    return (environ.get("MTA_WAREHOUSE") or "duckdb").strip().lower()


def lake_from_env(environ: Mapping[str, str] = os.environ) -> LakeResource:
    check_lake_folder(_lake_location(environ))
    _lake_format(environ)  # checked now; the resource takes the setting by name
    return LakeResource(
        url=_setting(environ, "MTA_LAKE_URL", DEFAULT_LAKE_URL),
        format=_setting(environ, "MTA_LAKE_FORMAT", LakeFormat.PARQUET.value),
        gcs=gcs_from_env(environ),
    )


def warehouse_from_env(environ: Mapping[str, str] = os.environ) -> Warehouse:
    choice = _warehouse_choice(environ)
    if choice == "duckdb":
        check_duckdb_path(environ)
        return DuckDBWarehouse(
            path=_setting(environ, "MTA_DUCKDB_PATH", DEFAULT_DUCKDB_PATH),
            memory_limit=_setting(environ, "MTA_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
        )
    if choice == "bigquery":
        missing = [name for name in ("MTA_BQ_PROJECT", "MTA_BQ_DATASET") if not environ.get(name, "").strip()]
        if missing:
            raise ConfigurationError(
                f"MTA_WAREHOUSE=bigquery needs {' and '.join(missing)}: set the Google Cloud project and the "
                f"BigQuery dataset to load into, or unset MTA_WAREHOUSE for the embedded DuckDB warehouse."
            )
        check_url(environ, "MTA_BQ_API_ENDPOINT", "http://127.0.0.1:9050")
        check_credentials(environ)
        # dagster-gcp's BigQuery resource: project, location and (optionally) base64 service-account
        # credentials, as dagster-gcp documents them.
        bigquery = BigQueryEndpointResource(
            project=EnvVar("MTA_BQ_PROJECT"),
            location=_setting(environ, "MTA_BQ_LOCATION", "US"),
            gcp_credentials=_setting(environ, "MTA_GCP_CREDENTIALS"),
            api_endpoint=_setting(environ, "MTA_BQ_API_ENDPOINT"),
        )
        return BigQueryWarehouse(bigquery=bigquery, dataset=EnvVar("MTA_BQ_DATASET"))
    raise ConfigurationError(
        f"MTA_WAREHOUSE={environ['MTA_WAREHOUSE']!r} is not a warehouse; use 'duckdb' (the default) or 'bigquery'."
    )


def _cannot_write(path: Path, folder: bool) -> str | None:
    """Why `path` (a file, or with `folder` a folder) cannot be written or created here; None if it can.

    Tried, not inferred from permission bits: root ignores those, a read-only mount does not.
    """
    if path.exists() and path.is_dir() != folder:
        return "is a folder" if path.is_dir() else "is a file"
    existing = path if path.exists() else next(parent for parent in path.absolute().parents if parent.exists())
    try:
        if existing.is_dir():
            with tempfile.TemporaryFile(dir=existing):
                pass
        else:
            open(existing, "ab").close()  # appends nothing: only asks for write access
    except OSError as error:
        where = "" if existing == path else f" (in {existing})"
        return f"cannot be written{where}: {error.strerror or error}"
    return None


def check_duckdb_path(environ: Mapping[str, str]) -> None:
    """MTA_DUCKDB_PATH names a file (not a folder) that this user can create or write."""
    # Checked as EnvVar will bind it: unstripped.
    path = Path(environ["MTA_DUCKDB_PATH"] if environ.get("MTA_DUCKDB_PATH", "").strip() else DEFAULT_DUCKDB_PATH)
    if problem := _cannot_write(path, folder=False):
        raise ConfigurationError(
            f"MTA_DUCKDB_PATH={str(path)!r} {problem}: point it at a DuckDB database file in a folder this user can "
            f"write (for example data/warehouse.duckdb), or unset it for the default."
        )


def check_lake_folder(location: LakeLocation) -> None:
    """A local lake (MTA_LAKE_URL) is a folder this user can create or write."""
    if location.bucket is None and (problem := _cannot_write(Path(location.path), folder=True)):
        raise ConfigurationError(
            f"MTA_LAKE_URL={location.path!r} {problem}: point it at a folder this user can write, or unset it for "
            f"the default ({DEFAULT_LAKE_URL})."
        )


def check_credentials(environ: Mapping[str, str]) -> None:
    """MTA_GCP_CREDENTIALS, if set, is a base64-encoded JSON key, as dagster-gcp takes it."""
    value = environ.get("MTA_GCP_CREDENTIALS", "").strip()
    if not value:
        return
    try:
        json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            "MTA_GCP_CREDENTIALS is not a base64-encoded JSON key: set it to the output of "
            "`base64 -w0 key.json`, or unset it to use the usual Google credentials."
        ) from None


def alert_webhook_from_env(environ: Mapping[str, str] = os.environ) -> AlertWebhook:
    check_url(environ, "MTA_ALERT_WEBHOOK_URL", "https://hooks.slack.com/services/...", path_is_secret=True)
    check_url(environ, "MTA_DAGSTER_UI_URL", "http://127.0.0.1:3000")
    return AlertWebhook(
        url=_setting(environ, "MTA_ALERT_WEBHOOK_URL", ""),
        ui_url=_setting(environ, "MTA_DAGSTER_UI_URL", "http://127.0.0.1:3000"),
    )


def asset_kinds(environ: Mapping[str, str] = os.environ) -> dict[str, set[str]]:
    """Kinds shown in the UI per stage (lake, warehouse, ridership), from where the lake and the warehouse are."""
    warehouse = _warehouse_choice(environ)
    return {
        "lake": {
            "gcs" if _lake_location(environ).bucket else "local",
            "parquet" if _lake_format(environ) is LakeFormat.PARQUET else "csv",
        },
        "warehouse": {warehouse},
        "ridership": {warehouse, "sql"},
    }
