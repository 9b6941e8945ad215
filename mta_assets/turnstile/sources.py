"""Where a week's readings come from: the MTA's files, or NY Open Data, tried in the order MTA_SOURCES gives.

Each week comes from the first source that has it. A source that does not (a 404 or 410, an HTML page
where the file should be, a week outside its years) hands the week to the next; a source that is down,
or a file that is corrupt, fails the week as it always did: another source is not a way round bad data.
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from dagster import ConfigurableResource, ResourceDependency
from pydantic import Field

from mta_assets.turnstile.completeness import DEFAULT_MIN_DEVICES
from mta_assets.turnstile.duplicates import TooManyDuplicateReadings, remove_exact_duplicates
from mta_assets.lib.errors import ConfigurationError
from mta_assets.turnstile.open_data import OpenDataTurnstileSource
from mta_assets.turnstile.parsing import (
    NotATurnstileFile,
    ParsedWeek,
    TooManyReadingsOutsideWeek,
    TooManyRejectedLines,
    WebPageNotFile,
    parse_turnstile_file,
)
from mta_assets.partitions import file_stem
from mta_assets.turnstile.files import MtaTurnstileSource
from mta_assets.lib.week_source import SourceError, WeekNotPublished

FILES, OPEN_DATA = "files", "open-data"
SOURCE_NAMES = (FILES, OPEN_DATA)


class WeekInNoSource(WeekNotPublished):
    """No source in MTA_SOURCES has the week; the message says what each one answered."""


class BadWeekFile(SourceError):
    """The MTA's file for the week is there but unusable (corrupt, another week's, doubled): it fails the week."""


@dataclass(frozen=True)
class SourcedWeek:
    """A week's readings, parsed, with the source they came from and exactly what was read."""

    parsed: ParsedWeek
    source: str
    urls: tuple[str, ...]
    datasets: tuple[str, ...]  # NY Open Data's dataset ids; none for the MTA's files
    bytes_downloaded: int | None


def parse_sources_setting(value: str) -> list[str]:
    """MTA_SOURCES: an ordered, comma-separated list of 'files' and 'open-data', each at most once."""
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    if not names or any(name not in SOURCE_NAMES for name in names) or len(set(names)) != len(names):
        raise ConfigurationError(
            f"MTA_SOURCES={value!r} is not an ordered list of sources: write some of {', '.join(SOURCE_NAMES)}, "
            f"each once, separated by commas (the default is 'files,open-data'), or unset it."
        )
    return names


class TurnstileSources(ConfigurableResource):
    """The sources of weeks, in order (MTA_SOURCES): each week is read from the first that has it."""

    order: list[str] = Field(default=list(SOURCE_NAMES), description="Source names in the order they are tried.")
    min_devices: int = Field(
        default=DEFAULT_MIN_DEVICES,
        ge=1,
        description="Turnstiles a week must hold when no stored week around it can be compared with (MTA_MIN_WEEK_DEVICES).",
    )
    accept_short_weeks: list[str] = Field(
        default=[], description="Saturdays whose week is stored although it is short, flagged by lake_week_complete (MTA_ACCEPT_SHORT_WEEKS)."
    )
    files: ResourceDependency[MtaTurnstileSource]
    open_data: ResourceDependency[OpenDataTurnstileSource]

    def read_week(self, week: date, directory: Path) -> SourcedWeek:
        """The week from the first source that has it; WeekInNoSource, with every answer, if none does."""
        answers = []
        for name in parse_sources_setting(",".join(self.order)):
            try:
                return self._read_files(week, directory) if name == FILES else self._read_open_data(week, directory)
            except WeekNotPublished as missing:
                answers.append(f"{name}: {missing}")
            except SourceError as failure:
                if not answers:
                    raise
                # Say why this source was asked at all: the earlier ones did not have the week.
                raise SourceError(f"{failure}\nAsked because the earlier sources did not have the week:\n" + "\n".join(answers)) from None
        raise WeekInNoSource(f"Week {week} is in none of the sources (MTA_SOURCES={','.join(self.order)}):\n" + "\n".join(answers))

    def _read_files(self, week: date, directory: Path) -> SourcedWeek:
        source = self.files
        download = source.download(week, directory)
        try:
            parsed = parse_turnstile_file(download.path, week, source.max_rejected_share, directory / f"{file_stem(week)}.parquet")
            parsed = remove_exact_duplicates(parsed, download.path.name, source.max_duplicate_share)
        except WebPageNotFile as page:
            raise WeekNotPublished(f"Week {week}: {download.url} answered with a web page, not the file ({page})") from None
        except (NotATurnstileFile, TooManyRejectedLines, TooManyReadingsOutsideWeek, TooManyDuplicateReadings) as error:
            raise BadWeekFile(f"Week {week}: {error} (from {download.url})") from error
        finally:
            download.path.unlink(missing_ok=True)
        return SourcedWeek(parsed, FILES, (download.url,), (), download.bytes)

    def _read_open_data(self, week: date, directory: Path) -> SourcedWeek:
        read = self.open_data.read_week(week, directory)
        return SourcedWeek(read.parsed, OPEN_DATA, read.urls, read.dataset_ids, None)
