-- One system-wide series of one measure, the subway's ridership, for the weeks in {weeks}.
--
-- The rule for a day's `entries`, and `source` to say where they come from:
--   hourly ridership where it has the day (2017 on): every fare payment, MetroCard and OMNY;
--   else the turnstile counters on a service day before OMNY's launch ({omny_launch}, OMNY_LAUNCH in
--     mta_assets/lib/tables.py), when every entry went through a turnstile register;
--   else NULL, with source 'turnstile_metrocard_only': from OMNY's launch on, the registers count
--     MetroCard entries only (0.62 of the MTA's ridership in May 2023, 0.55 in January 2024), not the
--     subway's ridership. The day's turnstile count stays in turnstile_entries.
-- Before OMNY (2017 to its launch) both sources measure all ridership and hourly is preferred there too:
-- one rule for every day, hourly wherever it has the day. turnstile_entries, hourly_entries and
-- hourly_metrocard_entries are kept side by side wherever a source has the day, for the cross-check.
-- The subway's station complexes only, in both eras: the turnstile units with no complex (PATH among
-- them), the Staten Island Railway and the tram are in daily_ridership, not here.
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
),
measured AS (
  SELECT
    *,
    CASE
      WHEN hourly_entries IS NOT NULL THEN 'hourly'
      WHEN service_date < {omny_launch} THEN 'turnstile'
      ELSE 'turnstile_metrocard_only'
    END AS source
  FROM days
)
SELECT
  week_ending,
  service_date,
  CASE source WHEN 'hourly' THEN hourly_entries WHEN 'turnstile' THEN turnstile_entries END AS entries,
  source,
  turnstile_entries,
  hourly_entries,
  hourly_metrocard_entries,
  CASE source WHEN 'hourly' THEN hourly_complexes WHEN 'turnstile' THEN turnstile_complexes END AS station_complexes
FROM measured
