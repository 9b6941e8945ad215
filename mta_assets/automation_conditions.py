"""When the warehouse and ridership assets follow their sources: every automation condition of the
project, each an explicit composition of Dagster's operands.

Dagster's `eager()` condition is the starting point: a partition runs when it is newly missing or a
dependency updated since it was last handled, with no dependency missing or in progress and itself not
in progress. Its restriction to the latest time window is left out everywhere here: a lake week
materialized by the schedule, a sensor, a backfill or by hand brings its warehouse week up to date,
historical weeks included. Each asset's condition below says what it waits for instead of editing
Dagster's labels.
"""

from dataclasses import dataclass

from dagster import AssetKey, AssetSelection, AutomationCondition, AutomationContext, AutomationResult

from mta_assets.asset_keys import LOADING, STATIONS


@dataclass(frozen=True)
class BackfillLoading(AutomationCondition):
    """True for every partition while an active backfill has partitions of `assets` left to materialize."""

    assets: tuple[AssetKey, ...]

    @property
    def name(self) -> str:
        return "backfill_loading"

    @property
    def description(self) -> str:
        return f"A backfill still has weeks of {', '.join(key.to_user_string() for key in self.assets)} to load"

    @property
    def requires_cursor(self) -> bool:
        return False

    async def evaluate(self, context: AutomationContext) -> AutomationResult:
        view = context.asset_graph_view
        # Only the assets of the graph count: a code location may define some of them only.
        for key in filter(view.asset_graph.has, self.assets):
            left = await view.compute_backfill_in_progress_subset(key=key, from_subset=view.get_full_subset(key=key))
            if not left.is_empty:
                return AutomationResult(context, true_subset=context.candidate_subset)
        return AutomationResult(context, true_subset=context.get_empty_subset())


# eager()'s trigger and its guards against running twice.
UPSTREAM_CHANGED = (AutomationCondition.newly_missing() | AutomationCondition.any_deps_updated()).since_last_handled()
NOTHING_IN_PROGRESS = ~AutomationCondition.any_deps_in_progress() & ~AutomationCondition.in_progress()
# Nor does a week follow while a dependency's blocking check has failed. Dagster 1.13 records the lake's
# checks per run, not per week (see defs/turnstile_lake_checks.py), so this holds back every pending week, not just the
# bad one; the parser refuses the other kind of bad week (another week's file) before it is stored.
BLOCKING_CHECKS_PASSED = AutomationCondition.all_deps_blocking_checks_passed()
# While a backfill loads the sources, the ridership follows on a clock instead of at once. Dagster's conditions
# look at a partition's own dependencies, so a history-scale backfill landing 26 weeks at a time would make
# the ridership of each landed batch ready one batch after another, and the automation would launch a run
# for each, queued between the backfill's for the warehouse's one writer. Every few minutes, the weeks
# landed since follow in a few runs of up to 26 weeks: never more than a few minutes behind their sources.
FOLLOW_UP_DURING_BACKFILLS = "*/5 * * * *"
BETWEEN_BACKFILL_BATCHES = (
    ~BackfillLoading(LOADING) | AutomationCondition.cron_tick_passed(FOLLOW_UP_DURING_BACKFILLS)
).with_label("no_backfill_loading_or_a_follow_up_tick")

# The warehouse follows the lake, week by week. Declarative automation rather than an asset sensor,
# because it already knows which weeks are in progress, missing upstream, or loaded by the same run.
# Weeks it misses (the good weeks of a run that failed one) are loaded by warehouse_reconciliation_sensor.
FOLLOWS_THE_LAKE = (
    UPSTREAM_CHANGED & ~AutomationCondition.any_deps_missing() & NOTHING_IN_PROGRESS & BLOCKING_CHECKS_PASSED
).with_label("follows_the_lake")

# The ridership follows the warehouse the same way, every few minutes while a backfill loads the sources.
FOLLOWS_THE_WAREHOUSE = (
    UPSTREAM_CHANGED
    & ~AutomationCondition.any_deps_missing()
    & NOTHING_IN_PROGRESS
    & BLOCKING_CHECKS_PASSED
    & BETWEEN_BACKFILL_BATCHES
).with_label("follows_the_warehouse")

# station_daily_ridership is also computed when the week before is missing (its first readings then have
# nothing to difference against; when that week arrives, this one is computed again). The week's own
# turnstile readings must be there: `stations` has a row for a week only once they are, so only a
# missing `stations` week holds it back.
FOLLOWS_ITS_WEEK = (
    UPSTREAM_CHANGED
    & ~AutomationCondition.any_deps_missing().allow(AssetSelection.assets(STATIONS))
    & NOTHING_IN_PROGRESS
    & BLOCKING_CHECKS_PASSED
    & BETWEEN_BACKFILL_BATCHES
).with_label("follows_its_week")

# The unified tables compute a week once either source has it, and again when the other arrives (its
# update triggers it): the turnstile weeks of 2017 to 2024 join the series without waiting for hourly
# ridership to be backfilled. They wait only while no source has the week (the packaged key is never
# materialized, so it never counts as having it). "Every dependency's blocking checks passed" is false for
# a week one dependency has no partition of (the turnstile after the feed), so it is asked the other way
# round: no present dependency failed one.
SOME_SOURCE_HAS_THE_WEEK = AutomationCondition.any_deps_match(~AutomationCondition.missing()).with_label("some_source_has_the_week")
NO_PRESENT_SOURCE_FAILED_A_CHECK = ~AutomationCondition.any_deps_match(
    ~AutomationCondition.missing()
    & ~AutomationCondition.all_checks_match(AutomationCondition.check_passed() | AutomationCondition.will_be_requested(), blocking_only=True)
).with_label("no_present_source_failed_a_blocking_check")
FOLLOWS_EITHER_SOURCE = (
    UPSTREAM_CHANGED & SOME_SOURCE_HAS_THE_WEEK & NOTHING_IN_PROGRESS & NO_PRESENT_SOURCE_FAILED_A_CHECK & BETWEEN_BACKFILL_BATCHES
).with_label("follows_either_source")
