"""Where GXValidateOperator publishes (_gx/publish.py): result targets and the OpenLineage input facets."""

from __future__ import annotations

import json

from airflow_provider_lakeops.operators._gx.publish import lineage_inputs, result_target
from tests.unit.operators._gx.test_results import _outcome


def test_result_target():
    assert result_target("s3://b/dq/", "s") == "s3://b/dq/s.json"
    assert result_target("s3a://b/dq/x.json", "s") == "s3://b/dq/x.json"
    assert result_target("/r", "s") == "/r/s.json"
    assert result_target("file:///r/out.json", "s") == "/r/out.json"


# ------------------------------------------------------------------ lineage
def test_lineage_inputs_carry_assertions_and_metrics():
    from openlineage.client.serde import Serde

    from airflow_provider_lakeops.lineage.naming import file_dataset

    outcome = _outcome(3, failing=1)
    outcome.expectations[2].type = "expect_column_unique_value_count_to_be_between"
    outcome.expectations[2].observed = 42
    outcome.files, outcome.bytes = 2, 1234
    [dataset] = lineage_inputs([file_dataset("/lake/landing")], outcome)
    event = json.loads(Serde.to_json(dataset))
    assertions = event["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [(a["column"], a["success"], a["severity"]) for a in assertions] == [
        ("col_1", False, "error"),
        ("col_2", True, "warn"),
        ("col_3", True, "error"),
    ]
    metrics = event["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == 1_000_000
    assert metrics["fileCount"] == 2
    assert metrics["bytes"] == 1234
    assert metrics["columnMetrics"]["col_1"] == {"nullCount": 10, "count": 999_990.0, "quantiles": {}}
    assert metrics["columnMetrics"]["col_3"]["distinctCount"] == 42
    assert (event["namespace"], event["name"]) == ("file", "/lake/landing")
