"""A stored week's facts: recorded as materialization metadata, read back whole; the latest of each week."""

from datetime import date

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, MetadataValue

from mta_assets.lake.facts import Fingerprint, LakeObject, WeekFacts, latest_facts

HOURLY = AssetKey("hourly_ridership_lake")


def test_a_fingerprint_is_kept_as_its_key_and_read_back_whole():
    fingerprint = Fingerprint(2016, 563_477, 27_138, "2023-11-14T22:13:20.000Z")
    assert Fingerprint.from_key(fingerprint.key()) == fingerprint
    assert Fingerprint.from_key("0:0:0:") == Fingerprint(0, 0, 0, "")
    with pytest.raises(ValueError, match="not a week's fingerprint"):
        Fingerprint.from_key("1:2")


def test_facts_are_read_back_as_recorded():
    facts = WeekFacts(
        object=LakeObject("/lake/hourly_ridership_230603.parquet", "bWQ1", 123, None),
        rows=10,
        sums={"ridership": 50, "transfers": 2},
        station_complexes=420,
        fingerprint=Fingerprint(10, 50, 2, "2023-11-14T22:13:20.000Z"),
    )
    assert WeekFacts.from_metadata(facts.metadata()) == facts


def test_a_garbled_fingerprint_reads_as_none_so_the_week_loads_again():
    facts = WeekFacts.from_metadata({"source_fingerprint": MetadataValue.text("not a fingerprint"), "dagster/row_count": MetadataValue.int(3)})
    assert facts.fingerprint is None and facts.rows == 3


def test_the_latest_facts_of_each_week_past_many_materializations():
    instance = DagsterInstance.ephemeral()
    weeks = [date(2023, 6, 3), date(2023, 6, 10)]
    for rows in range(150):  # more than a page of the event log for the first week
        instance.report_runless_asset_event(AssetMaterialization(HOURLY, partition=weeks[0].isoformat(), metadata=WeekFacts(rows=rows).metadata()))
        if rows == 0:
            instance.report_runless_asset_event(AssetMaterialization(HOURLY, partition=weeks[1].isoformat(), metadata=WeekFacts(rows=7).metadata()))
    found = latest_facts(instance, HOURLY, [*weeks, date(2023, 6, 17)])
    assert {week: facts.rows for week, facts in found.items()} == {weeks[0]: 149, weeks[1]: 7}
