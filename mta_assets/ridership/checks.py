"""The ridership checks, computed by station_daily_ridership from its load: intervals left out, day totals."""

import statistics
from collections.abc import Mapping
from datetime import date, timedelta

from dagster import AssetCheckResult, AssetCheckSpec

from mta_assets.asset_keys import STATION_DAILY_RIDERSHIP
from mta_assets.lib.check_results import weeks_result

# Real weeks leave out well under 1% of intervals (a 2023 week: 1,793 backwards deltas over 67 of ~5,000
# turnstiles, of about 200,000 intervals); above this share the week's ridership is undercounted.
MAX_EXCLUDED_SHARE = 0.05
# A day's riders outside this band around the same weekday of recent weeks is flagged.
PLAUSIBLE_BAND = (0.5, 1.5)

RIDERSHIP_CHECKS = [
    AssetCheckSpec(
        "ridership_intervals_counted",
        asset=STATION_DAILY_RIDERSHIP,
        description=f"At most {MAX_EXCLUDED_SHARE:.0%} of a week's reading intervals are left out as counter resets, "
        "backwards counters or jumps: more means the week's ridership is undercounted.",
    ),
    AssetCheckSpec("ridership_day_totals_plausible", asset=STATION_DAILY_RIDERSHIP, description="System-wide day totals within a band of the same weekday in the previous weeks; flags holidays."),
]


def ridership_results(
    intervals: Mapping[date, tuple[int, int]], day_totals: Mapping[date, int], earlier_day_totals: Mapping[date, int]
) -> list[AssetCheckResult | str]:
    """`intervals`: (intervals, excluded intervals) per week of the run; `day_totals`: system entries per
    service date of the run; `earlier_day_totals`: of earlier weeks. A check with nothing to compare is
    given as the reason (see selected_results)."""
    flagged, compared = {}, []
    for day, entries in sorted(day_totals.items()):
        same_weekday = [earlier_day_totals[day - timedelta(weeks=n)] for n in range(1, 5) if day - timedelta(weeks=n) in earlier_day_totals]
        if same_weekday:
            compared.append(day)
            median = statistics.median(same_weekday)
            ratio = entries / median if median else float("inf")
            if not PLAUSIBLE_BAND[0] <= ratio <= PLAUSIBLE_BAND[1]:
                flagged[day] = f"{entries:,} entries, {ratio:.2f} x the median {median:,.0f} of the same weekday"
    excluded_share = {week: excluded / total if total else 1.0 for week, (total, excluded) in intervals.items()}
    return [
        weeks_result(
            {
                week: f"{intervals[week][1]:,} of {intervals[week][0]:,} intervals left out ({share:.1%})"
                for week, share in excluded_share.items()
                if share > MAX_EXCLUDED_SHARE
            },
            {"excluded_share": {str(week): round(share, 4) for week, share in sorted(excluded_share.items())}},
            blocking=False,
            check_name="ridership_intervals_counted",
            asset_key=STATION_DAILY_RIDERSHIP,
        ),
        weeks_result(
            flagged,
            {"day_entries": {str(day): total for day, total in sorted(day_totals.items())}, "days_compared": len(compared)},
            blocking=False,
            check_name="ridership_day_totals_plausible",
            asset_key=STATION_DAILY_RIDERSHIP,
        )
        if compared
        else "ridership_day_totals_plausible: no day of the run has the same weekday loaded in the 4 weeks before it",
    ]
