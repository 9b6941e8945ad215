"""Asset check results as the assets compute them: one result per check for a run's weeks, naming the failing ones."""

from collections.abc import Iterable, Iterator, Mapping

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    Failure,
)


def require_the_asset(context: AssetExecutionContext, asset_key: AssetKey) -> None:
    """A subsettable asset's checks check the weeks its run computes: refuse a run of the checks alone."""
    if asset_key not in context.selected_asset_keys:
        raise Failure(
            description=f"The checks of {asset_key.to_user_string()} check the weeks a run of it computes, and run with "
            f"it: materialize {asset_key.to_user_string()} for the weeks to check."
        )


def require_weeks(context: AssetCheckExecutionContext, asset_key: AssetKey) -> None:
    """A lake asset's checks check the weeks a run of it stored: refuse a run of the checks alone, which has none."""
    run = context.op_execution_context
    if not run.has_partition_key and not run.has_partition_key_range:
        raise Failure(
            description=f"The checks of {asset_key.to_user_string()} check the weeks of a run: materialize "
            f"{asset_key.to_user_string()} for one or more weeks (its checks run with it) rather than running the "
            "checks on their own."
        )


def selected_results(context: AssetExecutionContext, results: Iterable[AssetCheckResult | str]) -> Iterator[AssetCheckResult]:
    """The results of the run's selected checks; a check that had nothing to compare (given as the reason, a
    string) yields no result and so shows as Skipped, not Passed, with the reason in the log."""
    for result in results:
        if isinstance(result, str):
            context.log.info(f"Check not executed: {result}")
        elif AssetCheckKey(result.asset_key, result.check_name) in context.selected_asset_check_keys:
            yield result


def weeks_result(failing: Mapping[object, object], metadata: dict, blocking: bool, **identity) -> AssetCheckResult:
    """A check's result for a run's weeks: failed when any week is `failing` (by week, what it found), an
    error when the check blocks, a warning otherwise."""
    return AssetCheckResult(
        passed=not failing,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        metadata={**metadata, "failing_weeks": {str(key): value for key, value in failing.items()} or "none"},
        **identity,
    )
