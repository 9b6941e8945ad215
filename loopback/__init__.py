"""Real components on loopback for the tests and the benchmarks: generated MTA files and the servers
that serve them (an HTTP mirror), the GCS and BigQuery emulators, PostgreSQL, and `dagster dev` itself.
Nothing here is part of the code location.
"""
