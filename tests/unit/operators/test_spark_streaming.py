"""KafkaStreamingSubmitOperator without Spark: validation, Kafka options, the spark-submit command,
the checkpoint guard and lineage. The end-to-end runs are in tests/integration/test_streaming_submit.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from airflow_provider_lakeops.exceptions import StreamingJobError
from airflow_provider_lakeops.operators import spark_streaming as mod
from airflow_provider_lakeops.operators.spark_streaming import KafkaStreamingSubmitOperator
from airflow_provider_lakeops.spark_apps import app_path, apps_dir, streaming_options

KAFKA_EXTRA = {
    "bootstrap.servers": "broker-1:9093,broker-2:9093",
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "lakeops",
    "sasl.password": "s3cr3t-Pa55",
    "ssl.ca.location": "/etc/kafka/ca.pem",
    "group.id": "airflow-consumers",
}


@pytest.fixture
def kafka_conn(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_TEST", json.dumps({"conn_type": "kafka", "extra": KAFKA_EXTRA}))
    return "kafka_test"


@pytest.fixture
def opts():
    return streaming_options


def kafka_jars(folder: Path, version: str = "4.0.1") -> list[str]:
    """Empty files named like the jars ``make jvm-deps`` copies (only the names are read)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [
        f"spark-sql-kafka-0-10_2.13-{version}.jar",
        f"spark-token-provider-kafka-0-10_2.13-{version}.jar",
        "kafka-clients-3.9.2.jar",
        "commons-pool2-2.13.1.jar",
    ]
    for name in names:
        (folder / name).touch()
    return [str(folder / n) for n in names]


def kafka_op(tmp_path: Path, **kw) -> KafkaStreamingSubmitOperator:
    values = {
        "task_id": "land",
        "source": "kafka",
        "topics": "shop.customer_events,shop.orders",
        "kafka_conn_id": "kafka_test",
        "bronze_path": str(tmp_path / "bronze"),
        "checkpoint_path": str(tmp_path / "checkpoint"),
        "spark_conn_id": "no_such_spark_conn",
        "spark_version": "4.0.1",
        "jars": kafka_jars(tmp_path / "jars"),
    }
    values.update(kw)
    return KafkaStreamingSubmitOperator(**values)


def file_op(tmp_path: Path, **kw) -> KafkaStreamingSubmitOperator:
    values = {
        "task_id": "land",
        "source": "file",
        "landing_path": str(tmp_path / "landing"),
        "bronze_path": str(tmp_path / "bronze"),
        "checkpoint_path": str(tmp_path / "checkpoint"),
        "spark_conn_id": "no_such_spark_conn",
    }
    values.update(kw)
    return KafkaStreamingSubmitOperator(**values)


# ------------------------------------------------------------------------- construction
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"source": "kinesis"}, "source must be", id="unknown-source"),
        pytest.param({"source": "kafka", "topics": None}, "topics is required", id="kafka-without-topics"),
        pytest.param(
            {"source": "file", "landing_path": None}, "landing_path is required", id="file-without-landing"
        ),
        pytest.param(
            {"submit_kwargs": {"packages": "x:y:1"}}, "submit_kwargs cannot set", id="reserved-kwarg"
        ),
        pytest.param({"submit_kwargs": {"jars": "/a.jar"}}, "submit_kwargs cannot set", id="reserved-jars"),
        pytest.param({"kafka_package": ""}, "either jars .* or kafka_package", id="jars-and-package"),
    ],
)
def test_constructor_rejects_static_mistakes(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        kafka_op(tmp_path, **kwargs)


# ----------------------------------------------------------------------- app location
def test_the_app_and_its_options_come_from_the_package():
    assert app_path(mod.APP_FILE) == apps_dir() / mod.APP_FILE
    with pytest.warns(DeprecationWarning, match="apps_dir"):
        assert mod.find_spark_apps_dir() == apps_dir()
    with pytest.warns(DeprecationWarning, match="streaming_options"):
        assert mod.load_streaming_options() is streaming_options


# ----------------------------------------------------------- templated-value validation
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"bronze_path": "relative/bronze"}, "bronze_path must be an absolute path", id="relative"
        ),
        pytest.param(
            {"checkpoint_path": "hdfs://nn/ckpt"}, "checkpoint_path must be", id="unsupported-scheme"
        ),
        pytest.param({"trigger": "once"}, "trigger must be one of", id="bad-trigger"),
        pytest.param({"trigger": "processingTime"}, "processing_time must be an interval", id="no-interval"),
        pytest.param(
            {"trigger": "processingTime", "processing_time": "soon"}, "processing_time", id="bad-interval"
        ),
        pytest.param({"max_files_per_trigger": "ten"}, "max_files_per_trigger must be a positive", id="nan"),
        pytest.param({"max_files_per_trigger": 0}, "max_files_per_trigger must be a positive", id="zero"),
        pytest.param({"landing_path": ""}, "landing_path rendered empty", id="empty-landing"),
        pytest.param({"schema_path": "/nonexistent/schema.json"}, "does not exist", id="missing-schema"),
        pytest.param({"quarantine_path": "{bronze}/q"}, "overlap", id="quarantine-inside-bronze"),
    ],
)
def test_bad_rendered_values_fail_before_anything_is_written(tmp_path, kwargs, message):
    if kwargs.get("quarantine_path"):
        kwargs["quarantine_path"] = kwargs["quarantine_path"].format(bronze=tmp_path / "bronze")
    op = file_op(tmp_path)
    for name, value in kwargs.items():  # as the templates rendered them
        setattr(op, name, value)
    with pytest.raises(ValueError, match=message):
        op.execute({})
    assert not (tmp_path / "checkpoint").exists()
    assert not (tmp_path / "bronze").exists()


def test_bad_schema_file_is_refused_with_the_field_to_fix(tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"fields": [{"name": "id", "type": "uuid", "required": True}]}))
    with pytest.raises(ValueError, match="field 'id' has type 'uuid'"):
        file_op(tmp_path, schema_path=str(schema)).execute({})


def test_starting_offsets_must_name_subscribed_topics(tmp_path, kafka_conn):
    op = kafka_op(tmp_path, starting_offsets=json.dumps({"other.topic": {"0": 5}}))
    with pytest.raises(ValueError, match="not subscribed"):
        op.execute({})


def test_secret_kafka_options_belong_in_the_connection(tmp_path, kafka_conn, opts):
    op = kafka_op(tmp_path, kafka_options={"kafka.ssl.keystore.password": "x"})
    with pytest.raises(ValueError, match="looks secret"):
        op.kafka_client_options(opts)
    with pytest.raises(ValueError, match="must start with 'kafka.'"):
        kafka_op(tmp_path, kafka_options={"subscribe": "x"}).kafka_client_options(opts)
    with pytest.raises(ValueError, match="with isolation_level"):
        kafka_op(tmp_path, kafka_options={"kafka.isolation.level": "read_uncommitted"}).kafka_client_options(
            opts
        )


def test_kafka_connection_without_bootstrap_servers(tmp_path, monkeypatch, opts):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KAFKA_EMPTY", json.dumps({"conn_type": "kafka", "extra": {"group.id": "g"}})
    )
    with pytest.raises(ValueError, match="bootstrap.servers"):
        kafka_op(tmp_path, kafka_conn_id="kafka_empty").kafka_client_options(opts)


# ------------------------------------------------------------------------ Kafka options
def test_kafka_options_come_from_the_kafka_connection(tmp_path, kafka_conn, opts, capsys):
    op = kafka_op(
        tmp_path,
        kafka_options={"kafka.client.rack": "use1-az1"},
        max_offsets_per_trigger="5000",
        starting_offsets="latest",
        fail_on_data_loss=False,
    )
    client = op.kafka_client_options(opts)
    assert client == {
        "kafka.bootstrap.servers": "broker-1:9093,broker-2:9093",
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": "SCRAM-SHA-512",
        "kafka.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="lakeops" password="s3cr3t-Pa55";',
        "kafka.ssl.truststore.type": "PEM",
        "kafka.ssl.truststore.location": "/etc/kafka/ca.pem",
        "kafka.client.rack": "use1-az1",
    }  # group.id left out: Spark names its own consumer group
    config = op.build_config(opts, apps_dir())
    source = opts.kafka_source_options(
        client_options=client,
        topics=config.topics,
        starting_offsets=config.starting_offsets,
        max_offsets_per_trigger=config.max_offsets_per_trigger,
        fail_on_data_loss=config.fail_on_data_loss,
        isolation_level=config.isolation_level,
    )
    assert {
        k: source[k]
        for k in (
            "subscribe",
            "startingOffsets",
            "maxOffsetsPerTrigger",
            "failOnDataLoss",
            "kafka.isolation.level",
        )
    } == {
        "subscribe": "shop.customer_events,shop.orders",
        "startingOffsets": "latest",
        "maxOffsetsPerTrigger": "5000",
        "failOnDataLoss": "false",
        "kafka.isolation.level": "read_committed",
    }
    op.log_source_options(opts, config, client)
    out = capsys.readouterr().out
    assert "'kafka.sasl.jaas.config': '***'" in out
    assert "'subscribe': 'shop.customer_events,shop.orders'" in out
    assert "s3cr3t-Pa55" not in out
    from airflow.sdk.log import _secrets_masker

    masked = _secrets_masker().redact(f"jaas {client['kafka.sasl.jaas.config']} pwd s3cr3t-Pa55")
    assert "s3cr3t-Pa55" not in masked  # the task's log masker knows the secrets


def test_spark_submit_command_passes_the_kafka_jars_and_ships_the_app_files(
    tmp_path, kafka_conn, opts, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_TEST", json.dumps({"conn_type": "spark", "host": "local[2]"}))
    op = kafka_op(
        tmp_path,
        spark_conn_id="spark_test",
        isolation_level="read_uncommitted",
        conf={"spark.sql.shuffle.partitions": "4", "spark.jars": "/opt/extra/udfs.jar"},
    )
    client = op.kafka_client_options(opts)
    config = op.build_config(opts, apps_dir(), "/ckpt/_lakeops/reports/r.json")
    config.kafka_options_file = "/tmp/x/kafka-options.json"
    jars, packages = op.kafka_source_jars(opts)
    assert (jars, packages) == (op.jars, None)
    hook = op._make_hook(
        {}, config, jars, packages, f"{config.schema_file},/tmp/x/kafka-options.json", "/tmp/x/a.zip"
    )
    cmd = hook._build_spark_submit_command(str(apps_dir() / mod.APP_FILE))
    text = " ".join(cmd)
    assert "--packages" not in cmd  # never Ivy at run time
    assert f"spark.jars={','.join(['/opt/extra/udfs.jar', *jars])}" in cmd
    assert cmd[cmd.index("--py-files") + 1] == "/tmp/x/a.zip"
    assert cmd[cmd.index("--files") + 1].endswith("customer_event.json,/tmp/x/kafka-options.json")
    assert cmd[cmd.index("--topics") + 1] == "shop.customer_events,shop.orders"
    assert cmd[cmd.index("--isolation-level") + 1] == "read_uncommitted"
    assert "spark.sql.shuffle.partitions=4" in text
    for secret in ("s3cr3t-Pa55", 'lakeops"', "broker-1"):
        assert secret not in text  # Kafka settings travel in the private options file
    assert client["kafka.bootstrap.servers"] == "broker-1:9093,broker-2:9093"

    assert file_op(tmp_path).kafka_source_jars(opts) == ([], None)  # the file source needs no jars
    assert kafka_op(tmp_path, jars=None, kafka_package="").kafka_source_jars(opts) == ([], None)
    coordinate = "org.apache.spark:spark-sql-kafka-0-10_2.13:4.0.1"
    assert kafka_op(tmp_path, jars=None, kafka_package=coordinate).kafka_source_jars(opts) == ([], coordinate)


def test_kafka_jars_default_to_the_environment(tmp_path, opts, monkeypatch):
    from importlib.metadata import version

    jars = kafka_jars(tmp_path / "env-jars", version("pyspark"))
    monkeypatch.setenv(mod.KAFKA_JARS_ENV, ",".join(jars))
    assert kafka_op(tmp_path, jars=None, spark_version=None).kafka_source_jars(opts) == (jars, None)
    monkeypatch.delenv(mod.KAFKA_JARS_ENV)
    with pytest.raises(ValueError, match="needs the jars of Spark's Kafka source.*LAKEOPS_SPARK_KAFKA_JARS"):
        kafka_op(tmp_path, jars=None).kafka_source_jars(opts)


@pytest.mark.parametrize(
    ("jar_version", "spark_version", "message"),
    [
        pytest.param(
            "3.5.1",
            None,
            r"spark-sql-kafka-0-10_2\.13-3\.5\.1\.jar is built for Spark 3\.5\.1, but the "
            r"installed pyspark is {pyspark}.*pyspark==3\.5\.1",
            id="other-pyspark",
        ),
        pytest.param(
            "4.2.0", "4.1.1", r"built for Spark 4\.2\.0, but spark_version is 4\.1\.1", id="other-cluster"
        ),
    ],
)
def test_kafka_jars_of_another_spark_are_refused_before_submit(
    tmp_path, kafka_conn, opts, jar_version, spark_version, message
):
    from importlib.metadata import version

    op = kafka_op(
        tmp_path, jars=",".join(kafka_jars(tmp_path / "other", jar_version)), spark_version=spark_version
    )
    with pytest.raises(ValueError, match=message.format(pyspark=re.escape(version("pyspark")))):
        op.execute({})
    assert not (tmp_path / "checkpoint").exists()


def test_missing_jar_files_are_named(tmp_path, kafka_conn, opts):
    op = kafka_op(tmp_path, jars=[str(tmp_path / "nowhere" / "spark-sql-kafka-0-10_2.13-4.0.1.jar")])
    with pytest.raises(ValueError, match="nowhere/spark-sql-kafka-0-10_2.13-4.0.1.jar do not exist"):
        op.kafka_source_jars(opts)


# ------------------------------------------------------------------------ checkpoint guard
def write_fingerprint(opts, tmp_path: Path, topics: tuple[str, ...]) -> None:
    config = opts.StreamConfig(
        source="kafka",
        topics=topics,
        kafka_options_file="k.json",
        bronze_path=str(tmp_path / "bronze"),
        checkpoint_path=str(tmp_path / "checkpoint"),
        schema_file=str(apps_dir() / mod.DEFAULT_SCHEMA),
    )
    path = Path(config.fingerprint_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(config.fingerprint()))  # as the app records it


def test_checkpoint_of_another_topic_is_refused_before_submit(tmp_path, kafka_conn, opts):
    write_fingerprint(opts, tmp_path, ("shop.customer_events",))
    op = kafka_op(tmp_path, topics=["shop.refunds"])
    with pytest.raises(StreamingJobError, match="belongs to another query .*topics") as info:
        op.execute({})  # the Spark connection does not exist: reaching the submit would fail otherwise
    assert "shop.refunds" in str(info.value)
    assert not (tmp_path / "bronze").exists()


def test_checkpoint_of_the_same_query_is_accepted(tmp_path, kafka_conn, opts):
    write_fingerprint(opts, tmp_path, ("shop.orders", "shop.customer_events"))
    op = kafka_op(tmp_path)  # same topics, other order
    config = op.build_config(opts, apps_dir())
    op.check_checkpoint(opts, config)
    moved = kafka_op(tmp_path, bronze_path=str(tmp_path / "bronze2"))
    with pytest.raises(StreamingJobError, match="bronze_path"):
        moved.check_checkpoint(opts, moved.build_config(opts, apps_dir()))


# ---------------------------------------------------------------------------- lineage
def test_lineage_reads_kafka_topics_into_bronze(tmp_path, kafka_conn, opts):
    op = kafka_op(tmp_path)
    op.kafka_client_options(opts)
    op.build_config(opts, apps_dir())
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("kafka://broker-1:9093", "shop.customer_events"),
        ("kafka://broker-1:9093", "shop.orders"),
    ]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("file", str(tmp_path / "bronze")),
        ("file", str(tmp_path / "bronze_quarantine")),
    ]
    fields = [f.name for f in lineage.outputs[0].facets["schema"].fields]
    assert fields[:2] == ["event_id", "customer_id"]
    assert "op" in fields


def test_file_source_lineage_reads_the_landing_folder(tmp_path):
    lineage = file_op(tmp_path).get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("file", str(tmp_path / "landing"))]


# ------------------------------------------------------------------ table format and the lake
def test_table_format_is_templated_and_validated_before_anything_runs(tmp_path, opts):
    assert {"table_format", "lake_jars"} <= set(KafkaStreamingSubmitOperator.template_fields)
    with pytest.raises(ValueError, match="table_format must be one of parquet, delta, got 'iceberg'"):
        file_op(tmp_path, table_format="iceberg").execute({})
    config = file_op(tmp_path, table_format="DELTA").build_config(opts, apps_dir())
    assert config.table_format == "delta"
    args = config.to_args()
    assert args[args.index("--table-format") + 1] == "delta"
    assert opts.StreamConfig.from_args(args).table_format == "delta"


def test_the_table_format_is_part_of_the_query_and_old_checkpoints_are_parquet(tmp_path, opts):
    parquet = file_op(tmp_path).build_config(opts, apps_dir()).fingerprint()
    delta = file_op(tmp_path, table_format="delta").build_config(opts, apps_dir()).fingerprint()
    assert opts.fingerprint_mismatches(parquet, delta) == ["table_format"]
    old = {k: v for k, v in parquet.items() if k != "table_format"}  # written before table_format existed
    assert opts.fingerprint_mismatches(old, parquet) == []
    assert opts.fingerprint_mismatches(old, delta) == ["table_format"]


@pytest.mark.parametrize(
    ("table_format", "content", "message"),
    [
        pytest.param(
            "delta", "ingest_date=2025-12-04/part-0.parquet", "holds plain Parquet", id="delta-over-parquet"
        ),
        pytest.param(
            "parquet", "_delta_log/00000000000000000000.json", "is a Delta table", id="parquet-over-delta"
        ),
    ],
)
def test_a_bronze_path_of_the_other_format_is_refused_before_submit(tmp_path, table_format, content, message):
    target = tmp_path / "bronze" / content
    target.parent.mkdir(parents=True)
    target.write_text("x")
    with pytest.raises(StreamingJobError, match=message):
        file_op(tmp_path, table_format=table_format, lake_jars="").execute({})  # no Spark connection either
    assert target.read_text() == "x"
    assert not (tmp_path / "checkpoint").exists()


def test_a_new_or_matching_bronze_is_accepted(tmp_path, opts):
    op = file_op(tmp_path, table_format="delta")
    op.check_bronze_format(op.build_config(opts, apps_dir()))  # nothing there yet
    (tmp_path / "bronze" / "_delta_log").mkdir(parents=True)
    op.check_bronze_format(op.build_config(opts, apps_dir()))


def test_s3_paths_get_the_lake_settings_jars_merged_and_credentials_only_in_the_env(
    tmp_path, kafka_conn, opts, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_TEST", json.dumps({"conn_type": "spark", "host": "local[2]"}))
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKE_TEST",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "AKIALAKEOPSTEST",
                "password": "lake-Secret-42",
                "extra": {"endpoint_url": "http://127.0.0.1:5999", "region_name": "eu-west-1"},
            }
        ),
    )
    lake = ["/opt/lake/hadoop-aws.jar", "/opt/lake/delta-spark.jar"]
    op = kafka_op(
        tmp_path,
        spark_conn_id="spark_test",
        bronze_path="s3://lake/bronze/events",
        checkpoint_path="s3://lake/_checkpoints/events",
        table_format="delta",
        aws_conn_id="lake_test",
        lake_jars=lake,
        conf={"spark.jars": "/opt/extra/udfs.jar", "spark.hadoop.fs.s3a.endpoint.region": "eu-central-1"},
    )
    config = op.build_config(opts, apps_dir(), "s3://lake/_checkpoints/events/_lakeops/reports/r.json")
    jars, packages = op.kafka_source_jars(opts)
    op._lake = op.lake_settings(config)
    assert op._lake.env == {"AWS_ACCESS_KEY_ID": "AKIALAKEOPSTEST", "AWS_SECRET_ACCESS_KEY": "lake-Secret-42"}
    hook = op._make_hook({}, config, jars, packages, config.schema_file, "/tmp/x/a.zip")
    cmd = hook._build_spark_submit_command(str(apps_dir() / mod.APP_FILE))
    text = " ".join(cmd)
    assert f"spark.jars={','.join(['/opt/extra/udfs.jar', *jars, *lake])}" in cmd
    assert "spark.hadoop.fs.s3a.endpoint=http://127.0.0.1:5999" in cmd
    assert "spark.hadoop.fs.s3a.endpoint.region=eu-central-1" in cmd  # the user's conf wins
    assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in cmd
    assert cmd[cmd.index("--table-format") + 1] == "delta"
    for secret in ("AKIALAKEOPSTEST", "lake-Secret-42"):
        assert secret not in text


def test_s3_or_delta_without_lake_jars_is_refused_before_submit(tmp_path, monkeypatch):
    monkeypatch.delenv("LAKEOPS_SPARK_LAKE_JARS", raising=False)
    with pytest.raises(ValueError, match="LAKEOPS_SPARK_LAKE_JARS"):
        file_op(tmp_path, table_format="delta", aws_conn_id=None).execute({})
    assert not (tmp_path / "checkpoint").exists()


def test_lineage_names_the_delta_bronze_by_its_root(tmp_path):
    op = file_op(tmp_path, bronze_path="s3://lake/bronze/events/", table_format="delta")
    lineage = op.get_openlineage_facets_on_complete(None)
    assert (lineage.outputs[0].namespace, lineage.outputs[0].name) == ("s3://lake", "bronze/events")
