"""One ridership table for every era: the turnstile counters (2010 to the feed's end) and hourly ridership
(2017 on), per station complex and day, and one system-wide series from 2010 to last week."""

from collections.abc import Iterator
from datetime import date, timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    TimeWindowPartitionMapping,
    asset,
    multi_asset,
)

from mta_assets.asset_defaults import OWNER, weekly_asset, weekly_checked_asset
from mta_assets.lib.check_results import require_the_asset, selected_results
from mta_assets.ridership.complex_key import KEY_FILE, key_units, unit_complexes
from mta_assets import asset_keys
from mta_assets.automation_conditions import FOLLOWS_EITHER_SOURCE, FOLLOWS_THE_WAREHOUSE
from mta_assets.lib.metadata import lineage
from mta_assets.lib.tables import DAILY_RIDERSHIP, OMNY_LAUNCH, SYSTEM_DAILY_RIDERSHIP
from mta_assets.partitions import RIDERSHIP_WEEKS, ridership_partitions
from mta_assets.ridership.chart import chart
from mta_assets.ridership.queries import replace_weeks, sources_by_day, system_daily_ridership_days, unit_entries
from mta_assets.ridership.upstream import DAILY_ROWS, HOURLY_ROWS, STATION_DAILY_ROWS, run_weeks
from mta_assets.warehouse import Warehouse

# Each source's week of the same Saturday; a week one source does not cover (the turnstile before 2010 or
# after the feed, hourly before 2017) has no partition there and waits for nothing.
SAME_WEEK = TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)
# Turnstile entries over hourly MetroCard ridership: about 1.0 before OMNY (2019), about 1.1 in 2023-24
# (../shared/ny-open-data.md); a day outside this band is flagged. A week's first day reads low when the
# week before it is not loaded.
TURNSTILE_TO_METROCARD_BAND = (0.8, 1.4)

unit_complex_key = AssetSpec(
    asset_keys.UNIT_STATION_COMPLEX_KEY,
    group_name="ridership",
    description=f"Turnstile units (remotes) to the MTA's station complex ids: {KEY_FILE} from "
    "qri-io/data-stories-scripts, shipped with the package (mta_assets/station_keys).",
    kinds={"csv"},
    owners=[OWNER],
)

UNITS_IN_KEY = AssetCheckSpec(
    "turnstile_units_in_complex_key",
    asset=asset_keys.DAILY_RIDERSHIP,
    description="Every turnstile unit with ridership is in the unit-to-complex key. Units it lacks are kept under "
    "no complex and named here; the key's own units without a complex (PATH, the tram) are expected and counted.",
)
SOURCES_AGREE = AssetCheckSpec(
    "turnstile_matches_hourly_metrocard",
    asset=asset_keys.SYSTEM_DAILY_RIDERSHIP,
    description="Where both sources have a day, turnstile entries over hourly ridership paid by MetroCard "
    f"(what the turnstiles count) is within {TURNSTILE_TO_METROCARD_BAND}; the ratio of every day is in the metadata. "
    "A run whose weeks have no day with both is not a pass: the check is left not executed (Skipped).",
)


@asset(
    **weekly_asset("ridership", partitions_def=ridership_partitions),
    deps=[
        AssetDep(asset_keys.STATION_DAILY_RIDERSHIP, partition_mapping=SAME_WEEK),
        AssetDep(asset_keys.HOURLY_RIDERSHIP_WAREHOUSE, partition_mapping=SAME_WEEK),
        unit_complex_key,
    ],
    description="Entries per station complex, service day and source, side by side: `turnstile` (the counters' "
    "differences, units summed into complexes by the unit-to-complex key; with exits), which measure MetroCard "
    f"entries registered at the turnstiles: all ridership before OMNY ({OMNY_LAUNCH}), MetroCard-only after; and "
    "`hourly` (hourly ridership: every fare payment, MetroCard and OMNY; no exits). A week both cover has both. "
    "Units without a complex are kept, under no complex, and reported.",
    metadata={
        "dagster/column_schema": DAILY_RIDERSHIP.table_schema,
        "dagster/column_lineage": lineage(
            {
                "week_ending": [(asset_keys.STATION_DAILY_RIDERSHIP, "week_ending"), (asset_keys.HOURLY_RIDERSHIP_WAREHOUSE, "week_ending")],
                "service_date": [(asset_keys.STATION_DAILY_RIDERSHIP, "service_date"), (asset_keys.HOURLY_RIDERSHIP_WAREHOUSE, "transit_timestamp")],
                "station_complex_id": [
                    (asset_keys.STATION_DAILY_RIDERSHIP, "station_id"),
                    (asset_keys.UNIT_STATION_COMPLEX_KEY, "complex_id"),
                    (asset_keys.HOURLY_RIDERSHIP_WAREHOUSE, "station_complex_id"),
                ],
                "station_complex": [(asset_keys.UNIT_STATION_COMPLEX_KEY, "station"), (asset_keys.HOURLY_RIDERSHIP_WAREHOUSE, "station_complex")],
                "transit_mode": [(asset_keys.UNIT_STATION_COMPLEX_KEY, "division"), (asset_keys.HOURLY_RIDERSHIP_WAREHOUSE, "transit_mode")],
                "entries": [(asset_keys.STATION_DAILY_RIDERSHIP, "entries"), (asset_keys.HOURLY_RIDERSHIP_WAREHOUSE, "ridership")],
                "exits": (asset_keys.STATION_DAILY_RIDERSHIP, "exits"),
                "metrocard_entries": [
                    (asset_keys.HOURLY_RIDERSHIP_WAREHOUSE, "ridership"),
                    (asset_keys.HOURLY_RIDERSHIP_WAREHOUSE, "payment_method"),
                ],
                "units": (asset_keys.STATION_DAILY_RIDERSHIP, "station_id"),
            }
        ),
    },
    check_specs=[UNITS_IN_KEY],
    automation_condition=FOLLOWS_EITHER_SOURCE,
)
def daily_ridership(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    weeks = run_weeks(context, warehouse, RIDERSHIP_WEEKS, (STATION_DAILY_ROWS, HOURLY_ROWS))
    replace_weeks(context, warehouse, DAILY_RIDERSHIP, weeks)
    mapped, known = {row.unit for row in unit_complexes()}, key_units()
    units = unit_entries(warehouse, weeks)
    without: dict[date, dict[str, int]] = {}  # units with no complex, by week: their entries
    for week, unit, entries in units:
        if unit not in mapped:
            without.setdefault(week, {})[unit] = int(entries or 0)
    for week, unmapped in without.items():
        context.add_asset_metadata(
            {
                "units_without_complex": len(unmapped),
                "entries_without_complex": sum(unmapped.values()),
                "units_not_in_key": sorted(set(unmapped) - known) or "none",
            },
            partition_key=week.isoformat(),
        )
    unknown = {str(week): sorted(set(unmapped) - known) for week, unmapped in sorted(without.items()) if set(unmapped) - known}
    return MaterializeResult(
        check_results=[
            AssetCheckResult(
                check_name=UNITS_IN_KEY.name,
                asset_key=asset_keys.DAILY_RIDERSHIP,
                passed=not unknown,
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "units_not_in_key": unknown or "none",
                    "units_without_complex": sorted({unit for unmapped in without.values() for unit in unmapped}) or "none",
                    "entries_without_complex": {str(week): sum(unmapped.values()) for week, unmapped in sorted(without.items())}
                    or "none",
                },
            )
        ]
    )


def sources_agree(days: list[tuple[date, int | None, int | None]], weeks: list[date]) -> AssetCheckResult | str:
    """The cross-check from (day, turnstile entries, hourly MetroCard ridership): the ratio of each day both have.
    With no day that both have, nothing is compared: the reason instead of a result (see selected_results)."""
    ratios = {day: turnstile / metrocard for day, turnstile, metrocard in days if turnstile and metrocard}
    if not ratios:
        return f"{SOURCES_AGREE.name}: no day of the weeks {', '.join(map(str, weeks))} has both sources"
    low, high = TURNSTILE_TO_METROCARD_BAND
    outside = {str(day): round(ratio, 3) for day, ratio in ratios.items() if not low <= ratio <= high}
    return AssetCheckResult(
        check_name=SOURCES_AGREE.name,
        asset_key=asset_keys.SYSTEM_DAILY_RIDERSHIP,
        passed=not outside,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "ratio_by_day": {str(day): round(ratio, 4) for day, ratio in sorted(ratios.items())},
            "days_compared": len(ratios),
            "days_outside_band": outside or "none",
            "band": f"{low} to {high}",
        },
    )


# The chart's name for each source of `entries`.
SERIES_LABELS = {"turnstile": f"turnstile counters (to {OMNY_LAUNCH - timedelta(days=1)})", "hourly": "hourly ridership"}


def ridership_series(days: list[tuple[date, int | None, str]]) -> dict[str, list[tuple[date, int]]]:
    """The chart's series from (day, entries, source): one measure, `entries`, under its source's name; a day
    without entries (only a MetroCard-only turnstile count) is not drawn."""
    return {
        label: [(day, entries) for day, entries, source in days if source == of and entries is not None]
        for of, label in SERIES_LABELS.items()
    }


@multi_asset(
    **weekly_checked_asset(
        "ridership",
        asset_keys.SYSTEM_DAILY_RIDERSHIP,
        [SOURCES_AGREE],
        partitions_def=ridership_partitions,
        deps=[daily_ridership],
        description="The subway's ridership per day from 2010 to last week, one measure: `entries` come from "
        "hourly ridership where it has the day (every fare payment), else from the turnstile counters on a day "
        f"before OMNY's launch ({OMNY_LAUNCH}), when they counted every entry; a later day only the turnstiles "
        "have (MetroCard entries only by then) has no `entries`. `source` says which; each source's own count "
        "is kept beside it. Each materialization carries a chart of the whole span.",
        metadata={
            "dagster/column_schema": SYSTEM_DAILY_RIDERSHIP.table_schema,
            "dagster/column_lineage": lineage(
                {
                    "week_ending": (asset_keys.DAILY_RIDERSHIP, "week_ending"),
                    "service_date": (asset_keys.DAILY_RIDERSHIP, "service_date"),
                    "entries": [(asset_keys.DAILY_RIDERSHIP, "entries"), (asset_keys.DAILY_RIDERSHIP, "source")],
                    "source": (asset_keys.DAILY_RIDERSHIP, "source"),
                    "turnstile_entries": (asset_keys.DAILY_RIDERSHIP, "entries"),
                    "hourly_entries": (asset_keys.DAILY_RIDERSHIP, "entries"),
                    "hourly_metrocard_entries": (asset_keys.DAILY_RIDERSHIP, "metrocard_entries"),
                    "station_complexes": (asset_keys.DAILY_RIDERSHIP, "station_complex_id"),
                }
            ),
        },
        automation_condition=FOLLOWS_THE_WAREHOUSE,
    )
)
def system_daily_ridership(context: AssetExecutionContext, warehouse: Warehouse) -> Iterator[MaterializeResult | AssetCheckResult]:
    require_the_asset(context, asset_keys.SYSTEM_DAILY_RIDERSHIP)
    weeks = run_weeks(context, warehouse, RIDERSHIP_WEEKS, DAILY_ROWS)
    replace_weeks(context, warehouse, SYSTEM_DAILY_RIDERSHIP, weeks)
    series = ridership_series(system_daily_ridership_days(warehouse))
    yield MaterializeResult(asset_key=asset_keys.SYSTEM_DAILY_RIDERSHIP, metadata={"chart": chart(series, "NYC subway ridership per day (entries), 2010 to last week")})
    compared = sources_by_day(warehouse, weeks)
    yield from selected_results(context, [sources_agree(compared, weeks)])
