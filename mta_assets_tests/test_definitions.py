"""The code location as the UI shows it: lineage from every source to the unified ridership."""

import pytest
from dagster import AssetKey

from mta_assets.definitions import defs


@pytest.fixture(scope="module")
def asset_graph():
    return defs().resolve_asset_graph()


def upstream_of(asset_graph, key: AssetKey) -> set[str]:
    seen, todo = set(), [key]
    while todo:
        for parent in asset_graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return {parent.to_user_string() for parent in seen}


def test_lineage_runs_from_every_source_through_lake_and_warehouse_to_the_unified_tables(asset_graph):
    upstream = upstream_of(asset_graph, AssetKey("system_daily_ridership"))
    assert {
        "mta_turnstile_file",
        "open_data_turnstile_usage",
        "open_data_hourly_ridership_t69i_h2me",
        "open_data_hourly_ridership_wujg_7c2s",
        "open_data_hourly_ridership_5wq4_mkjj",
        "turnstile_lake",
        "turnstile_warehouse",
        "hourly_ridership_lake",
        "hourly_ridership_warehouse",
        "station_daily_ridership",
        "unit_station_complex_key",
        "daily_ridership",
    } <= upstream


def test_daily_ridership_has_column_lineage_to_both_sources(asset_graph):
    lineage = asset_graph.get(AssetKey("daily_ridership")).metadata["dagster/column_lineage"]
    entries = {(dep.asset_key.to_user_string(), dep.column_name) for dep in lineage.deps_by_column["entries"]}
    assert entries == {("station_daily_ridership", "entries"), ("hourly_ridership_warehouse", "ridership")}
    columns = {column.name for column in asset_graph.get(AssetKey("daily_ridership")).metadata["dagster/column_schema"].columns}
    assert set(lineage.deps_by_column) == columns - {"source"}  # which table a row came from: no column of theirs


def test_the_hourly_datasets_are_observable(asset_graph):
    for dataset_id in ("t69i_h2me", "wujg_7c2s", "5wq4_mkjj"):
        assert asset_graph.get(AssetKey(f"open_data_hourly_ridership_{dataset_id}")).is_observable


def test_column_lineage_runs_from_a_days_entries_back_to_the_sources_fields(asset_graph):
    """Follow system_daily_ridership.entries column by column, asset by asset, to where it starts."""
    seen, todo = set(), [("system_daily_ridership", "entries")]
    while todo:
        asset, column = todo.pop()
        if (asset, column) in seen:
            continue
        seen.add((asset, column))
        node = asset_graph.get(AssetKey(asset))
        lineage = node.metadata.get("dagster/column_lineage")
        if lineage is not None:
            todo += [(dep.asset_key.to_user_string(), dep.column_name) for dep in lineage.deps_by_column.get(column, [])]
    assert {
        ("open_data_hourly_ridership_5wq4_mkjj", "ridership"),
        ("open_data_hourly_ridership_t69i_h2me", "ridership"),
        ("mta_turnstile_file", "ENTRIES"),
        ("open_data_turnstile_usage", "entries"),
    } <= seen
