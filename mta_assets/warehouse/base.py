"""What every warehouse offers the assets."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime

from dagster import ConfigurableResource

from mta_assets.lake import LakeWeek

TURNSTILE_TABLE = "turnstile"


@dataclass(frozen=True)
class WeekLoad:
    """What replacing a week in the turnstile table did."""

    table: str
    rows: int
    replaced_rows: int
    first_reading: datetime | None
    last_reading: datetime | None


class Warehouse(ConfigurableResource, ABC):
    """Loads lake weeks into the `turnstile` table, one week at a time, replacing it atomically."""

    @property
    @abstractmethod
    def kind(self) -> str: ...

    @abstractmethod
    def week_row_count(self, week: date) -> int:
        """Rows of `week` in the turnstile table (0 when the table does not exist yet)."""

    @abstractmethod
    def replace_week(self, lake_week: LakeWeek) -> WeekLoad:
        """Make the week's rows in `turnstile` exactly the lake object's rows, in one transaction."""
