-- Each day of the weeks {weeks} with both sources' counts, for the check that they agree.
SELECT service_date, turnstile_entries, hourly_metrocard_entries
FROM {system_daily_ridership}
WHERE week_ending IN ({weeks})
ORDER BY service_date
