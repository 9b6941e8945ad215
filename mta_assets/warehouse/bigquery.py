"""The production warehouse: BigQuery, the turnstile table partitioned by week_ending."""

import io
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone

from dagster import get_dagster_logger
from google.api_core.exceptions import GoogleAPICallError
from pydantic import Field

from mta_assets.lake import LakeFormat, LakeWeek
from mta_assets.lib.errors import ConfigurationError
from mta_assets.lib.warehouse_tables import TURNSTILE, WarehouseTable
from mta_assets.warehouse.base import Warehouse, WeekLoad, sql_dates, week_loads


class BigQueryWarehouse(Warehouse):
    """BigQuery dataset `project.dataset`; credentials from the usual Google sources."""

    project: str = Field(description="Google Cloud project (MTA_BQ_PROJECT).")
    dataset: str = Field(description="Dataset holding the tables (MTA_BQ_DATASET).")
    location: str = Field(default="US", description="Dataset location (MTA_BQ_LOCATION).")
    api_endpoint: str = Field(
        default="", description="Another BigQuery API endpoint, with anonymous credentials: an emulator."
    )

    @property
    def table(self) -> str:
        return f"{self.project}.{self.dataset}.{TURNSTILE.name}"

    def name(self, table: str) -> str:
        return f"`{self.project}.{self.dataset}.{table}`"

    def query(self, sql: str) -> list[tuple]:
        return [tuple(row.values()) for row in self.client().query(sql).result()]

    def replace_weeks_with(self, table: WarehouseTable, weeks: Sequence[date], select_sql: str) -> dict[date, int]:
        client = self.client()
        self._ensure_table(client, table)
        name, columns, in_weeks = self.name(table.name), ", ".join(table.column_names), sql_dates(weeks)
        client.query(
            f"BEGIN TRANSACTION;\n"
            f"DELETE FROM {name} WHERE week_ending IN ({in_weeks});\n"
            f"INSERT INTO {name} ({columns}) {select_sql};\n"
            f"COMMIT TRANSACTION;"
        ).result()
        rows = dict(self.query(f"SELECT week_ending, count(*) FROM {name} WHERE week_ending IN ({in_weeks}) GROUP BY week_ending"))
        return {week: rows.get(week, 0) for week in weeks}

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
    def schema(table: WarehouseTable = TURNSTILE):
        from google.cloud import bigquery

        return [bigquery.SchemaField(column.name, column.bigquery_type, description=column.description) for column in table.columns]

    def _ensure_table(self, client, table: WarehouseTable = TURNSTILE) -> None:
        """The dataset and the table, partitioned by week_ending and clustered, unless they exist."""
        from google.cloud import bigquery

        dataset = bigquery.Dataset(f"{self.project}.{self.dataset}")
        dataset.location = self.location
        client.create_dataset(dataset, exists_ok=True)
        definition = bigquery.Table(f"{self.project}.{self.dataset}.{table.name}", schema=self.schema(table))
        definition.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field="week_ending")
        definition.clustering_fields = list(table.clustering)
        client.create_table(definition, exists_ok=True)

    def _load_staging(self, client, lake_weeks: Sequence[LakeWeek]) -> str:
        """Load the lake objects into a fresh staging table: one load job straight from GCS when the lake
        is there (no rows pass through this process), else one parquet upload per week."""
        from google.cloud import bigquery

        staging = f"{self.project}.{self.dataset}._turnstile_load_{uuid.uuid4().hex}"
        table = bigquery.Table(staging, schema=self.schema())
        # A crash between load and drop leaves nothing behind for long (the emulator ignores expiry).
        table.expires = datetime.now(timezone.utc) + timedelta(days=1)
        client.create_table(table)
        job_config = bigquery.LoadJobConfig(schema=self.schema(), write_disposition=bigquery.WriteDisposition.WRITE_APPEND)
        to_upload = list(lake_weeks)
        in_gcs = [lake_week for lake_week in lake_weeks if lake_week.uri.startswith("gs://")]
        if in_gcs:
            if in_gcs[0].format is LakeFormat.PARQUET:
                job_config.source_format = bigquery.SourceFormat.PARQUET
            else:
                job_config.source_format = bigquery.SourceFormat.CSV
                job_config.skip_leading_rows = 1
            try:
                client.load_table_from_uri([lake_week.uri for lake_week in in_gcs], staging, job_config=job_config).result()
                to_upload = [lake_week for lake_week in lake_weeks if lake_week not in in_gcs]
            except GoogleAPICallError as error:
                # A failed load job writes nothing. BigQuery may be unable to read the bucket (its service
                # account lacks access, or it is an emulator that cannot see the GCS emulator): this
                # process can, so it uploads the weeks itself instead.
                get_dagster_logger().warning(
                    f"BigQuery could not load {in_gcs[0].uri} (and {len(in_gcs) - 1} more) straight from GCS "
                    f"({error}); uploading the weeks from this process instead. Grant BigQuery read access "
                    f"to the bucket to load without passing the rows through here."
                )
        job_config.source_format = bigquery.SourceFormat.PARQUET
        job_config.skip_leading_rows = None
        for lake_week in to_upload:
            # Parquet either way from a local lake: smaller than CSV and, unlike gzip CSV, accepted by the
            # emulator too. Columns must be in schema order: the emulator loads parquet by position.
            data = lake_week.read_bytes() if lake_week.format is LakeFormat.PARQUET else LakeFormat.PARQUET.serialize(lake_week.read_table())
            client.load_table_from_file(io.BytesIO(data), staging, job_config=job_config).result()
        return staging

    def week_row_count(self, week: date) -> int:
        client = self.client()
        self._ensure_table(client)
        return self._counts(client, [week]).get(week, (0, None, None))[0]

    def _counts(self, client, weeks: Sequence[date]) -> dict[date, tuple[int, datetime, datetime]]:
        sql = (
            f"SELECT week_ending, count(*), min(reading_at), max(reading_at) FROM `{self.table}` "
            f"WHERE week_ending IN ({sql_dates(weeks)}) GROUP BY week_ending"
        )
        return {row[0]: (row[1], row[2], row[3]) for row in client.query(sql).result()}

    def replace_weeks(self, lake_weeks: Sequence[LakeWeek]) -> list[WeekLoad]:
        client = self.client()
        self._ensure_table(client)
        weeks = sql_dates(lake_week.week for lake_week in lake_weeks)
        replaced = {week: counts[0] for week, counts in self._counts(client, [w.week for w in lake_weeks]).items()}
        staging = self._load_staging(client, lake_weeks)
        columns = ", ".join(TURNSTILE.column_names)
        try:
            # One multi-statement transaction: readers see the old weeks or the new ones, never neither or
            # both. Literal values, because the emulator rejects query parameters inside scripts.
            client.query(
                f"BEGIN TRANSACTION;\n"
                f"DELETE FROM `{self.table}` WHERE week_ending IN ({weeks});\n"
                f"INSERT INTO `{self.table}` ({columns}) SELECT {columns} FROM `{staging}` WHERE week_ending IN ({weeks});\n"
                f"COMMIT TRANSACTION;"
            ).result()
        finally:
            client.delete_table(staging, not_found_ok=True)
        return week_loads(self.table, lake_weeks, replaced, self._counts(client, [w.week for w in lake_weeks]))
