"""The warehouse tables a ridership asset reads must hold the run's weeks before it computes them.

Without the check, a run asked for by hand reads a table that is missing (DuckDB: `Catalog Error: Table
with name stations does not exist!`) or has no rows for the week (an empty week stored as if computed).
"""

from dataclasses import dataclass
from datetime import date

from dagster import AssetExecutionContext, AssetKey, Failure

from mta_assets import asset_keys

from mta_assets.lib.tables import (
    DAILY_RIDERSHIP,
    HOURLY_RIDERSHIP,
    STATION_DAILY_RIDERSHIP,
    STATIONS,
    TURNSTILE,
    Table,
)
from mta_assets.partitions import Weeks
from mta_assets.warehouse import Warehouse


@dataclass(frozen=True)
class Upstream:
    """A warehouse table an asset reads: the asset that writes it, and the assets to materialize before it for
    a week it lacks."""

    table: Table
    asset: AssetKey
    before: tuple[AssetKey, ...] = ()

    @property
    def name(self) -> str:
        return self.asset.to_user_string()

    def to_materialize(self) -> str:
        """What to materialize for a week the table lacks: `turnstile_lake and turnstile_warehouse`."""
        return " and ".join(key.to_user_string() for key in (*self.before, self.asset))


TURNSTILE_ROWS = Upstream(TURNSTILE, asset_keys.TURNSTILE_WAREHOUSE, (asset_keys.TURNSTILE_LAKE,))
STATION_ROWS = Upstream(STATIONS, asset_keys.STATIONS)
STATION_DAILY_ROWS = Upstream(STATION_DAILY_RIDERSHIP, asset_keys.STATION_DAILY_RIDERSHIP)
HOURLY_ROWS = Upstream(HOURLY_RIDERSHIP, asset_keys.HOURLY_RIDERSHIP_WAREHOUSE, (asset_keys.HOURLY_RIDERSHIP_LAKE,))
DAILY_ROWS = Upstream(DAILY_RIDERSHIP, asset_keys.DAILY_RIDERSHIP)

def run_weeks(context: AssetExecutionContext, warehouse: Warehouse, partitions: Weeks, *needs: Upstream | tuple[Upstream, ...]) -> list[date]:
    """The run's weeks, once every table the asset reads holds each of them; otherwise a Failure naming the
    weeks and what to materialize first.

    A need is one upstream table, or a tuple of tables of which any one holding the week will do.
    """
    asset = context.asset_key.to_user_string()
    weeks = [partitions.week_of(key) for key in context.partition_keys]
    for need in needs:
        either = need if isinstance(need, tuple) else (need,)
        counts = [warehouse.week_row_counts(weeks, upstream.table) for upstream in either]
        missing = [week for week in weeks if not any(count[week] for count in counts)]
        if not missing:
            continue
        it = "it" if len(missing) == 1 else "them"
        weeks_text = ", ".join(map(str, missing))
        lacking = f"{either[0].name} has no rows" if len(either) == 1 else f"neither {' nor '.join(upstream.name for upstream in either)} has rows"
        first = ", or ".join(upstream.to_materialize() for upstream in either) + ("," if len(either) > 1 else "")
        raise Failure(
            description=f"Week {weeks_text}: {lacking} for {it} in the warehouse, so {asset} has nothing to compute from. "
            f"Materialize {first} for {weeks_text} first; {asset} follows by itself."
        )
    return weeks
