"""The registration spec of GlueRegisterTableOperator (_glue/spec.py): normalised arguments, botocore
retries."""

from __future__ import annotations

from botocore.config import Config

from airflow_provider_lakeops.operators._glue.spec import retry_config, validate_spec


def test_validate_spec_normalises():
    spec = validate_spec(
        database="lakeops",
        table="t",
        location="s3a://lakeops-lake/silver/t",
        file_format=" JSONL ",
        partition_keys=["dt", {"name": "hour", "type": "int"}],
        table_parameters={"flag": True, "n": 3},
        projection={"DT": {"type": "date"}},
    )
    assert spec.fmt == "json"
    assert spec.location.uri == "s3://lakeops-lake/silver/t/"
    assert [(k.name, k.type) for k in spec.partition_keys] == [("dt", "string"), ("hour", "int")]
    assert spec.parameters == {"flag": "true", "n": "3"}
    assert spec.projection == {"dt": {"type": "date"}}
    assert spec.name == "lakeops.t"


def test_retry_config_defaults_to_standard_mode():
    config = retry_config(None, None)
    assert config.retries == {"max_attempts": 5, "mode": "standard"}


def test_retry_config_keeps_the_connection_settings():
    from_connection = Config(connect_timeout=7, retries={"mode": "adaptive", "max_attempts": 9})
    config = retry_config(from_connection, {"read_timeout": 30})
    assert config.retries == {"mode": "adaptive", "max_attempts": 9}
    assert (config.connect_timeout, config.read_timeout) == (7, 30)
    assert retry_config(Config(retries={"max_attempts": 2}), None).retries == {
        "max_attempts": 2,
        "mode": "standard",
    }
