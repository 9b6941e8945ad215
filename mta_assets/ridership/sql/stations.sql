-- The station dimension for the weeks in {weeks}: one row per remote unit (a station) and week.
-- Stations are keyed by unit, never by name: several different stations are called 23 ST.
SELECT
  week_ending,
  unit AS station_id,
  MIN(station) AS station,
  MIN(line_name) AS line_name,
  MIN(division) AS division,
  COUNT(DISTINCT control_area) AS control_areas,
  COUNT(DISTINCT CONCAT(control_area, '/', scp)) AS turnstiles
FROM {turnstile}
WHERE week_ending IN ({weeks})
GROUP BY week_ending, unit
