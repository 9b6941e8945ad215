-- Entries and exits per station (remote unit) and day for the weeks in {weeks}.
--
-- Riders are the differences between consecutive readings of a turnstile (control area, unit, SCP).
-- The readings of {first_week_before} (the week before the first one) are read too, so that the first
-- reading of a week has the previous week's last reading to difference against; never one older (across
-- a week never published or not loaded), which spans more than an interval. A difference counts on
-- the day of the reading that closes the interval. A RECOVR AUD that repeats a reading's time counts
-- once. Differences below 0 (counter resets, counters running backwards) or above {max_interval_count}
-- (more than a turnstile can pass in a 4-hour audit interval) are left out and counted as excluded.
-- A reading in two weeks' files (the first file, a Wednesday's, runs into the next week) is kept from
-- the file whose week holds its day, the first week ending after it: the other copy's week would drop
-- its interval, and which copy won a tie would depend on which weeks the query reads.
--
-- Only the few readings that repeat are ranked (RECOVR AUDs, the overlapping files): ranking every reading
-- doubled the query's cost (4 real-size weeks at DuckDB's 128 MB limit: 2.3 CPU-s, now 1.1). The table is
-- read where it is needed, not through one CTE named three times: DuckDB materializes such a CTE, and it
-- spills at the memory limit.
WITH repeated AS (
  SELECT control_area, unit, scp, reading_at
  FROM {turnstile}
  WHERE week_ending BETWEEN {first_week_before} AND {last_week}
  GROUP BY control_area, unit, scp, reading_at
  HAVING COUNT(*) > 1
),
readings AS (
  SELECT turnstile.control_area, turnstile.unit, turnstile.scp, turnstile.reading_at, turnstile.entries, turnstile.exits,
    turnstile.week_ending
  FROM {turnstile} AS turnstile
  LEFT JOIN repeated
    ON turnstile.control_area = repeated.control_area AND turnstile.unit = repeated.unit AND turnstile.scp = repeated.scp
    AND turnstile.reading_at = repeated.reading_at
  WHERE turnstile.week_ending BETWEEN {first_week_before} AND {last_week} AND repeated.unit IS NULL
  UNION ALL
  SELECT control_area, unit, scp, reading_at, entries, exits, week_ending
  FROM (
    SELECT
      turnstile.control_area, turnstile.unit, turnstile.scp, turnstile.reading_at, turnstile.entries, turnstile.exits,
      turnstile.week_ending,
      ROW_NUMBER() OVER (
        PARTITION BY turnstile.control_area, turnstile.unit, turnstile.scp, turnstile.reading_at
        ORDER BY CASE WHEN turnstile.description = 'REGULAR' THEN 0 ELSE 1 END, turnstile.entries, turnstile.exits,
          CASE WHEN turnstile.week_ending > CAST(turnstile.reading_at AS DATE) THEN 0 ELSE 1 END, turnstile.week_ending
      ) AS copy
    FROM {turnstile} AS turnstile
    JOIN repeated
      ON turnstile.control_area = repeated.control_area AND turnstile.unit = repeated.unit AND turnstile.scp = repeated.scp
      AND turnstile.reading_at = repeated.reading_at
    WHERE turnstile.week_ending BETWEEN {first_week_before} AND {last_week}
  ) AS repeated_copies
  WHERE copy = 1
),
intervals AS (
  SELECT
    week_ending,
    CAST(reading_at AS DATE) AS service_date,
    unit,
    entries - LAG(entries) OVER (PARTITION BY control_area, unit, scp ORDER BY reading_at) AS entries_delta,
    exits - LAG(exits) OVER (PARTITION BY control_area, unit, scp ORDER BY reading_at) AS exits_delta,
    LAG(week_ending) OVER (PARTITION BY control_area, unit, scp ORDER BY reading_at) AS previous_week_ending
  FROM readings
),
-- Each week's own seven days (Saturday to Friday): a stray reading dated outside its file's week (the
-- lake check flags those) would otherwise add a day that belongs to another week's partition.
week_days AS (
  {week_days}
),
judged AS (
  SELECT
    intervals.*,
    entries_delta BETWEEN 0 AND {max_interval_count} AND exits_delta BETWEEN 0 AND {max_interval_count} AS counted
  FROM intervals
  JOIN week_days ON intervals.week_ending = week_days.week_ending
  WHERE entries_delta IS NOT NULL AND service_date >= week_days.first_day AND service_date < week_days.week_ending
    AND previous_week_ending >= week_days.first_day
)
-- Names and lines come from the week's row in the station dimension, keyed by unit.
SELECT
  judged.week_ending,
  judged.service_date,
  judged.unit AS station_id,
  stations.station,
  stations.line_name,
  CAST(SUM(CASE WHEN counted THEN entries_delta ELSE 0 END) AS INT64) AS entries,
  CAST(SUM(CASE WHEN counted THEN exits_delta ELSE 0 END) AS INT64) AS exits,
  COUNT(*) AS intervals,
  CAST(SUM(CASE WHEN counted THEN 0 ELSE 1 END) AS INT64) AS excluded_intervals
FROM judged
JOIN {stations} AS stations ON stations.week_ending = judged.week_ending AND stations.station_id = judged.unit
GROUP BY judged.week_ending, judged.service_date, judged.unit, stations.station, stations.line_name
