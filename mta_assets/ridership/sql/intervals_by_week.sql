-- Reading intervals counted and left out in each of the weeks {weeks}, for the ridership checks.
SELECT week_ending, SUM(intervals), SUM(excluded_intervals)
FROM {station_daily_ridership}
WHERE week_ending IN ({weeks})
GROUP BY week_ending
