-- Entries per turnstile unit in each of the weeks {weeks}, to find the units the complex key lacks.
SELECT week_ending, station_id, CAST(SUM(entries) AS INT64)
FROM {station_daily_ridership}
WHERE week_ending IN ({weeks})
GROUP BY week_ending, station_id
