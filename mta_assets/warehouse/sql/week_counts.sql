-- Rows of each of the weeks {weeks} in the table, and the first and last value of its time column.
SELECT week_ending, COUNT(*), MIN({time_column}), MAX({time_column})
FROM {table}
WHERE week_ending IN ({weeks})
GROUP BY week_ending
