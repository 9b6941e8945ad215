-- Entries per station complex, service day and source for the weeks in {weeks}: both eras in one table.
--
-- turnstile: the counter differences of station_daily_ridership (per remote unit), summed over the units
--   of each complex by the unit-to-complex key (mta_assets/ridership/complex_key.py). Units the key does not map
--   are summed into one row per day with no complex, so no entry is lost.
-- hourly: NY Open Data's hourly ridership summed over the day's hours, payment methods and fare classes;
--   it has no exits. Where the dataset's version names no transit_mode, the tram's complexes (TRAM1,
--   TRAM2) are the tram and every other one is taken for the subway.
WITH unit_complexes AS (
  {unit_complexes}
),
turnstile AS (
  SELECT
    daily.week_ending,
    daily.service_date,
    unit_complexes.station_complex_id,
    MIN(unit_complexes.station_complex) AS station_complex,
    MIN(unit_complexes.transit_mode) AS transit_mode,
    'turnstile' AS source,
    CAST(SUM(daily.entries) AS INT64) AS entries,
    CAST(SUM(daily.exits) AS INT64) AS exits,
    CAST(NULL AS INT64) AS metrocard_entries,
    COUNT(DISTINCT daily.station_id) AS units
  FROM {station_daily_ridership} AS daily
  LEFT JOIN unit_complexes ON unit_complexes.unit = daily.station_id
  WHERE daily.week_ending IN ({weeks})
  GROUP BY daily.week_ending, daily.service_date, unit_complexes.station_complex_id
),
hourly AS (
  SELECT
    week_ending,
    CAST(transit_timestamp AS DATE) AS service_date,
    station_complex_id,
    MIN(station_complex) AS station_complex,
    MIN(COALESCE(transit_mode, CASE WHEN station_complex_id LIKE 'TRAM%' THEN 'tram' ELSE 'subway' END)) AS transit_mode,
    'hourly' AS source,
    CAST(SUM(ridership) AS INT64) AS entries,
    CAST(NULL AS INT64) AS exits,
    CAST(SUM(CASE WHEN payment_method = 'metrocard' THEN ridership ELSE 0 END) AS INT64) AS metrocard_entries,
    CAST(NULL AS INT64) AS units
  FROM {hourly_ridership}
  WHERE week_ending IN ({weeks})
  GROUP BY week_ending, CAST(transit_timestamp AS DATE), station_complex_id
)
SELECT week_ending, service_date, station_complex_id, station_complex, transit_mode, source, entries, exits, metrocard_entries, units
FROM turnstile
UNION ALL
SELECT week_ending, service_date, station_complex_id, station_complex, transit_mode, source, entries, exits, metrocard_entries, units
FROM hourly
