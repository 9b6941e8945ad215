"""A week far smaller than a complete one is refused before it is stored, unless the operator accepts it."""

from datetime import date
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity

from loopback.http_mirror import Misbehaviour
from loopback.turnstile_files import HEADER, week_lines
from mta_assets.turnstile.completeness import DEFAULT_MIN_DEVICES, Neighbour, WeekShape, neighbours_of, shortfalls
from mta_assets.lake.facts import WeekFacts
from mta_assets.lib.errors import ConfigurationError
from mta_assets.settings import sources_from_env
from mta_assets_tests.defs.test_checks import evaluations
from mta_assets_tests.lib.project import Project, failure_message

EXCERPT = Path(__file__).parent / "fixtures" / "turnstile_110528_excerpt.txt"
WEEK, NAME = "2023-06-03", "turnstile_230603.txt"
SATURDAY = date.fromisoformat(WEEK)
FULL = 25  # turnstiles in the complete weeks Project publishes


def refused(project: Project, key: str, *patterns: str) -> str:
    """Run the week; it must fail with a message matching every pattern, leaving nothing behind."""
    result = project.run(key)
    assert not result.success
    message = failure_message(result)
    for pattern in patterns:
        assert pattern in message, message
    assert [name for name in project.lake_files() if key.replace("-", "")[2:] in name] == []
    assert project.rows(key) == 0
    return message


def test_a_download_cut_at_a_line_break_without_a_length_is_refused(mirror, tmp_path):
    # As `python -m http.server` or any close-delimited server sends it: the cut is invisible on the wire.
    project = Project(mirror, tmp_path, weeks=("2023-05-27",))
    assert project.run("2023-05-27").success
    data = project.publish(WEEK, turnstile_count=FULL)
    half = data.index(b"\n", len(data) // 2 - 400) + 1  # a line break inside the 13th turnstile's readings
    mirror.misbehaviours[NAME] = Misbehaviour(framing="close", cut_after_bytes=half)
    message = refused(
        project,
        WEEK,
        f"Week {WEEK}: {mirror.url}/{NAME} is not a complete week: it holds 13 turnstiles where a complete week holds "
        f"about {FULL} (the median of the 1 stored weeks 2023-05-27 to 2023-05-27)",
        f"MTA_ACCEPT_SHORT_WEEKS={WEEK}",
    )
    assert "readings where a complete week holds" in message


def test_a_valid_file_with_half_the_turnstiles_is_refused_against_the_weeks_around_it(mirror, tmp_path):
    project = Project(mirror, tmp_path, weeks=("2023-05-27", "2023-06-10"))
    assert project.run("2023-05-27").success and project.run("2023-06-10").success
    project.publish(WEEK, turnstile_count=FULL // 2)
    refused(project, WEEK, f"holds 12 turnstiles where a complete week holds about {FULL} (the median of the 2 stored weeks 2023-05-27 to 2023-06-10)")


def test_a_week_missing_a_day_is_refused_naming_the_day(mirror, tmp_path):
    project = Project(mirror, tmp_path, weeks=())
    lines = [text for text in week_lines(SATURDAY, turnstile_count=FULL) if ",05/31/2023," not in text]
    mirror.files[NAME] = ("\n".join([HEADER, *lines]) + "\n").encode()
    refused(project, WEEK, "no readings on Wednesday 2023-05-31")


def test_the_real_legacy_excerpt_is_refused_with_no_week_to_compare_with(mirror, tmp_path):
    project = Project(mirror, tmp_path, weeks=(), min_devices=DEFAULT_MIN_DEVICES)
    mirror.files["turnstile_110528.txt"] = EXCERPT.read_bytes()
    refused(
        project,
        "2011-05-28",
        f"holds 9 turnstiles where a complete week holds at least {DEFAULT_MIN_DEVICES:,} (MTA_MIN_WEEK_DEVICES; "
        "real weeks hold about 4,500-5,100, and no week around it is stored to compare with)",
    )


def test_an_excerpt_of_704_turnstiles_is_refused_with_no_week_to_compare_with(mirror, tmp_path):
    # The size of the real 2017-06-24 excerpt (704 turnstiles where the week holds about 4,700), generated.
    project = Project(mirror, tmp_path, weeks=(), min_devices=DEFAULT_MIN_DEVICES)
    project.publish("2017-06-24", turnstile_count=704)
    refused(project, "2017-06-24", f"holds 704 turnstiles where a complete week holds at least {DEFAULT_MIN_DEVICES:,}")


def test_an_accepted_short_week_is_stored_and_flagged(mirror, tmp_path):
    project = Project(mirror, tmp_path, weeks=(), min_devices=DEFAULT_MIN_DEVICES, accept_short_weeks=["2011-05-28"])
    mirror.files["turnstile_110528.txt"] = EXCERPT.read_bytes()
    result = project.run("2011-05-28")
    assert result.success
    passed, severity, metadata = evaluations(result)["lake_week_complete"]
    assert (passed, severity) == (False, AssetCheckSeverity.WARN)
    assert "9 turnstiles where a complete week holds at least" in metadata["failing_weeks"].value["2011-05-28"]
    (materialization,) = result.asset_materializations_for_node("turnstile_lake")
    assert "9 turnstiles" in WeekFacts.from_metadata(materialization.metadata).short_week_accepted
    assert project.rows("2011-05-28") == 48


def test_complete_weeks_pass_and_join_the_neighbours_of_later_ones(mirror, tmp_path):
    project = Project(mirror, tmp_path)
    result = project.run_range("2023-05-27", WEEK)
    assert result.success
    passed, _, metadata = evaluations(result)["lake_week_complete"]
    assert passed
    assert metadata["turnstiles"].value == {"2023-05-27": 25, WEEK: 25}


def shape(devices: int, readings: int, quiet_day: int | None = None) -> WeekShape:
    days = {day: devices for day in (date(2023, 5, 27 + n) for n in range(5))} | {date(2023, 6, 1): devices, date(2023, 6, 2): devices}
    if quiet_day is not None:
        days[sorted(days)[quiet_day]] = devices // 3
    return WeekShape(devices, readings, days)


def test_the_rule_compares_with_the_neighbours_median_or_else_the_floor():
    around = {date(2023, 5, 20): Neighbour(4_800, 200_000), date(2023, 6, 10): Neighbour(4_900, 204_000), date(2023, 6, 17): Neighbour(100, 1_000)}
    assert shortfalls(shape(4_700, 198_000), around, DEFAULT_MIN_DEVICES) == []
    assert shortfalls(shape(4_000, 198_000), around, DEFAULT_MIN_DEVICES) == [
        "4,000 turnstiles where a complete week holds about 4,800 (the median of the 3 stored weeks 2023-05-20 to 2023-06-17)"
    ]
    assert shortfalls(shape(4_700, 140_000), around, DEFAULT_MIN_DEVICES) == [
        "140,000 readings where a complete week holds about 200,000 (the median of the 3 stored weeks 2023-05-20 to 2023-06-17)"
    ]
    assert shortfalls(shape(4_700, 198_000), {}, DEFAULT_MIN_DEVICES) == []
    assert shortfalls(shape(4_700, 60_000), {}, DEFAULT_MIN_DEVICES) == [
        "60,000 readings, 12.8 a turnstile, where a complete week has about 42 (one every ~4 hours)"
    ]
    assert shortfalls(shape(4_700, 198_000, quiet_day=3), {}, DEFAULT_MIN_DEVICES) == ["readings of only 1,566 of the 4,700 turnstiles on Tuesday 2023-05-30"]


def test_the_settings_take_a_floor_and_saturdays_to_accept():
    sources = sources_from_env({"MTA_MIN_WEEK_DEVICES": "4000", "MTA_ACCEPT_SHORT_WEEKS": " 2017-06-24, 2011-05-28 "})
    assert (sources.min_devices, sources.accept_short_weeks) == (4_000, ["2017-06-24", "2011-05-28"])
    assert (sources_from_env({}).min_devices, sources_from_env({}).accept_short_weeks) == (DEFAULT_MIN_DEVICES, [])


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"MTA_MIN_WEEK_DEVICES": "many"}, "MTA_MIN_WEEK_DEVICES='many' is not a whole number of turnstiles above 0"),
        ({"MTA_MIN_WEEK_DEVICES": "0"}, "MTA_MIN_WEEK_DEVICES='0' is not a whole number of turnstiles above 0"),
        ({"MTA_ACCEPT_SHORT_WEEKS": "2017-06-24,2017-06-25"}, "'2017-06-25' is not a Saturday written YYYY-MM-DD"),
        ({"MTA_ACCEPT_SHORT_WEEKS": "last week"}, "'last week' is not a Saturday written YYYY-MM-DD"),
    ],
)
def test_bad_completeness_settings_are_refused_by_name(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        sources_from_env(environ)


def test_the_first_modern_week_is_not_compared_with_legacy_weeks():
    # Legacy weeks also carry door and log-on events: their readings are no yardstick for a modern week.
    legacy = {date(2014, 10, 4): Neighbour(4_800, 400_000), date(2014, 10, 11): Neighbour(4_800, 400_000)}
    modern = {date(2014, 10, 25): Neighbour(4_800, 200_000)}
    assert neighbours_of(date(2014, 10, 18), {**legacy, **modern}) == modern
    assert neighbours_of(date(2014, 10, 11), {**legacy, **modern}) == {date(2014, 10, 4): legacy[date(2014, 10, 4)]}
    assert shortfalls(shape(4_700, 198_000), neighbours_of(date(2014, 10, 18), legacy), DEFAULT_MIN_DEVICES) == []
