"""The production warehouse: BigQuery, the turnstile table partitioned by week_ending."""

import io
import uuid
from datetime import date, datetime, timedelta, timezone

from pydantic import Field

from mta_assets.lake import LakeFormat, LakeWeek
from mta_assets.lib.errors import ConfigurationError
from mta_assets.lib.turnstile_table import COLUMN_NAMES, COLUMNS
from mta_assets.warehouse.base import TURNSTILE_TABLE, Warehouse, WeekLoad

# Station queries filter on the unit (station) and then the booth and turnstile.
CLUSTERING_FIELDS = ["unit", "control_area", "scp"]


class BigQueryWarehouse(Warehouse):
    """BigQuery dataset `project.dataset`; credentials from the usual Google sources."""

    project: str = Field(description="Google Cloud project (MTA_BQ_PROJECT).")
    dataset: str = Field(description="Dataset holding the tables (MTA_BQ_DATASET).")
    location: str = Field(default="US", description="Dataset location (MTA_BQ_LOCATION).")
    api_endpoint: str = Field(
        default="", description="Another BigQuery API endpoint, with anonymous credentials: an emulator."
    )

    @property
    def kind(self) -> str:
        return "bigquery"

    @property
    def table(self) -> str:
        return f"{self.project}.{self.dataset}.{TURNSTILE_TABLE}"

    def client(self):
        from google.cloud import bigquery

        if not self.project.strip() or not self.dataset.strip():
            raise ConfigurationError("BigQuery needs MTA_BQ_PROJECT and MTA_BQ_DATASET to be set.")
        if self.api_endpoint:
            from google.api_core.client_options import ClientOptions
            from google.auth.credentials import AnonymousCredentials

            return bigquery.Client(
                project=self.project,
                location=self.location,
                credentials=AnonymousCredentials(),
                client_options=ClientOptions(api_endpoint=self.api_endpoint),
            )
        return bigquery.Client(project=self.project, location=self.location)

    @staticmethod
    def schema():
        from google.cloud import bigquery

        return [bigquery.SchemaField(column.name, column.bigquery_type, description=column.description) for column in COLUMNS]

    def _ensure_table(self, client) -> None:
        from google.cloud import bigquery

        dataset = bigquery.Dataset(f"{self.project}.{self.dataset}")
        dataset.location = self.location
        client.create_dataset(dataset, exists_ok=True)
        table = bigquery.Table(self.table, schema=self.schema())
        table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field="week_ending")
        table.clustering_fields = CLUSTERING_FIELDS
        client.create_table(table, exists_ok=True)

    def _load_staging(self, client, lake_week: LakeWeek) -> str:
        """Load the lake object into a fresh staging table, straight from GCS when the lake is there."""
        from google.cloud import bigquery

        staging = f"{self.project}.{self.dataset}._turnstile_load_{lake_week.week:%Y%m%d}_{uuid.uuid4().hex[:8]}"
        table = bigquery.Table(staging, schema=self.schema())
        # A crash between load and drop leaves nothing behind for long (the emulator ignores expiry).
        table.expires = datetime.now(timezone.utc) + timedelta(days=1)
        client.create_table(table)
        job_config = bigquery.LoadJobConfig(
            schema=self.schema(), write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE
        )
        if lake_week.uri.startswith("gs://"):
            # A load job straight from the lake object: no rows pass through this process.
            if lake_week.format is LakeFormat.PARQUET:
                job_config.source_format = bigquery.SourceFormat.PARQUET
            else:
                job_config.source_format = bigquery.SourceFormat.CSV
                job_config.skip_leading_rows = 1
            job = client.load_table_from_uri(lake_week.uri, staging, job_config=job_config)
        else:
            # From a local lake the upload is parquet either way: smaller than CSV, and (unlike gzip CSV)
            # also accepted by the emulator. Parquet columns must be in schema order: the emulator loads
            # them by position.
            job_config.source_format = bigquery.SourceFormat.PARQUET
            data = lake_week.read_bytes() if lake_week.format is LakeFormat.PARQUET else LakeFormat.PARQUET.serialize(lake_week.read_table())
            job = client.load_table_from_file(io.BytesIO(data), staging, job_config=job_config)
        job.result()
        return staging

    def week_row_count(self, week: date) -> int:
        client = self.client()
        self._ensure_table(client)
        return self._week_row_count(client, week)

    def _week_row_count(self, client, week: date) -> int:
        sql = f"SELECT count(*) FROM `{self.table}` WHERE week_ending = DATE '{week.isoformat()}'"
        return next(iter(client.query(sql).result()))[0]

    def replace_week(self, lake_week: LakeWeek) -> WeekLoad:
        client = self.client()
        self._ensure_table(client)
        week = f"DATE '{lake_week.week.isoformat()}'"
        replaced = self._week_row_count(client, lake_week.week)
        staging = self._load_staging(client, lake_week)
        columns = ", ".join(COLUMN_NAMES)
        try:
            # One multi-statement transaction: readers see the old week or the new one, never neither or
            # both. Literal values, because the emulator rejects query parameters inside scripts.
            client.query(
                f"BEGIN TRANSACTION;\n"
                f"DELETE FROM `{self.table}` WHERE week_ending = {week};\n"
                f"INSERT INTO `{self.table}` ({columns}) SELECT {columns} FROM `{staging}` WHERE week_ending = {week};\n"
                f"COMMIT TRANSACTION;"
            ).result()
        finally:
            client.delete_table(staging, not_found_ok=True)
        rows, first, last = next(
            iter(
                client.query(
                    f"SELECT count(*), min(reading_at), max(reading_at) FROM `{self.table}` WHERE week_ending = {week}"
                ).result()
            )
        )
        return WeekLoad(table=self.table, rows=rows, replaced_rows=replaced, first_reading=first, last_reading=last)
