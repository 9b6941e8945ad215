"""What a later step must know about a stored week, as its lake materialization records it.

Storing a week records its facts in the materialization's metadata: the lake object (name, MD5, size,
rejected lines), its rows and count-column sums, and what its source said of it (a turnstile week's
turnstiles, an hourly week's station complexes and fingerprint). The warehouse load, the checks, the
next weeks' completeness and the hourly sensor read them back through `latest_facts`. This module is the
only one that knows the metadata keys; display-only metadata (previews, source URLs) is built where it is
shown.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, MetadataValue

# Pages of the event log read at a time while looking for the latest materialization of each week.
_RECORDS_PER_PAGE = 100
# The metadata keys of the facts. Renaming one orphans what earlier materializations recorded under it.
_ROWS = "dagster/row_count"
_SUMS = "count_sums"
_URI, _MD5, _BYTES, _REJECTED_LINES_URI = "lake_uri", "lake_md5", "bytes_stored", "rejected_lines_uri"
_TURNSTILES = "turnstiles"
_SHORT_WEEK_ACCEPTED = "short_week_accepted"
_STATION_COMPLEXES = "station_complexes"
_FINGERPRINT = "source_fingerprint"


@dataclass(frozen=True)
class Fingerprint:
    """What any change to an hourly week's rows changes: its rows, the sums of its counts, and the newest `:updated_at`.

    A delete lowers `rows`; an insert or a revision (of any field) moves `updated_at`, Socrata's time of
    a row's last change. Fixed timestamps of one form sort as text; "" for no rows.
    """

    rows: int
    ridership: int
    transfers: int
    updated_at: str

    def __add__(self, other: "Fingerprint") -> "Fingerprint":
        return Fingerprint(
            self.rows + other.rows, self.ridership + other.ridership, self.transfers + other.transfers, max(self.updated_at, other.updated_at)
        )

    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "ridership": self.ridership, "transfers": self.transfers}

    def key(self) -> str:
        """`rows:ridership:transfers:updated_at`, for run keys and the materialization's metadata."""
        return f"{self.rows}:{self.ridership}:{self.transfers}:{self.updated_at}"

    @classmethod
    def from_key(cls, text: str) -> "Fingerprint":
        """A fingerprint as key() wrote it; ValueError for anything else."""
        parts = text.split(":", 3)
        try:
            if len(parts) != 4:
                raise ValueError(f"{len(parts)} fields, not 4")
            return cls(int(parts[0]), int(parts[1]), int(parts[2]), parts[3])
        except ValueError as error:
            raise ValueError(f"not a week's fingerprint ({error}): {text[:200]!r}") from None

    def __str__(self) -> str:
        return f"{self.rows:,} rows, {self.ridership:,} ridership, {self.transfers:,} transfers, last changed {self.updated_at or 'never'}"


NO_ROWS = Fingerprint(0, 0, 0, "")


@dataclass(frozen=True)
class LakeObject:
    """The object a week was stored as: what readers load, and how they know it is unchanged."""

    uri: str
    md5: str  # base64, as GCS reports an object's
    bytes: int
    rejected_lines_uri: str | None = None  # the week's unreadable lines, kept beside the object


@dataclass(frozen=True)
class WeekContent:
    """A week's rows and the sum of each of its count columns: what a lost, doubled or altered row changes."""

    rows: int
    sums: Mapping[str, int]

    def differences(self, other: "WeekContent") -> list[str]:
        """How `other` differs from this, said with both numbers."""
        found = [f"{other.rows:,} rows, not {self.rows:,}"] if other.rows != self.rows else []
        return found + [f"sum({column}) {other.sums[column]:,}, not {total:,}" for column, total in self.sums.items() if other.sums[column] != total]


@dataclass(frozen=True)
class WeekFacts:
    """The facts of one stored week. A field is None when the materialization does not record it: one
    written by an earlier version of mta_assets, or a fact of the other dataset."""

    object: LakeObject | None = None
    rows: int | None = None
    sums: Mapping[str, int] | None = None  # of the object's count columns
    turnstiles: int | None = None  # a turnstile week's
    short_week_accepted: str | None = None  # a turnstile week's shortfalls, stored anyway (MTA_ACCEPT_SHORT_WEEKS)
    station_complexes: int | None = None  # an hourly week's
    fingerprint: Fingerprint | None = None  # an hourly week's, as NY Open Data had it when it was read

    @property
    def content(self) -> WeekContent | None:
        return WeekContent(self.rows, self.sums) if self.rows is not None and self.sums is not None else None

    def metadata(self) -> dict[str, MetadataValue]:
        """The facts as materialization metadata (the ones known: the source's, then the object's)."""
        recorded = {
            _ROWS: MetadataValue.int(self.rows) if self.rows is not None else None,
            _TURNSTILES: MetadataValue.int(self.turnstiles) if self.turnstiles is not None else None,
            _SHORT_WEEK_ACCEPTED: MetadataValue.text(self.short_week_accepted) if self.short_week_accepted else None,
            _STATION_COMPLEXES: MetadataValue.int(self.station_complexes) if self.station_complexes is not None else None,
            _FINGERPRINT: MetadataValue.text(self.fingerprint.key()) if self.fingerprint else None,
            _SUMS: MetadataValue.json(dict(self.sums)) if self.sums is not None else None,
        }
        if self.object is not None:
            recorded |= {
                _URI: MetadataValue.path(self.object.uri),
                _MD5: MetadataValue.text(self.object.md5),
                _BYTES: MetadataValue.int(self.object.bytes),
                _REJECTED_LINES_URI: MetadataValue.path(self.object.rejected_lines_uri) if self.object.rejected_lines_uri else None,
            }
        return {key: value for key, value in recorded.items() if value is not None}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, MetadataValue]) -> "WeekFacts":
        """The facts a materialization's metadata records; what it lacks is None."""
        value = lambda key: metadata[key].value if key in metadata else None  # noqa: E731
        lake_object = None
        if _URI in metadata and _MD5 in metadata:
            rejected = value(_REJECTED_LINES_URI)
            lake_object = LakeObject(str(value(_URI)), str(value(_MD5)), int(value(_BYTES) or 0), str(rejected) if rejected else None)
        return cls(
            object=lake_object,
            rows=value(_ROWS),
            sums=value(_SUMS),
            turnstiles=value(_TURNSTILES),
            short_week_accepted=value(_SHORT_WEEK_ACCEPTED),
            station_complexes=value(_STATION_COMPLEXES),
            fingerprint=_fingerprint(value(_FINGERPRINT)),
        )


def _fingerprint(text: str | None) -> Fingerprint | None:
    """None for none recorded or one garbled: the week then differs from any the dataset has, and loads again."""
    try:
        return Fingerprint.from_key(text) if text is not None else None
    except ValueError:
        return None


def latest_facts(instance: DagsterInstance, asset_key: AssetKey, weeks: Sequence[date]) -> dict[date, WeekFacts]:
    """The facts the latest materialization of each of `weeks` of the asset records (a week never
    materialized is left out)."""
    wanted = {week.isoformat() for week in weeks}
    found: dict[date, WeekFacts] = {}
    cursor = None
    while wanted:
        page = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=asset_key, asset_partitions=sorted(wanted)), limit=_RECORDS_PER_PAGE, cursor=cursor
        )
        for record in page.records:  # newest first: the first seen of a week is its latest
            materialization = record.asset_materialization
            if materialization.partition in wanted:
                wanted.discard(materialization.partition)
                found[date.fromisoformat(materialization.partition)] = WeekFacts.from_metadata(materialization.metadata)
        if not page.has_more:
            break
        cursor = page.cursor
    return dict(sorted(found.items()))

