-- System-wide entries per service day of the weeks {weeks}, for the ridership checks.
SELECT service_date, SUM(entries)
FROM {station_daily_ridership}
WHERE week_ending IN ({weeks})
GROUP BY service_date
