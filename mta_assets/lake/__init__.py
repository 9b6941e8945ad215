"""The data lake: one object per week under MTA_LAKE_URL (a local folder or gs://bucket/prefix).

`formats` writes and reads a week as parquet or gzip CSV, `storage` puts whole files in a folder or a
bucket, `week` is the handle to one stored week, `resource` is what assets store weeks through and readers
ask for the recorded weeks, `store_weeks` stores a run's weeks, and `facts` is what a stored week's
materialization records.
"""
