"""streaming_options: the pure-Python settings shared by the streaming app and its operator (no Spark)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_lakeops.spark_apps import streaming_options as so

SCHEMA = Path(so.__file__).parent / "schemas" / "customer_event.json"


def kafka_config(tmp_path: Path, **kw) -> so.StreamConfig:
    values = {
        "source": "kafka",
        "topics": "a.b,c",
        "kafka_options_file": "k.json",
        "bronze_path": str(tmp_path / "bronze"),
        "checkpoint_path": str(tmp_path / "ckpt"),
        "schema_file": str(SCHEMA),
    }
    values.update(kw)
    return so.StreamConfig(**values)


# ------------------------------------------------------------------------------ schema
def test_bundled_schema_describes_the_generated_events():
    from airflow_provider_lakeops.sample_data import COLUMNS

    spec = so.load_schema_spec(SCHEMA)
    assert spec.names == list(COLUMNS)
    assert spec.key == ("customer_id", "event_id")
    assert set(spec.required) == {"event_id", "customer_id", "event_type", "event_ts", "updated_at"}
    assert {f.name: f.spark_type for f in spec.fields}["customer_id"] == "bigint"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        pytest.param([], "must be a JSON object", id="not-an-object"),
        pytest.param({"fields": []}, "non-empty list", id="no-fields"),
        pytest.param(
            {"fields": [{"name": "1x", "type": "string"}]}, "not a valid column name", id="bad-name"
        ),
        pytest.param({"fields": [{"name": "op", "type": "string"}]}, "collides", id="reserved"),
        pytest.param(
            {"fields": [{"name": "a", "type": "string"}, {"name": "A", "type": "long"}]},
            "twice",
            id="duplicate",
        ),
        pytest.param({"fields": [{"name": "a", "type": "varchar"}]}, "has type 'varchar'", id="bad-type"),
        pytest.param(
            {"fields": [{"name": "a", "type": "long", "required": "yes"}]}, "true or false", id="bad-required"
        ),
        pytest.param(
            {"fields": [{"name": "a", "type": "long"}], "key": ["b"]},
            "not among the fields",
            id="unknown-key",
        ),
        pytest.param(
            {"fields": [{"name": "a", "type": "long"}], "key": ["a"]}, "must be required", id="optional-key"
        ),
    ],
)
def test_bad_schema_documents_are_refused(doc, message):
    with pytest.raises(ValueError, match=message):
        so.SchemaSpec.from_dict(doc)


def test_schema_file_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        so.load_schema_spec(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match="broken.json.*not valid JSON"):
        so.load_schema_spec(broken)


# ------------------------------------------------------------------------------ config
def test_command_line_round_trip(tmp_path):
    config = kafka_config(
        tmp_path,
        max_offsets_per_trigger=1000,
        fail_on_data_loss=False,
        debezium=True,
        trigger="processingTime",
        processing_time="30 seconds",
        stop_after_seconds=90.0,
        starting_offsets=json.dumps({"c": {"0": 12}}),
        report_path="/r.json",
    )
    parsed = so.StreamConfig.from_args(config.validate().to_args())
    assert parsed == config
    assert parsed.quarantine_path == str(tmp_path / "bronze") + "_quarantine"
    assert "k.json" in config.to_args()
    assert not any("bootstrap" in a for a in config.to_args())  # Kafka settings travel in the file


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"source": "pulsar"}, "source must be one of", id="source"),
        pytest.param({"topics": ""}, "topics is required", id="no-topics"),
        pytest.param({"topics": "bad topic!"}, "not a valid Kafka topic", id="bad-topic"),
        pytest.param({"kafka_options_file": None}, "kafka_options_file is required", id="no-options"),
        pytest.param({"starting_offsets": "yesterday"}, "starting_offsets must be", id="offsets-word"),
        pytest.param({"starting_offsets": '{"a.b": 5}'}, "partition", id="offsets-shape"),
        pytest.param({"max_offsets_per_trigger": 0}, "positive integer", id="zero-limit"),
        pytest.param({"landing_path": "/x"}, "file source only", id="landing-for-kafka"),
        pytest.param({"trigger": "continuous"}, "trigger must be one of", id="trigger"),
        pytest.param(
            {"processing_time": "1 minute"}, "only apply to trigger='processingTime'", id="interval"
        ),
        pytest.param(
            {"trigger": "processingTime", "processing_time": "1 minute", "stop_after_seconds": 0},
            "stop_after_seconds must be > 0",
            id="stop-after",
        ),
        pytest.param({"checkpoint_path": "{bronze}/_checkpoint"}, "overlap", id="checkpoint-in-bronze"),
        pytest.param({"quarantine_path": "{bronze}"}, "overlap", id="quarantine-is-bronze"),
    ],
)
def test_invalid_configs_say_what_to_fix(tmp_path, kwargs, message):
    for name, value in kwargs.items():
        if isinstance(value, str) and "{bronze}" in value:
            kwargs[name] = value.format(bronze=tmp_path / "bronze")
    with pytest.raises(ValueError, match=message):
        kafka_config(tmp_path, **kwargs).validate()


def test_file_source_config(tmp_path):
    config = so.StreamConfig(
        source="file",
        landing_path=str(tmp_path / "landing"),
        max_files_per_trigger=3,
        bronze_path=str(tmp_path / "bronze"),
        checkpoint_path=str(tmp_path / "ckpt"),
        schema_file=str(SCHEMA),
    ).validate()
    assert config.to_args()[config.to_args().index("--max-files-per-trigger") + 1] == "3"
    with pytest.raises(ValueError, match="Kafka source only"):
        so.StreamConfig(
            source="file",
            landing_path="/l",
            topics="t",
            bronze_path="/b",
            checkpoint_path="/c",
            schema_file=str(SCHEMA),
        ).validate()


# ------------------------------------------------------------------------------ Kafka
def test_kafka_source_options_are_complete():
    options = so.kafka_source_options(
        client_options={"kafka.bootstrap.servers": "b:9092", "kafka.security.protocol": "SSL"},
        topics=["shop.a", "shop.b"],
        starting_offsets="earliest",
        max_offsets_per_trigger=250,
        fail_on_data_loss=True,
    )
    assert options == {
        "kafka.bootstrap.servers": "b:9092",
        "kafka.security.protocol": "SSL",
        "subscribe": "shop.a,shop.b",
        "startingOffsets": "earliest",
        "failOnDataLoss": "true",
        "maxOffsetsPerTrigger": "250",
        "kafka.isolation.level": "read_committed",
    }
    # the configured isolation level wins over a connection's
    assert (
        so.kafka_source_options(
            client_options={"kafka.bootstrap.servers": "b", "kafka.isolation.level": "x"},
            topics=["t"],
            isolation_level="read_uncommitted",
        )["kafka.isolation.level"]
        == "read_uncommitted"
    )
    with pytest.raises(ValueError, match="isolation_level must be one of"):
        so.kafka_source_options(
            client_options={"kafka.bootstrap.servers": "b"}, topics=["t"], isolation_level="all"
        )
    with pytest.raises(ValueError, match="bootstrap.servers is required"):
        so.kafka_source_options(client_options={}, topics=["t"])
    with pytest.raises(ValueError, match="must start with 'kafka.'"):
        so.kafka_source_options(
            client_options={"kafka.bootstrap.servers": "b", "subscribe": "x"}, topics=["t"]
        )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param({"bootstrap.servers": "b:9092"}, {"kafka.bootstrap.servers": "b:9092"}, id="plaintext"),
        pytest.param(
            {
                "bootstrap.servers": "b:9093",
                "security.protocol": "SASL_SSL",
                "sasl.mechanisms": "PLAIN",
                "sasl.username": 'u"1',
                "sasl.password": "p\\w",
            },
            {
                "kafka.bootstrap.servers": "b:9093",
                "kafka.security.protocol": "SASL_SSL",
                "kafka.sasl.mechanism": "PLAIN",
                "kafka.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required "
                'username="u\\"1" password="p\\\\w";',
            },
            id="sasl-plain-escaped",
        ),
        pytest.param(
            {
                "bootstrap.servers": "b",
                "kafka.sasl.jaas.config": "X required;",
                "sasl.username": "u",
                "sasl.password": "p",
                "sasl.mechanism": "OAUTHBEARER",
            },
            {
                "kafka.bootstrap.servers": "b",
                "kafka.sasl.mechanism": "OAUTHBEARER",
                "kafka.sasl.jaas.config": "X required;",
            },
            id="explicit-jaas-wins",
        ),
        pytest.param(
            {
                "bootstrap.servers": "b",
                "group.id": "g",
                "enable.auto.commit": False,
                "client.id": "c",
                "ssl.endpoint.identification.algorithm": "https",
                "kafka.ssl.truststore.password": "tp",
            },
            {
                "kafka.bootstrap.servers": "b",
                "kafka.ssl.endpoint.identification.algorithm": "https",
                "kafka.ssl.truststore.password": "tp",
            },
            id="client-only-left-out",
        ),
    ],
)
def test_kafka_connection_extra_translation(extra, expected):
    _, options, _ = so.kafka_client_options_from_connection(extra)
    assert options == expected


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param({"group.id": "g"}, "no 'bootstrap.servers'", id="no-bootstrap"),
        pytest.param({"bootstrap.servers": "b", "sasl.username": "u"}, "only one of", id="half-credentials"),
        pytest.param(
            {
                "bootstrap.servers": "b",
                "sasl.mechanism": "GSSAPI",
                "sasl.username": "u",
                "sasl.password": "p",
            },
            "cannot be translated",
            id="gssapi",
        ),
        pytest.param(
            {"bootstrap.servers": "b", "kafka.auto.offset.reset": "latest"},
            "managed by Spark",
            id="spark-managed",
        ),
    ],
)
def test_kafka_connection_extra_errors(extra, message):
    with pytest.raises(ValueError, match=message):
        so.kafka_client_options_from_connection(extra)


def test_secret_detection_and_package_coordinates():
    for key in (
        "kafka.sasl.jaas.config",
        "sasl.password",
        "kafka.ssl.keystore.password",
        "kafka.ssl.key.pem",
        "kafka.ssl.keystore.key",
    ):
        assert so.is_secret_option(key), key
    for key in ("kafka.bootstrap.servers", "kafka.ssl.truststore.location", "kafka.security.protocol"):
        assert not so.is_secret_option(key), key
    assert so.kafka_package("4.0.1") == "org.apache.spark:spark-sql-kafka-0-10_2.13:4.0.1"
    assert so.kafka_package("3.5.3", "2.12") == "org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.3"
    with pytest.raises(ValueError, match="Spark version"):
        so.kafka_package("latest")
    with pytest.raises(ValueError, match="scala_version"):
        so.kafka_package("4.0.1", "3")


def test_isolation_level_round_trips_on_the_command_line(tmp_path):
    config = kafka_config(tmp_path, isolation_level="read_uncommitted").validate()
    assert so.StreamConfig.from_args(config.to_args()).isolation_level == "read_uncommitted"
    assert so.StreamConfig.from_args(kafka_config(tmp_path).to_args()).isolation_level == "read_committed"
    with pytest.raises(ValueError, match="isolation_level must be one of"):
        kafka_config(tmp_path, isolation_level="committed").validate()


# --------------------------------------------------------------------- Spark versions
JARS_420 = [
    "/j/spark-sql-kafka-0-10_2.13-4.2.0.jar",
    "/j/spark-token-provider-kafka-0-10_2.13-4.2.0.jar",
    "/j/kafka-clients-3.9.2.jar",
    "/j/commons-pool2-2.13.1.jar",
]


def test_matching_kafka_jars_pass_and_a_patch_difference_warns():
    assert so.check_spark_kafka_jars(JARS_420, "4.2.0", "2.13") == []
    assert so.check_spark_kafka_jars(",".join(JARS_420).split(","), "4.2.0") == []
    warnings = so.check_spark_kafka_jars(JARS_420, "4.2.1", what="the installed pyspark")
    assert len(warnings) == 2
    assert "built for Spark 4.2.0 and the installed pyspark is 4.2.1" in warnings[0]
    assert (
        so.parse_jar_list(" a.jar, ,b.jar ")
        == ["a.jar", "b.jar"]
        == so.parse_jar_list(["a.jar", "", "b.jar"])
    )


@pytest.mark.parametrize(
    ("jars", "spark", "scala", "message"),
    [
        pytest.param(
            JARS_420,
            "4.1.1",
            None,
            r"spark-sql-kafka-0-10_2.13-4.2.0.jar is built for Spark 4.2.0, but the installed pyspark "
            r"is 4.1.1.*pyspark==4.2.0",
            id="other-minor",
        ),
        pytest.param(
            JARS_420,
            "3.5.3",
            None,
            r"needs Spark >=4.0,<5; the installed pyspark is 3.5.3",
            id="unsupported-spark",
        ),
        pytest.param(JARS_420, "4.2.0", "2.12", "built for Scala 2.13", id="other-scala"),
        pytest.param(JARS_420[2:], "4.2.0", None, "no spark-sql-kafka-0-10 jar", id="no-kafka-source"),
        pytest.param(JARS_420, "latest", None, "not a Spark version", id="bad-version"),
    ],
)
def test_mismatched_kafka_jars_are_refused_naming_both_versions(jars, spark, scala, message):
    with pytest.raises(ValueError, match=message):
        so.check_spark_kafka_jars(jars, spark, scala, what="the installed pyspark")


# ------------------------------------------------------------------------- fingerprint
def test_fingerprint_changes_only_with_the_query_identity(tmp_path):
    base = kafka_config(tmp_path).fingerprint()
    assert so.fingerprint_mismatches(base, kafka_config(tmp_path, topics="c,a.b").fingerprint()) == []
    assert (
        so.fingerprint_mismatches(base, kafka_config(tmp_path, max_offsets_per_trigger=9).fingerprint()) == []
    )
    assert so.fingerprint_mismatches(base, kafka_config(tmp_path, topics="a.b").fingerprint()) == ["topics"]
    assert so.fingerprint_mismatches(base, kafka_config(tmp_path, debezium=True).fingerprint()) == [
        "debezium"
    ]
    moved = kafka_config(tmp_path, bronze_path=str(tmp_path / "bronze2")).fingerprint()
    assert so.fingerprint_mismatches(base, moved) == ["bronze_path", "quarantine_path"]
    assert so.normalize_path(f"file://{tmp_path}/bronze/") == str(tmp_path / "bronze")
    assert so.normalize_path("s3a://bucket/x/") == "s3://bucket/x"
