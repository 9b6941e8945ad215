-- One system-wide series for the weeks in {weeks}: a day's entries come from hourly ridership where it
-- has the day, from the turnstile counters otherwise (before 2017, or a day hourly ridership lacks).
-- Both sources are kept side by side where both have the day, for the cross-check. The subway's station
-- complexes only, in both eras: the turnstile units with no complex (PATH among them), the Staten Island
-- Railway and the tram are in daily_ridership, not here.
WITH by_source AS (
  SELECT
    week_ending,
    service_date,
    source,
    CAST(SUM(entries) AS INT64) AS entries,
    CAST(SUM(metrocard_entries) AS INT64) AS metrocard_entries,
    COUNT(*) AS station_complexes
  FROM {daily_ridership}
  WHERE week_ending IN ({weeks}) AND station_complex_id IS NOT NULL AND transit_mode = 'subway'
  GROUP BY week_ending, service_date, source
),
days AS (
  SELECT
    week_ending,
    service_date,
    MAX(CASE WHEN source = 'turnstile' THEN entries END) AS turnstile_entries,
    MAX(CASE WHEN source = 'hourly' THEN entries END) AS hourly_entries,
    MAX(CASE WHEN source = 'hourly' THEN metrocard_entries END) AS hourly_metrocard_entries,
    MAX(CASE WHEN source = 'turnstile' THEN station_complexes END) AS turnstile_complexes,
    MAX(CASE WHEN source = 'hourly' THEN station_complexes END) AS hourly_complexes
  FROM by_source
  GROUP BY week_ending, service_date
)
SELECT
  week_ending,
  service_date,
  COALESCE(hourly_entries, turnstile_entries) AS entries,
  CASE WHEN hourly_entries IS NULL THEN 'turnstile' ELSE 'hourly' END AS source,
  turnstile_entries,
  hourly_entries,
  hourly_metrocard_entries,
  COALESCE(hourly_complexes, turnstile_complexes) AS station_complexes
FROM days
