"""Publishing a validation outcome: the full result file (local or S3) and OpenLineage facets."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.utils.storage import write_text

if TYPE_CHECKING:
    from airflow_provider_lakeops.operators._gx.results import ValidationOutcome

__all__ = ["lineage_inputs", "result_target", "write_result"]

_MAX_NAME_CHARS = 120


def result_target(location: str, suite_name: str) -> str:
    """Where the full result goes: ``location`` itself if it ends in ``.json``, else
    ``{location}/{suite}.json``."""
    target = location if location.endswith(".json") else f"{location.rstrip('/')}/{suite_name}.json"
    if target.startswith(("s3://", "s3a://", "s3n://")):
        return "s3://" + target.split("://", 1)[1]
    return os.path.abspath(target.removeprefix("file://"))


def write_result(target: str, document: Mapping[str, Any], *, aws_conn_id: str | None = "aws_default") -> str:
    """Write the full (sanitised) result JSON to a :func:`result_target`, replacing what was there
    (:func:`~airflow_provider_lakeops.utils.storage.write_text`: S3 through ``S3Hook``, local atomically)."""
    text = json.dumps(document, indent=2, sort_keys=True, default=str)
    write_text(target, text, aws_conn_id=aws_conn_id)
    return target


def lineage_inputs(datasets: Sequence[Any], outcome: ValidationOutcome) -> list[Any]:
    """OpenLineage input datasets carrying the assertions and metrics facets (imports the client lazily)."""
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa
    from openlineage.client.facet_v2 import data_quality_metrics_input_dataset as dqm

    assertions = [
        dqa.Assertion(
            assertion=e.type,
            success=e.status == "passed",
            column=e.column,
            severity=e.severity,
            name=e.name[:_MAX_NAME_CHARS],
            actual=(
                f"{int(e.metrics['unexpected_count'])} unexpected"
                if "unexpected_count" in e.metrics
                else None
            ),
        )
        for e in outcome.expectations
    ]
    metrics = dqm.DataQualityMetricsInputDatasetFacet(
        columnMetrics={
            col: dqm.ColumnMetrics(
                nullCount=values.get("nullCount"),
                distinctCount=values.get("distinctCount"),
                count=float(values["count"]) if "count" in values else None,
            )
            for col, values in outcome.column_metrics().items()
        },
        rowCount=outcome.row_count(),
        bytes=outcome.bytes,
        fileCount=outcome.files,
    )
    facets = {
        "dataQualityAssertions": dqa.DataQualityAssertionsDatasetFacet(assertions=assertions),
        "dataQualityMetrics": metrics,
    }
    return [InputDataset(namespace=d.namespace, name=d.name, inputFacets=dict(facets)) for d in datasets]
