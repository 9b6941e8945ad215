-- Every day of system_daily_ridership, for its chart.
SELECT service_date, entries, source
FROM {system_daily_ridership}
ORDER BY service_date
