"""OpenLineage helpers shared by the operators: dataset naming (cheap to import)."""

from __future__ import annotations

from airflow_provider_lakeops.lineage.naming import (
    DatasetName,
    file_dataset,
    glue_dataset,
    kafka_dataset,
    location_dataset,
    mysql_dataset,
    s3_dataset,
    snowflake_dataset,
)

__all__ = [
    "DatasetName",
    "file_dataset",
    "glue_dataset",
    "kafka_dataset",
    "location_dataset",
    "mysql_dataset",
    "s3_dataset",
    "snowflake_dataset",
]
