"""The production warehouse: BigQuery, every table partitioned by week_ending, through dagster-gcp."""

import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from dagster import ResourceDependency, get_dagster_logger
from dagster_gcp import BigQueryResource
from google.api_core.exceptions import GoogleAPICallError
from google.cloud import bigquery
from pydantic import Field

from mta_assets.lake.formats import LakeFormat
from mta_assets.lake.week import LakeWeek
from mta_assets.lib.errors import ConfigurationError
from mta_assets.lib.parquet import parquet_writer
from mta_assets.lib.tables import TURNSTILE, Table
from mta_assets.warehouse.base import Warehouse, WeekLoad, load_table, week_loads


class BigQueryEndpointResource(BigQueryResource):
    """dagster-gcp's BigQueryResource, able to reach another API endpoint (an emulator).

    BigQueryResource builds its client from project, location and credentials only; an emulator also
    needs the endpoint and anonymous credentials, so this adds them and otherwise leaves it alone.
    """

    api_endpoint: str | None = Field(
        default=None, description="Another BigQuery API endpoint, reached with anonymous credentials (an emulator)."
    )

    @contextmanager
    def get_client(self) -> Iterator[bigquery.Client]:
        if not self.api_endpoint:
            with super().get_client() as client:
                yield client
            return
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        yield bigquery.Client(
            project=self.project,
            location=self.location,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.api_endpoint),
        )


class BigQueryWarehouse(Warehouse):
    """The tables in BigQuery dataset `dataset`, through dagster-gcp's BigQuery resource."""

    bigquery: ResourceDependency[BigQueryResource]
    dataset: str = Field(description="Dataset holding the tables (MTA_BQ_DATASET).")

    @property
    def project(self) -> str:
        if not (self.bigquery.project or "").strip() or not self.dataset.strip():
            raise ConfigurationError("BigQuery needs MTA_BQ_PROJECT and MTA_BQ_DATASET to be set.")
        return self.bigquery.project

    def name(self, table: str) -> str:
        return f"`{self.project}.{self.dataset}.{table}`"

    def string_literal(self, value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"

    def query(self, sql: str) -> list[tuple]:
        with self.bigquery.get_client() as client:
            return [tuple(row.values()) for row in client.query(sql).result()]

    def replace_weeks_with(self, table: Table, weeks: Sequence[date], selects: Sequence[str]) -> dict[date, int]:
        with self.bigquery.get_client() as client:
            self._ensure_table(client, table)
            self._replace(client, table, weeks, selects)
            counts = self._counts(client, weeks, table)
        return {week: counts.get(week, (0,))[0] for week in weeks}

    def _replace(self, client: bigquery.Client, table: Table, weeks: Sequence[date], selects: Sequence[str]) -> None:
        """The weeks' rows of `table` replaced by the rows of the `selects` in one multi-statement transaction,
        one query job: readers see the old weeks or the new ones, never neither or both."""
        name = self.name(table.name)
        inserts = "".join(f"INSERT INTO {name} ({', '.join(table.column_names)}) {select_sql};\n" for select_sql in selects)
        client.query(
            f"BEGIN TRANSACTION;\n"
            f"DELETE FROM {name} WHERE week_ending IN ({self._rendered(list(weeks))});\n"
            f"{inserts}"
            f"COMMIT TRANSACTION;"
        ).result()

    @staticmethod
    def schema(table: Table) -> list[bigquery.SchemaField]:
        return [bigquery.SchemaField(column.name, column.bigquery_type, description=column.description) for column in table.columns]

    def _ensure_table(self, client: bigquery.Client, table: Table) -> None:
        """The dataset and the table, partitioned by week_ending and clustered, unless they exist."""
        dataset = bigquery.Dataset(f"{self.project}.{self.dataset}")
        dataset.location = self.bigquery.location or "US"
        client.create_dataset(dataset, exists_ok=True)
        definition = bigquery.Table(f"{self.project}.{self.dataset}.{table.name}", schema=self.schema(table))
        definition.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field="week_ending")
        definition.clustering_fields = list(table.clustering)
        client.create_table(definition, exists_ok=True)

    def _load_staging(self, client: bigquery.Client, staging: str, lake_weeks: Sequence[LakeWeek], table: Table) -> None:
        """Load the lake objects into a fresh staging table: one load job straight from GCS when the lake
        is there (no rows pass through this process), else one parquet upload per week."""
        definition = bigquery.Table(staging, schema=self.schema(table))
        # A crash between load and drop leaves nothing behind for long (the emulator ignores expiry).
        definition.expires = datetime.now(timezone.utc) + timedelta(days=1)
        client.create_table(definition)
        job_config = bigquery.LoadJobConfig(schema=self.schema(table), write_disposition=bigquery.WriteDisposition.WRITE_APPEND)
        to_upload = list(lake_weeks)
        in_gcs = [lake_week for lake_week in lake_weeks if lake_week.local_path is None]
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
            with _parquet_file(lake_week) as parquet, open(parquet, "rb") as file:
                client.load_table_from_file(file, staging, job_config=job_config).result()

    def week_row_counts(self, weeks: Sequence[date], table: Table = TURNSTILE) -> dict[date, int]:
        with self.bigquery.get_client() as client:
            self._ensure_table(client, table)
            counts = self._counts(client, weeks, table)
        return {week: counts.get(week, (0, None, None))[0] for week in weeks}

    def _counts(self, client: bigquery.Client, weeks: Sequence[date], table: Table) -> dict[date, tuple[int, datetime, datetime]]:
        return {row[0]: (row[1], row[2], row[3]) for row in client.query(self.week_counts_sql(table, weeks)).result()}

    def replace_weeks(self, lake_weeks: Sequence[LakeWeek]) -> list[WeekLoad]:
        table = load_table(lake_weeks)
        name = self.name(table.name)
        weeks = [lake_week.week for lake_week in lake_weeks]
        with self.bigquery.get_client() as client:
            self._ensure_table(client, table)
            replaced = {week: counts[0] for week, counts in self._counts(client, weeks, table).items()}
            staging = f"{self.project}.{self.dataset}._{table.name}_load_{uuid.uuid4().hex}"
            try:
                self._load_staging(client, staging, lake_weeks, table)
                self._replace(
                    client,
                    table,
                    weeks,
                    [f"SELECT {', '.join(table.column_names)} FROM `{staging}` WHERE week_ending IN ({self._rendered(weeks)})"],
                )
            finally:
                client.delete_table(staging, not_found_ok=True)
            return week_loads(name.strip("`"), lake_weeks, replaced, self._counts(client, weeks, table))


@contextmanager
def _parquet_file(lake_week: LakeWeek) -> Iterator[Path]:
    """The week as a local parquet file to upload: the lake's own file, or a copy written batch by batch.

    Parquet either way: smaller than CSV and, unlike gzip CSV, accepted by the emulator too. Columns are
    in schema order: the emulator loads parquet by position.
    """
    if lake_week.local_path is not None and lake_week.format is LakeFormat.PARQUET:
        yield lake_week.local_path
        return
    with tempfile.TemporaryDirectory(prefix="mta-upload-") as directory:
        path = Path(directory) / f"{lake_week.week}.parquet"
        with parquet_writer(path, lake_week.dataset.table.arrow_schema) as writer:
            for batch in lake_week.batches():
                writer.write_batch(batch)
        yield path
