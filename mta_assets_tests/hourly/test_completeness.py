"""What a complete hourly week holds: the rule of the hourly lake check, on tables made here."""

from datetime import date, datetime, timedelta

import pyarrow as pa

from mta_assets.hourly.completeness import HourlyWeekShape, hourly_shortfalls

WEEK = date(2023, 6, 3)  # 2023-05-27 00:00 to 2023-06-02 23:00


def week_table(keep=lambda hour, complex_id: True, complexes=("611", "610", "636")) -> pa.Table:
    """A row per station complex and hour of WEEK that `keep` keeps."""
    start = datetime(2023, 5, 27)
    rows = [
        (start + timedelta(hours=hour), complex_id)
        for hour in range(168)
        for complex_id in complexes
        if keep(start + timedelta(hours=hour), complex_id)
    ]
    return pa.table({"transit_timestamp": pa.array([at for at, _ in rows], pa.timestamp("ms")), "station_complex_id": [c for _, c in rows]})


def batches_of(table: pa.Table) -> list[pa.RecordBatch]:
    """The table in batches of 100 rows, as a lake object is read: a day's rows span several."""
    return table.to_batches(max_chunksize=100)


def test_a_whole_week_has_no_shortfall():
    assert hourly_shortfalls(HourlyWeekShape.of(batches_of(week_table()), WEEK), WEEK, {}) == []


def test_missing_hours_are_named_as_runs():
    shape = HourlyWeekShape.of(batches_of(week_table(lambda at, _: at.date() != date(2023, 5, 29) and at != datetime(2023, 5, 31, 7))), WEEK)
    assert hourly_shortfalls(shape, WEEK, {}) == [
        "no rows in 25 of its 168 hours (2023-05-29 00:00 to 2023-05-29 23:00, 2023-05-31 07:00)"
    ]


def test_a_week_holding_one_hour_lacks_the_other_167():
    shape = HourlyWeekShape.of(batches_of(week_table(lambda at, _: at == datetime(2023, 6, 2, 23))), WEEK)
    assert hourly_shortfalls(shape, WEEK, {}) == ["no rows in 167 of its 168 hours (2023-05-27 00:00 to 2023-06-02 22:00)"]


def test_the_first_week_needs_only_the_hours_from_the_datasets_first_day():
    first_week = date(2017, 1, 7)  # 2016-12-31 to 2017-01-06; the datasets begin on 2017-01-01
    hours = [datetime(2017, 1, 1) + timedelta(hours=hour) for hour in range(144)]
    table = pa.table({"transit_timestamp": pa.array(hours, pa.timestamp("ms")), "station_complex_id": ["611"] * len(hours)})
    assert hourly_shortfalls(HourlyWeekShape.of(batches_of(table), first_week), first_week, {}) == []
    without_one = table.filter(pa.array([hour != datetime(2017, 1, 3, 5) for hour in hours]))
    assert hourly_shortfalls(HourlyWeekShape.of(batches_of(without_one), first_week), first_week, {}) == [
        "no rows in 1 of its 144 hours (2017-01-03 05:00)"
    ]


def test_station_complexes_are_compared_with_the_stored_weeks_around():
    shape = HourlyWeekShape.of(batches_of(week_table()), WEEK)
    neighbours = {date(2023, 5, 27): 3, date(2023, 6, 10): 4, date(2023, 6, 17): 4}
    assert hourly_shortfalls(shape, WEEK, neighbours)[0] == (
        "3 station complexes on Saturday 2023-05-27 where a day has about 4 (the median of the 3 stored weeks 2023-05-27 to 2023-06-17)"
    )
    assert len(hourly_shortfalls(shape, WEEK, neighbours)) == 7
    assert hourly_shortfalls(shape, WEEK, {date(2023, 5, 27): 3}) == []


def test_a_day_far_below_the_weeks_median_day_is_named():
    # From 04:00 on Thursday only one complex has rows: every hour has some, the day 32 of the usual 72.
    shape = HourlyWeekShape.of(batches_of(week_table(lambda at, c: not (at.date() == date(2023, 6, 1) and at.hour >= 4 and c != "611"))), WEEK)
    assert hourly_shortfalls(shape, WEEK, {}) == ["32 rows on Thursday 2023-06-01, 44% of the week's median day (72)"]
