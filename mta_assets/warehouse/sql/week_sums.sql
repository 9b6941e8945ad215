-- Rows of each of the weeks {weeks} in the table and the sum of each count column (0 for none).
SELECT week_ending, COUNT(*), {sums}
FROM {table}
WHERE week_ending IN ({weeks})
GROUP BY week_ending
