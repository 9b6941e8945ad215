-- System-wide entries and exits per day for the weeks in {weeks}: small enough to chart.
SELECT
  week_ending,
  service_date,
  CAST(SUM(entries) AS INT64) AS entries,
  CAST(SUM(exits) AS INT64) AS exits,
  COUNT(*) AS stations
FROM {station_daily_ridership}
WHERE week_ending IN ({weeks})
GROUP BY week_ending, service_date
