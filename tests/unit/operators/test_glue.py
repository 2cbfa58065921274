"""GlueRegisterTableOperator: constructor checks, templating, argument validation before any AWS call
(the spec and botocore retry configuration: ``_glue/test_spec.py``). The AWS behaviour is tested on moto in
``tests/integration/test_glue_register.py``."""

from __future__ import annotations

import pytest

from airflow_provider_lakeops.operators.glue import GlueRegisterTableOperator

BASE = {
    "database": "lakeops",
    "table": "customer_behavior",
    "location": "s3://lakeops-lake/silver/customer_behavior/",
}


def _op(**kwargs):
    return GlueRegisterTableOperator(task_id="register", **{**BASE, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"evolution_policy": "merge"}, "evolution_policy must be one of"),
        ({"partition_mode": "msck"}, "partition_mode must be one of"),
        ({"max_schema_files": 0}, "max_schema_files"),
        ({"csv_delimiter": "||"}, "csv_delimiter"),
        ({"columns": {"id": "bigint"}, "type_overrides": {"id": "string"}}, "type_overrides applies"),
        ({"projection": {"dt": {"type": "date"}}}, "partition_mode='projection'"),
    ],
    ids=["policy", "partition-mode", "max-files", "delimiter", "overrides-with-columns", "projection-mode"],
)
def test_constructor_rejects_static_mistakes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _op(**kwargs)


def test_constructor_only_assigns():
    op = _op(source_path="/lake/silver", table_parameters={"layer": "silver"})
    assert "hook" not in op.__dict__
    assert "glue" not in op.__dict__
    assert op.aws_conn_id == "aws_default"
    assert op.evolution_policy == "additive"
    assert op.partition_mode == "register"


def test_template_fields():
    assert set(GlueRegisterTableOperator.template_fields) == {
        "database",
        "table",
        "location",
        "table_format",
        "file_format",
        "columns",
        "type_overrides",
        "partition_keys",
        "projection",
        "description",
        "table_parameters",
        "source_path",
        "aws_account_id",
    }


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"database": "Lake-Ops"}, ValueError, "database name 'Lake-Ops'"),
        ({"table": "customer behavior"}, ValueError, "table name"),
        ({"table": "t" * 256}, ValueError, "at most 255"),
        ({"location": ""}, ValueError, "location is empty"),
        ({"location": "hdfs://nn/x"}, ValueError, "not supported"),
        ({"file_format": "orc"}, ValueError, "file_format 'orc' is not supported"),
        ({"columns": []}, ValueError, "columns is empty"),
        ({"columns": {"id": "bigint", "amount": "money"}}, ValueError, "invalid Glue column type 'money'"),
        ({"partition_keys": "dt"}, ValueError, "partition_keys must be a list"),
        (
            {"columns": {"id": "bigint", "dt": "string"}, "partition_keys": ["dt"]},
            ValueError,
            "both columns and",
        ),
        ({"type_overrides": {"Bad-Name": "string"}}, ValueError, "type_overrides column"),
        ({"table_parameters": {"k": {"nested": 1}}}, ValueError, "scalar values"),
        ({"description": "x" * 3000}, ValueError, "at most 2048"),
        ({"source_path": "/tmp/silver", "location": "/tmp/target"}, ValueError, "source_path stages"),
        ({"source_path": "s3://lakeops-lake/x"}, ValueError, "source_path stages"),
        ({"table_format": "hudi"}, ValueError, "table_format must be one of delta, iceberg, hive"),
        ({"table_format": "delta", "columns": {"id": "bigint"}}, ValueError, "Delta table: .* columns"),
        ({"table_format": "delta", "partition_keys": ["dt"]}, ValueError, "cannot be used"),
        ({"table_format": "iceberg", "type_overrides": {"id": "string"}}, ValueError, "Iceberg metadata"),
        (
            {"table_format": "delta", "source_path": "/tmp/x", "location": "s3://lakeops-lake/x/"},
            ValueError,
            "source_path",
        ),
        (
            {"table_format": "delta", "partition_mode": "projection"},
            ValueError,
            "partition_mode='projection'",
        ),
    ],
    ids=[
        "db-name",
        "table-space",
        "table-long",
        "empty-location",
        "scheme",
        "format",
        "empty-columns",
        "bad-type",
        "keys-string",
        "key-clash",
        "override-name",
        "param-nested",
        "description",
        "local-target",
        "s3-source",
        "table-format",
        "delta-columns",
        "delta-keys",
        "iceberg-overrides",
        "delta-staging",
        "delta-projection",
    ],
)
def test_bad_arguments_fail_before_any_aws_call(kwargs, error, message):
    op = _op(**kwargs)
    with pytest.raises(error, match=message):
        op.execute(context={})
    assert "hook" not in op.__dict__, "no AWS client may be built for a bad argument"
