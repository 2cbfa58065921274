"""Pure-Python settings of the Kafka -> bronze streaming app, shared by the app and the Airflow operator.

Nothing here imports pyspark or Airflow (only the standard library and the stdlib-only
``airflow_provider_lakeops.utils.redaction``, which the ``--py-files`` zip carries): the operator imports
this module (``airflow_provider_lakeops.spark_apps.streaming_options``) to validate a job before it submits
it, and the Spark app (``kafka_customer_events.py``) builds its source options from the same functions,
so what the operator checks is what Spark runs.

It holds:

* :class:`SchemaSpec` - the explicit record schema read from a JSON schema file;
* :class:`StreamConfig` - every setting of one streaming job, its validation, its command line
  (``to_args``/``from_args``) and its query fingerprint;
* :func:`kafka_source_options` / :func:`kafka_client_options_from_connection` - the options of
  Spark's Kafka source, and their translation from the Airflow Kafka provider's connection extra
  (librdkafka names) to the Java client names Spark's source needs;
* :func:`fingerprint_mismatches` - what makes a checkpoint unsafe to reuse;
* :data:`SPARK_REQUIREMENT` / :func:`check_spark_kafka_jars` - the Spark versions the app runs on,
  and whether the ``spark-sql-kafka`` jars match the Spark that will load them;
* :func:`debezium_position` - the reference (pure-Python) form of the bronze ``_source_position``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_lakeops.utils.redaction import is_secret_key

__all__ = [
    "DEBEZIUM_OPS",
    "DELETE_OP",
    "FINGERPRINT_FILE",
    "ISOLATION_LEVELS",
    "POSITION_WIDTH",
    "SPARK_REQUIREMENT",
    "TABLE_FORMATS",
    "FieldSpec",
    "SchemaSpec",
    "StreamConfig",
    "check_spark_kafka_jars",
    "check_spark_version",
    "debezium_position",
    "fingerprint_mismatches",
    "is_secret_option",
    "kafka_client_options_from_connection",
    "kafka_package",
    "kafka_source_options",
    "load_schema_spec",
    "normalize_path",
    "parse_jar_list",
]

#: Debezium's ``op`` values; ``d`` (delete) is what the Snowflake MERGE's delete handling matches.
DEBEZIUM_OPS: dict[str, str] = {"c": "create", "u": "update", "d": "delete", "r": "read (snapshot)"}
DELETE_OP = "d"
#: The query fingerprint, stored inside the checkpoint folder (Spark ignores other files there).
FINGERPRINT_FILE = "_lakeops/query.json"
REPORT_DIR = "_lakeops/reports"
#: Marker printed by the app before the one-line JSON progress report.
REPORT_MARKER = "LAKEOPS_STREAMING_REPORT "

# schema-file type -> Spark SQL type name
SCHEMA_TYPES: dict[str, str] = {
    "string": "string",
    "long": "bigint",
    "integer": "int",
    "double": "double",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "date": "date",
}
#: Columns the app adds; a schema field may not use these names.
RESERVED_COLUMNS = frozenset(
    {
        "op",
        "op_ts",
        "ingest_date",
        "batch",
        "_ingested_at",
        "_source_position",
        "_source_ts",
        "_kafka_topic",
        "_kafka_partition",
        "_kafka_offset",
        "_kafka_timestamp",
        "_source_file",
        "_source_file_ts",
        "_raw",
        "_reason",
        "_corrupt_record",
    }
)
#: Kafka consumer isolation levels; ``read_committed`` hides aborted transactions and open ones.
ISOLATION_LEVELS = ("read_committed", "read_uncommitted")

#: The Spark versions the app runs on: ``Column.try_cast`` and the ``_metadata`` column need 4.0.
SPARK_REQUIREMENT = ">=4.0,<5"
_SPARK_MIN, _SPARK_BELOW = (4, 0), (5, 0)
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)")
# spark-sql-kafka-0-10_2.13-4.2.0.jar, spark-token-provider-kafka-0-10_2.13-4.2.0.jar
_SPARK_KAFKA_JAR_RE = re.compile(
    r"^(spark-sql-kafka-0-10|spark-token-provider-kafka-0-10)_(\d+\.\d+)-(\d+\.\d+\.\d+[^/]*?)\.jar$"
)
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
_TOPIC_RE = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_INTERVAL_RE = re.compile(
    r"^\s*\d+(\.\d+)?\s*(ms|millisecond|milliseconds|s|sec|second|seconds|min|minute|minutes|h|hour|hours)\s*$",
    re.IGNORECASE,
)
TRIGGERS = ("availableNow", "processingTime")
SOURCES = ("kafka", "file")
#: Bronze table formats: Parquet folders, or a Delta table (the same as ``utils.lake.TABLE_FORMATS``,
#: repeated here because this module ships to Spark without ``utils/lake.py``).
TABLE_FORMATS = ("parquet", "delta")

# Kafka consumer settings Spark's source manages itself (setting them raises in Spark or breaks offsets)
_SPARK_MANAGED_KAFKA = frozenset(
    {
        "auto.offset.reset",
        "enable.auto.commit",
        "key.deserializer",
        "value.deserializer",
        "interceptor.classes",
    }
)
# librdkafka-only keys of the Airflow Kafka connection that have no meaning for Spark's source
_CLIENT_ONLY_KEYS = frozenset(
    {
        "group.id",
        "client.id",
        "auto.offset.reset",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "session.timeout.ms",
        "socket.timeout.ms",
        "error_cb",
        "stats_cb",
        "logger",
        "debug",
    }
)


# ----------------------------------------------------------------------------------- schema
@dataclass(frozen=True)
class FieldSpec:
    """One top-level field of the record: name, schema-file type, and whether it is required."""

    name: str
    type: str
    required: bool = False

    @property
    def spark_type(self) -> str:
        return SCHEMA_TYPES[self.type]


@dataclass(frozen=True)
class SchemaSpec:
    """The explicit schema of a record, from a JSON schema file.

    ``key`` names the fields that identify a record; a Debezium delete only has to carry those.
    """

    name: str
    fields: tuple[FieldSpec, ...]
    key: tuple[str, ...] = ()
    version: int = 1

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], origin: str = "schema") -> SchemaSpec:
        """Validate a parsed schema document; raise ``ValueError`` naming what to fix."""
        if not isinstance(doc, Mapping):
            raise ValueError(f"{origin}: the schema must be a JSON object with 'name' and 'fields'")
        raw_fields = doc.get("fields")
        if not isinstance(raw_fields, list) or not raw_fields:
            raise ValueError(f"{origin}: 'fields' must be a non-empty list of {{name, type, required}}")
        fields: list[FieldSpec] = []
        seen: set[str] = set()
        for i, item in enumerate(raw_fields):
            if not isinstance(item, Mapping):
                raise ValueError(f"{origin}: fields[{i}] must be an object with 'name' and 'type'")
            name, type_ = item.get("name"), item.get("type")
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise ValueError(
                    f"{origin}: fields[{i}].name {name!r} is not a valid column name "
                    "(letters, digits, underscore; starts with a letter)"
                )
            if name in RESERVED_COLUMNS:
                raise ValueError(f"{origin}: field {name!r} collides with a column the app adds; rename it")
            if name.lower() in seen:
                raise ValueError(f"{origin}: field {name!r} appears twice (names are case-insensitive)")
            if type_ not in SCHEMA_TYPES:
                raise ValueError(
                    f"{origin}: field {name!r} has type {type_!r}; use one of "
                    f"{', '.join(sorted(SCHEMA_TYPES))}"
                )
            required = item.get("required", False)
            if not isinstance(required, bool):
                raise ValueError(f"{origin}: field {name!r}: 'required' must be true or false")
            seen.add(name.lower())
            fields.append(FieldSpec(name, str(type_), required))
        key = doc.get("key", [])
        if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
            raise ValueError(f"{origin}: 'key' must be a list of field names")
        by_name = {f.name: f for f in fields}
        for k in key:
            if k not in by_name:
                raise ValueError(f"{origin}: key field {k!r} is not among the fields")
            if not by_name[k].required:
                raise ValueError(f"{origin}: key field {k!r} must be required")
        version = doc.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError(f"{origin}: 'version' must be an integer")
        name = doc.get("name", Path(origin).stem)
        return cls(name=str(name), fields=tuple(fields), key=tuple(key), version=version)


def load_schema_spec(path: str | Path) -> SchemaSpec:
    """Read and validate a schema file (see
    ``airflow_provider_lakeops/spark_apps/schemas/customer_event.json``)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"schema file {str(p)!r} does not exist")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"schema file {str(p)!r} is not valid JSON: {exc}") from None
    return SchemaSpec.from_dict(doc, origin=str(p))


# ------------------------------------------------------------------------------------ kafka
def is_secret_option(key: str) -> bool:
    """True for Kafka client settings whose value must never be logged or put in argv.

    :func:`airflow_provider_lakeops.utils.redaction.is_secret_key` decides (the one rule of the package).
    """
    return is_secret_key(key)


def _jaas(mechanism: str, username: str, password: str) -> str:
    module = {
        "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
        "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
        "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    }.get(mechanism.upper())
    if module is None:
        raise ValueError(
            f"sasl.username/sasl.password cannot be translated for sasl.mechanism {mechanism!r}: "
            "give 'kafka.sasl.jaas.config' in the connection extra instead"
        )
    user = username.replace("\\", "\\\\").replace('"', '\\"')
    pwd = password.replace("\\", "\\\\").replace('"', '\\"')
    return f'{module} required username="{user}" password="{pwd}";'


def kafka_client_options_from_connection(extra: Mapping[str, Any]) -> tuple[str, dict[str, str], list[str]]:
    """Translate the Airflow Kafka provider's connection extra into Spark Kafka source options.

    The Kafka provider keeps a librdkafka (confluent-kafka) configuration in the connection extra;
    Spark's source speaks the Java client, with a ``kafka.`` prefix. Keys already prefixed with
    ``kafka.`` pass through unchanged (Java names, e.g. ``kafka.ssl.truststore.location``);
    ``bootstrap.servers``, ``security.protocol``, ``sasl.mechanism(s)``, ``sasl.username`` +
    ``sasl.password`` (PLAIN/SCRAM -> ``sasl.jaas.config``) and ``ssl.ca.location`` (PEM truststore)
    are translated; consumer-only settings (``group.id`` ...) are left out (Spark manages its own
    consumer group); any other key is passed with the ``kafka.`` prefix.

    :return: ``(bootstrap_servers, options, ignored_keys)``.
    :raises ValueError: no ``bootstrap.servers``, or a setting Spark cannot accept.
    """
    conf = {str(k): v for k, v in extra.items() if v is not None}
    bootstrap = str(conf.pop("bootstrap.servers", conf.pop("kafka.bootstrap.servers", "")) or "").strip()
    if not bootstrap:
        raise ValueError(
            "the Kafka connection has no 'bootstrap.servers' in its extra "
            '(the Kafka provider\'s format: {"bootstrap.servers": "host:9092", ...})'
        )
    options: dict[str, str] = {"kafka.bootstrap.servers": bootstrap}
    ignored: list[str] = []
    mechanism = str(conf.pop("sasl.mechanism", conf.pop("sasl.mechanisms", "")) or "")
    username = conf.pop("sasl.username", None)
    password = conf.pop("sasl.password", None)
    if mechanism:
        options["kafka.sasl.mechanism"] = mechanism
    if username is not None or password is not None:
        if username is None or password is None:
            raise ValueError("the Kafka connection has only one of sasl.username / sasl.password")
        if "kafka.sasl.jaas.config" not in conf:
            options["kafka.sasl.jaas.config"] = _jaas(mechanism or "PLAIN", str(username), str(password))
    ca = conf.pop("ssl.ca.location", None)
    if ca:
        options["kafka.ssl.truststore.type"] = "PEM"
        options["kafka.ssl.truststore.location"] = str(ca)
    for key, value in conf.items():
        plain = key[len("kafka.") :] if key.startswith("kafka.") else key
        if plain in _SPARK_MANAGED_KAFKA:
            if key.startswith("kafka."):
                raise ValueError(f"Kafka option {key!r} is managed by Spark's Kafka source and cannot be set")
            ignored.append(key)
            continue
        if not key.startswith("kafka.") and plain in _CLIENT_ONLY_KEYS:
            ignored.append(key)
            continue
        options[f"kafka.{plain}"] = value if isinstance(value, str) else json.dumps(value)
    return bootstrap, options, sorted(ignored)


def kafka_source_options(
    *,
    client_options: Mapping[str, str],
    topics: Sequence[str],
    starting_offsets: str = "earliest",
    max_offsets_per_trigger: int | None = None,
    fail_on_data_loss: bool = True,
    isolation_level: str = "read_committed",
) -> dict[str, str]:
    """The complete option map of ``spark.readStream.format("kafka")``.

    ``client_options`` are the ``kafka.*`` settings (bootstrap servers, security) from
    :func:`kafka_client_options_from_connection`; every other key is a Spark source option.
    ``isolation_level`` becomes ``kafka.isolation.level`` (it wins over a connection's value): with
    ``read_committed`` records of aborted transactions never land, and Spark's offset reader stops
    at the last stable offset, so an open transaction is read once it commits.
    """
    if isolation_level not in ISOLATION_LEVELS:
        raise ValueError(f"isolation_level must be one of {ISOLATION_LEVELS}, got {isolation_level!r}")
    if not client_options.get("kafka.bootstrap.servers"):
        raise ValueError("kafka.bootstrap.servers is required for the Kafka source")
    bad = [k for k in client_options if not k.startswith("kafka.")]
    if bad:
        raise ValueError(f"client options must start with 'kafka.': {sorted(bad)}")
    options = dict(client_options)
    options["subscribe"] = ",".join(topics)
    options["startingOffsets"] = starting_offsets
    options["failOnDataLoss"] = "true" if fail_on_data_loss else "false"
    options["kafka.isolation.level"] = isolation_level
    if max_offsets_per_trigger is not None:
        options["maxOffsetsPerTrigger"] = str(int(max_offsets_per_trigger))
    return options


def kafka_package(spark_version: str, scala_version: str = "2.13") -> str:
    """Maven coordinate of the Kafka source matching the cluster's Spark and Scala versions."""
    if not re.match(r"^\d+\.\d+\.\d+([.-][A-Za-z0-9.]+)?$", spark_version or ""):
        raise ValueError(f"spark_version {spark_version!r} is not a Spark version such as '4.0.1'")
    if scala_version not in ("2.12", "2.13"):
        raise ValueError(f"scala_version must be '2.12' or '2.13', got {scala_version!r}")
    return f"org.apache.spark:spark-sql-kafka-0-10_{scala_version}:{spark_version}"


# ------------------------------------------------------------------------- Spark versions
def _version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION_RE.match(str(text or ""))
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def check_spark_version(spark_version: str, what: str = "Spark") -> None:
    """Raise ``ValueError`` unless ``spark_version`` satisfies :data:`SPARK_REQUIREMENT`."""
    parsed = _version(spark_version)
    if parsed is None:
        raise ValueError(f"{what} version {spark_version!r} is not a Spark version such as '4.2.0'")
    if not _SPARK_MIN <= parsed[:2] < _SPARK_BELOW:
        raise ValueError(
            f"the streaming app needs Spark {SPARK_REQUIREMENT}; {what} is {spark_version}: "
            "install pyspark 4.x (the tested pin is in requirements.lock)"
        )


def parse_jar_list(jars: str | Sequence[str] | None) -> list[str]:
    """``"a.jar,b.jar"`` or ``["a.jar", "b.jar"]`` -> the list of non-empty entries, in order."""
    if jars is None:
        return []
    items = jars.split(",") if isinstance(jars, str) else [str(j) for j in jars]
    return [j.strip() for j in items if j and j.strip()]


def check_spark_kafka_jars(
    jars: Sequence[str], spark_version: str, scala_version: str | None = None, what: str = "Spark"
) -> list[str]:
    """Check that the ``spark-sql-kafka`` jars in ``jars`` were built for ``spark_version``.

    Spark's Kafka source is compiled against one Spark release: a jar of another minor version fails
    inside the JVM with ``NoSuchMethodError``/``ClassNotFoundException`` at the first batch, which
    is why the check runs before anything is submitted (operator) and again inside the app (the
    cluster's own Spark). A different patch release only gives a warning.

    :param jars: the ``spark.jars`` entries (paths or URIs; only the file names are read).
    :param spark_version: the Spark that will load them (the installed pyspark, or ``spark.version``).
    :param scala_version: the cluster's Scala version, when known (``2.13``).
    :param what: how to name ``spark_version`` in messages (``"the installed pyspark"``).
    :return: warnings (patch-level differences).
    :raises ValueError: no ``spark-sql-kafka-0-10`` jar, or a jar of another Spark major.minor / Scala.
    """
    check_spark_version(spark_version, what)
    spark = _version(spark_version)
    warnings: list[str] = []
    found = False
    for entry in jars:
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        match = _SPARK_KAFKA_JAR_RE.match(name)
        if match is None:
            continue
        artifact, scala, version = match[1], match[2], match[3]
        found = found or artifact == "spark-sql-kafka-0-10"
        jar = _version(version)
        if scala_version and scala != scala_version:
            raise ValueError(
                f"{name} is built for Scala {scala}, but the cluster's Spark uses Scala "
                f"{scala_version}: use the {artifact}_{scala_version} jars"
            )
        if jar is None or spark is None or jar[:2] != spark[:2]:
            raise ValueError(
                f"{name} is built for Spark {version}, but {what} is {spark_version}: Spark's Kafka source "
                f"must match the Spark that loads it. Use the {artifact}_{scala}-{spark_version} jars "
                f"(infra/jvm/pom.xml, 'make jvm-deps') or install pyspark=={version}"
            )
        if jar != spark:
            warnings.append(
                f"{name} is built for Spark {version} and {what} is {spark_version} "
                "(same minor release: expected to work, but only matching versions are tested)"
            )
    if not found:
        shown = ", ".join(j.rstrip("/").rsplit("/", 1)[-1] for j in jars) or "none"
        raise ValueError(
            f"the jars ({shown}) hold no spark-sql-kafka-0-10 jar: Spark has no Kafka source "
            "without it ('make jvm-deps' copies it to build/jvm/spark-kafka/)"
        )
    return warnings


# ----------------------------------------------------------------------- Debezium position
#: Width of ``_source_position``: phase, '-', 20 digits, '-', 20 digits, '-', 10 digits.
POSITION_WIDTH = 54
#: ``source.snapshot`` values of an initial (or blocking) snapshot; ``incremental`` reads stream.
SNAPSHOT_VALUES = ("true", "first", "first_in_data_collection", "last_in_data_collection", "last")


def debezium_position(source: Mapping[str, Any] | None) -> str | None:
    """The ``_source_position`` of a Debezium change event's ``source`` block (reference form).

    A fixed-width string whose lexicographic order is the order of the changes in the source
    database, for one connector: ``<phase>-<a>-<b>-<c>``, zero-padded. ``phase`` is ``0`` for
    snapshot reads and ``1`` for streamed changes (a snapshot is older than what streams after it).

    * PostgreSQL (``source.lsn``): ``a`` = the commit LSN before this transaction
      (``source.sequence[0]``, transactions arrive in commit order), ``b`` = the change's own LSN
      (increasing inside a transaction), ``c`` = 0.
    * MySQL / MariaDB (``source.file``/``pos``/``row``): ``a`` = the binlog file's number,
      ``b`` = ``pos``, ``c`` = ``row`` (a row inside one binlog event).

    The Spark app computes the same string with Spark columns (``kafka_customer_events``).

    :return: the position, or None when the block names neither an LSN nor a binlog position.
    :raises ValueError: a position field that is not a non-negative integer.
    """
    if not source:
        return None
    phase = "0" if str(source.get("snapshot") or "false").lower() in SNAPSHOT_VALUES else "1"

    def digits(value: Any, width: int, name: str) -> str:
        text = "0" if value is None else str(value)
        if not text.isdigit() or len(text) > width:
            raise ValueError(f"source.{name} is not a non-negative integer of at most {width} digits")
        return text.zfill(width)

    if source.get("lsn") is not None:
        sequence = source.get("sequence")
        previous = json.loads(sequence)[0] if isinstance(sequence, str) and sequence.startswith("[") else None
        return f"{phase}-{digits(previous, 20, 'sequence')}-{digits(source['lsn'], 20, 'lsn')}-{'0' * 10}"
    if source.get("file") is not None and source.get("pos") is not None:
        number = str(source["file"]).rsplit(".", 1)[-1]
        return (
            f"{phase}-{digits(number, 20, 'file')}-{digits(source['pos'], 20, 'pos')}-"
            f"{digits(source.get('row'), 10, 'row')}"
        )
    return None


def _validate_starting_offsets(value: str, topics: Sequence[str]) -> None:
    if value in ("earliest", "latest"):
        return
    try:
        doc = json.loads(value)
    except json.JSONDecodeError:
        raise ValueError(
            f"starting_offsets must be 'earliest', 'latest' or a JSON object "
            f"{{topic: {{partition: offset}}}}, got {value!r}"
        ) from None
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise ValueError("starting_offsets JSON must map each topic to {partition: offset}")
    unknown = sorted(set(doc) - set(topics))
    if unknown:
        raise ValueError(f"starting_offsets names topics that are not subscribed: {unknown}")


# ------------------------------------------------------------------------------------ paths
def normalize_path(path: str) -> str:
    """A comparable form of a path or URI: ``file://`` dropped, no trailing slash, ``s3a`` -> ``s3``."""
    p = str(path).strip()
    if p.startswith("file://"):
        p = p[len("file://") :]
        p = "/" + p.lstrip("/")
    p = re.sub(r"^s3[an]://", "s3://", p)
    if "://" not in p:
        p = str(Path(p).expanduser().resolve()) if p else p
    return p.rstrip("/") or "/"


def _join(base: str, rel: str) -> str:
    return f"{base.rstrip('/')}/{rel}"


# ---------------------------------------------------------------------------------- config
@dataclass
class StreamConfig:
    """Every setting of one run of the streaming app (see the module docstring)."""

    source: str
    bronze_path: str
    checkpoint_path: str
    schema_file: str
    quarantine_path: str = ""
    topics: tuple[str, ...] = ()
    kafka_options_file: str | None = None
    starting_offsets: str = "earliest"
    max_offsets_per_trigger: int | None = None
    fail_on_data_loss: bool = True
    isolation_level: str = "read_committed"
    landing_path: str | None = None
    max_files_per_trigger: int | None = None
    debezium: bool = False
    trigger: str = "availableNow"
    processing_time: str | None = None
    stop_after_seconds: float | None = None
    report_path: str | None = None
    table_format: str = "parquet"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.topics, str):
            self.topics = tuple(t.strip() for t in self.topics.split(",") if t.strip())
        else:
            self.topics = tuple(self.topics)
        if not self.quarantine_path and self.bronze_path:
            self.quarantine_path = default_quarantine_path(self.bronze_path)

    def validate(self) -> StreamConfig:
        """Raise ``ValueError`` naming the first bad setting and how to fix it; return ``self``."""
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.table_format not in TABLE_FORMATS:
            raise ValueError(
                f"table_format must be one of {', '.join(TABLE_FORMATS)}, got {self.table_format!r}"
            )
        for name in ("bronze_path", "checkpoint_path", "schema_file", "quarantine_path"):
            if not str(getattr(self, name) or "").strip():
                raise ValueError(f"{name} is required")
        paths = {
            "bronze_path": self.bronze_path,
            "quarantine_path": self.quarantine_path,
            "checkpoint_path": self.checkpoint_path,
        }
        if self.source == "file":
            paths["landing_path"] = str(self.landing_path or "")
        norm = {k: normalize_path(v) for k, v in paths.items() if v}
        for a, pa in norm.items():
            for b, pb in norm.items():
                if a < b and (pa == pb or pa.startswith(pb + "/") or pb.startswith(pa + "/")):
                    raise ValueError(
                        f"{a} ({paths[a]!r}) and {b} ({paths[b]!r}) overlap: give separate folders"
                    )
        if self.source == "kafka":
            if not self.topics:
                raise ValueError("topics is required for the Kafka source (one or more topic names)")
            for t in self.topics:
                if not _TOPIC_RE.match(t):
                    raise ValueError(f"{t!r} is not a valid Kafka topic name")
            if not self.kafka_options_file:
                raise ValueError("kafka_options_file is required for the Kafka source (bootstrap servers)")
            _validate_starting_offsets(self.starting_offsets, self.topics)
            if self.isolation_level not in ISOLATION_LEVELS:
                raise ValueError(
                    f"isolation_level must be one of {ISOLATION_LEVELS}, got {self.isolation_level!r}"
                )
            if self.landing_path or self.max_files_per_trigger is not None:
                raise ValueError("landing_path / max_files_per_trigger are for the file source only")
        else:
            if not str(self.landing_path or "").strip():
                raise ValueError(
                    "landing_path is required for the file source (a folder of JSON-lines files)"
                )
            if self.topics or self.kafka_options_file or self.max_offsets_per_trigger is not None:
                raise ValueError(
                    "topics / kafka options / max_offsets_per_trigger are for the Kafka source only"
                )
        for name in ("max_offsets_per_trigger", "max_files_per_trigger"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {TRIGGERS}, got {self.trigger!r}")
        if self.trigger == "processingTime":
            if not self.processing_time or not _INTERVAL_RE.match(self.processing_time):
                raise ValueError(
                    f"processing_time must be an interval such as '30 seconds' or '5 minutes' "
                    f"when trigger='processingTime', got {self.processing_time!r}"
                )
        elif self.processing_time or self.stop_after_seconds is not None:
            raise ValueError("processing_time / stop_after_seconds only apply to trigger='processingTime'")
        if self.stop_after_seconds is not None and not self.stop_after_seconds > 0:
            raise ValueError(f"stop_after_seconds must be > 0, got {self.stop_after_seconds!r}")
        return self

    # ---------------------------------------------------------------- derived
    @property
    def fingerprint_path(self) -> str:
        return _join(self.checkpoint_path, FINGERPRINT_FILE)

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the query: Spark cannot safely resume a checkpoint if any of it changes."""
        return {
            "version": 1,
            "source": self.source,
            "topics": sorted(self.topics) if self.source == "kafka" else None,
            "landing_path": normalize_path(self.landing_path)
            if self.source == "file" and self.landing_path
            else None,
            "bronze_path": normalize_path(self.bronze_path),
            "quarantine_path": normalize_path(self.quarantine_path),
            "debezium": bool(self.debezium),
            "table_format": self.table_format,
        }

    # ------------------------------------------------------------ command line
    def to_args(self) -> list[str]:
        """The app's command line (never carries Kafka options: those go in ``kafka_options_file``)."""
        args = [
            "--source",
            self.source,
            "--bronze-path",
            self.bronze_path,
            "--quarantine-path",
            self.quarantine_path,
            "--checkpoint",
            self.checkpoint_path,
            "--schema-file",
            self.schema_file,
            "--trigger",
            self.trigger,
            "--table-format",
            self.table_format,
        ]
        if self.source == "kafka":
            args += [
                "--topics",
                ",".join(self.topics),
                "--starting-offsets",
                self.starting_offsets,
                "--fail-on-data-loss",
                "true" if self.fail_on_data_loss else "false",
                "--isolation-level",
                self.isolation_level,
            ]
            if self.kafka_options_file:
                args += ["--kafka-options-file", self.kafka_options_file]
            if self.max_offsets_per_trigger is not None:
                args += ["--max-offsets-per-trigger", str(self.max_offsets_per_trigger)]
        else:
            args += ["--landing-path", str(self.landing_path)]
            if self.max_files_per_trigger is not None:
                args += ["--max-files-per-trigger", str(self.max_files_per_trigger)]
        if self.debezium:
            args.append("--debezium")
        if self.processing_time:
            args += ["--processing-time", self.processing_time]
        if self.stop_after_seconds is not None:
            args += ["--stop-after-seconds", str(self.stop_after_seconds)]
        if self.report_path:
            args += ["--report-path", self.report_path]
        return args

    @classmethod
    def from_args(cls, argv: Sequence[str] | None = None) -> StreamConfig:
        """Parse the app's command line (the inverse of :meth:`to_args`) and validate it."""
        p = argparse.ArgumentParser(
            prog="kafka_customer_events",
            description="Kafka (or a JSON landing folder) -> bronze Parquet, exactly once.",
        )
        p.add_argument("--source", choices=SOURCES, required=True)
        p.add_argument("--bronze-path", required=True)
        p.add_argument("--quarantine-path", default="")
        p.add_argument("--checkpoint", required=True, dest="checkpoint_path")
        p.add_argument("--schema-file", required=True)
        p.add_argument("--topics", default="")
        p.add_argument("--kafka-options-file")
        p.add_argument("--starting-offsets", default="earliest")
        p.add_argument("--max-offsets-per-trigger", type=int)
        p.add_argument("--fail-on-data-loss", choices=("true", "false"), default="true")
        p.add_argument("--isolation-level", choices=ISOLATION_LEVELS, default="read_committed")
        p.add_argument("--landing-path")
        p.add_argument("--max-files-per-trigger", type=int)
        p.add_argument("--debezium", action="store_true")
        p.add_argument("--trigger", choices=TRIGGERS, default="availableNow")
        p.add_argument("--processing-time")
        p.add_argument("--stop-after-seconds", type=float)
        p.add_argument("--report-path")
        p.add_argument("--table-format", choices=TABLE_FORMATS, default="parquet")
        ns = p.parse_args(list(argv) if argv is not None else None)
        values = vars(ns)
        values["fail_on_data_loss"] = values["fail_on_data_loss"] == "true"
        return cls(**values).validate()


def default_quarantine_path(bronze_path: str) -> str:
    """``.../bronze/customer_events`` -> ``.../bronze/customer_events_quarantine`` (a sibling, not inside)."""
    return f"{str(bronze_path).rstrip('/')}_quarantine"


def fingerprint_mismatches(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The identity settings that differ between a checkpoint's stored fingerprint and this run.

    Spark's guide: "changes to subscribed topics/files are generally not allowed as the results are
    unpredictable"; changing the outputs of a checkpointed query would silently skip or mix data.
    Limits, triggers and the schema may change between runs. A fingerprint written before
    ``table_format`` existed is a Parquet query's.
    """
    keys = ("source", "topics", "landing_path", "bronze_path", "quarantine_path", "debezium")
    diffs = [k for k in keys if stored.get(k) != current.get(k)]
    if (stored.get("table_format") or "parquet") != (current.get("table_format") or "parquet"):
        diffs.append("table_format")
    return diffs
