-- Every day of system_ridership, for its chart.
SELECT service_date, entries, exits
FROM {system_ridership}
ORDER BY service_date
