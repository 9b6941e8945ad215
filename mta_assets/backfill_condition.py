"""An automation condition: hold while a backfill still loads the lake or the warehouse.

Dagster's conditions look at a partition's own dependencies, so while a history-scale backfill lands
26 weeks at a time, the ridership weeks of each landed batch become ready one batch after another and
the automation launches a run for each. Held until the backfill has loaded every week, the ridership
follows in a few large runs instead, and its runs never queue between the backfill's for the
warehouse's one writer.
"""

from dataclasses import dataclass

from dagster import AssetKey, AutomationCondition, AutomationContext, AutomationResult


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
