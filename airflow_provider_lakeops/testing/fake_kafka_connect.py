"""A contract-faithful fake of the Kafka Connect REST API, for tests (real HTTP on loopback).

Real Kafka Connect (a JVM, Kafka brokers and the Debezium plugin) cannot run on the machines
this project is built and tested on, so the CDC code is tested against this server instead.
It is kept honest: **every behaviour it has is one real Connect has**, with the status codes and
bodies of the documented REST API (Apache Kafka 3.x ``ConnectorsResource`` /
``ConnectorPluginsResource``):

* ``GET /`` -> ``{version, commit, kafka_cluster_id}``; ``GET /connector-plugins``.
* ``POST /connectors`` -> 201 with ``{name, config, tasks, type}``; 409 ``Connector X already exists``;
  400 ``Connector configuration is invalid and contains the following N error(s): ...``.
* ``PUT /connectors/{name}/config`` -> 201 when created, 200 when updated (same 400 on errors; a
  ``name`` in the body that differs from the URL is a 400).
* ``GET /connectors[?expand=status&expand=info]``, ``GET /connectors/{name}``, ``.../config``,
  ``.../tasks``, ``.../status``, ``.../tasks/{id}/status``, ``.../offsets``.
* ``PUT /connector-plugins/{class}/config/validate`` -> ``{name, error_count, groups, configs:
  [{definition, value: {name, value, recommended_values, errors, visible}}]}`` with Kafka's and
  Debezium's own error messages (``Missing required configuration "x" which has no default
  value.``, ``The 'x' value is invalid: A value is required``...), ``PASSWORD`` values shown as
  ``[hidden]``, config-provider placeholders resolved first when the worker has the provider.
* ``POST /connectors/{name}/restart`` -> 204 (connector instance only) or, with
  ``includeTasks``/``onlyFailed``, 202 with the status, instances to restart shown ``RESTARTING``;
  ``POST .../tasks/{id}/restart`` -> 204; ``PUT .../pause`` / ``.../resume`` -> 202;
  ``PUT .../stop`` -> 204 (Connect 3.5+: STOPPED, no tasks); ``DELETE`` -> 204.
* 404 ``{"error_code": 404, "message": "Connector X not found"}``; 409 while a worker rebalance is in
  progress on the requests a worker forwards to the leader; 500 ``Request timed out``; 401 without
  valid basic auth when the worker has ``BasicAuthSecurityRestExtension``.
* States: connectors and tasks start ``UNASSIGNED`` and become ``RUNNING`` (or ``PAUSED``) after a
  short start-up delay, tasks only once the connector runs; a failing instance is ``FAILED`` with
  a Java stack ``trace``.

Test controls (each one reproduces a situation a real cluster gets into): :meth:`begin_rebalance`,
:meth:`inject_server_errors`, :meth:`fail_task`, :meth:`fail_connector`, :meth:`set_start_delay`,
:meth:`set_offsets`. :attr:`requests` records what clients sent.

What it does not do: run connectors (no Kafka, no binlog reading, no records, offsets only as a
test sets them), check the database connection during validation (Debezium's ``validate()``
does), plugins other than the ones registered in :data:`PLUGINS`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["PLUGINS", "ConfigKey", "FakeKafkaConnect", "Plugin", "RecordedRequest"]

NO_DEFAULT = object()
DEBEZIUM_MYSQL = "io.debezium.connector.mysql.MySqlConnector"
DEFAULT_TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer. "
    "This connector will be stopped.\n"
    "\tat io.debezium.pipeline.ErrorHandler.setProducerThrowable(ErrorHandler.java:67)\n"
    "\tat io.debezium.connector.mysql.MySqlStreamingChangeEventSource.execute(MySqlStreamingChangeEventSource.java:216)\n"
    "Caused by: com.github.shyiko.mysql.binlog.network.ServerException: "
    "Could not find first log file name in binary log index file"
)


# --------------------------------------------------------------------------- config definitions
@dataclass(frozen=True)
class ConfigKey:
    """One ``ConfigDef`` key as the validate endpoint describes it."""

    name: str
    type: str = "STRING"  # STRING INT LONG SHORT DOUBLE BOOLEAN LIST CLASS PASSWORD
    default: Any = NO_DEFAULT
    importance: str = "MEDIUM"
    documentation: str = ""
    group: str | None = None
    order: int = -1
    width: str = "NONE"
    # Debezium fields validate with io.debezium.config.Field ("The 'x' value is invalid: ..."),
    # Kafka's with ConfigDef ("Invalid value v for configuration x: ...").
    debezium: bool = False
    required: bool = False  # Debezium Field.required(): "A value is required"
    one_of: tuple[str, ...] = ()
    validator: Callable[[str], str | None] | None = None

    def definition(self) -> dict[str, Any]:
        required = self.default is NO_DEFAULT
        return {
            "name": self.name,
            "type": self.type,
            "required": required,
            "default_value": None if required else self.default,
            "importance": self.importance,
            "documentation": self.documentation,
            "group": self.group,
            "order": self.order,
            "width": self.width,
            "display_name": self.name,
            "dependents": [],
        }


@dataclass(frozen=True)
class Plugin:
    """A connector plugin installed on the worker."""

    class_name: str
    type: str  # source | sink
    version: str
    keys: tuple[ConfigKey, ...]
    max_tasks: int | None = None  # Debezium's MySQL connector always runs a single task

    def info(self) -> dict[str, str]:
        return {"class": self.class_name, "type": self.type, "version": self.version}


def _positive_long(value: str) -> str | None:
    try:
        return None if int(value) > 0 else "A positive, non-zero long value is expected"
    except ValueError:
        return "A positive, non-zero long value is expected"


def _regex_list(value: str) -> str | None:
    for part in (p.strip() for p in value.split(",") if p.strip()):
        try:
            re.compile(part)
        except re.error as exc:
            return f"A comma-separated list of valid regular expressions is expected, but {exc}"
    return None


def _topic_prefix(value: str) -> str | None:
    if value and not re.fullmatch(r"[A-Za-z0-9._-]+", value):
        return f"{value} has invalid format (only the underscore, hyphen, dot and alphanumeric are allowed)"
    return None


_SNAPSHOT_MODES = ("always", "initial", "initial_only", "schema_only", "no_data", "never", "when_needed",
                   "recovery", "schema_only_recovery", "configuration_based", "custom")


def _dbz(name: str, type: str = "STRING", default: Any = NO_DEFAULT, **kwargs: Any) -> ConfigKey:
    """A Debezium ``Field`` (validated with Debezium's messages)."""
    return ConfigKey(name, type, default, debezium=True, **kwargs)


_MYSQL_KEYS: tuple[ConfigKey, ...] = (
    _dbz("database.hostname", group="CONNECTION", importance="HIGH", required=True),
    _dbz("database.port", "INT", "3306", group="CONNECTION", importance="HIGH"),
    _dbz("database.user", group="CONNECTION", importance="HIGH", required=True),
    _dbz("database.password", "PASSWORD", None, group="CONNECTION", importance="HIGH"),
    _dbz("database.server.id", "LONG", NO_DEFAULT, group="CONNECTION", importance="HIGH", required=True,
              validator=_positive_long),
    _dbz("topic.prefix", group="CONNECTION", importance="HIGH", required=True, validator=_topic_prefix),
    _dbz("database.include.list", "LIST", None, group="FILTERS", validator=_regex_list),
    _dbz("database.exclude.list", "LIST", None, group="FILTERS", validator=_regex_list),
    _dbz("table.include.list", "LIST", None, group="FILTERS", validator=_regex_list),
    _dbz("table.exclude.list", "LIST", None, group="FILTERS", validator=_regex_list),
    _dbz("column.exclude.list", "LIST", None, group="FILTERS", validator=_regex_list),
    _dbz("snapshot.mode", default="initial", group="CONNECTOR_SNAPSHOT", one_of=_SNAPSHOT_MODES),
    _dbz("snapshot.locking.mode", default="minimal", group="CONNECTOR_SNAPSHOT",
              one_of=("minimal", "minimal_percona", "extended", "none", "custom")),
    _dbz("schema.history.internal.kafka.bootstrap.servers", group="ADVANCED", importance="HIGH",
              required=True),
    _dbz("schema.history.internal.kafka.topic", group="ADVANCED", importance="HIGH", required=True),
    _dbz("include.schema.changes", "BOOLEAN", "true", group="CONNECTOR"),
    _dbz("tombstones.on.delete", "BOOLEAN", "true", group="CONNECTOR"),
    _dbz("decimal.handling.mode", default="precise", group="CONNECTOR",
              one_of=("precise", "string", "double")),
    _dbz("time.precision.mode", default="adaptive_time_microseconds", group="CONNECTOR",
              one_of=("adaptive_time_microseconds", "connect", "isostring", "microseconds", "nanoseconds")),
    _dbz("bigint.unsigned.handling.mode", default="long", group="CONNECTOR",
              one_of=("long", "precise")),
    _dbz("database.ssl.mode", default="preferred", group="CONNECTION_ADVANCED_SSL",
              one_of=("disabled", "preferred", "required", "verify_ca", "verify_identity")),
    _dbz("heartbeat.interval.ms", "INT", "0", group="ADVANCED_HEARTBEAT"),
    _dbz("max.batch.size", "INT", "2048", group="CONNECTOR_ADVANCED"),
    _dbz("poll.interval.ms", "LONG", "500", group="CONNECTOR_ADVANCED"),
)

#: Single message transforms the worker has on its plugin path (class -> its own config keys).
TRANSFORMS: dict[str, tuple[ConfigKey, ...]] = {
    "io.debezium.transforms.ExtractNewRecordState": (
        _dbz("drop.tombstones", "BOOLEAN", "true"),
        _dbz("delete.tombstone.handling.mode", default="tombstone",
                  one_of=("drop", "tombstone", "rewrite", "rewrite-with-tombstone")),
        _dbz("add.fields", "LIST", ""),
        _dbz("add.headers", "LIST", ""),
        _dbz("route.by.field", default=""),
    ),
    "io.debezium.transforms.ByLogicalTableRouter": (
        _dbz("topic.regex", required=True),
        _dbz("topic.replacement", required=True),
    ),
    "org.apache.kafka.connect.transforms.RegexRouter": (
        ConfigKey("regex"), ConfigKey("replacement"),
    ),
}
CONVERTERS = frozenset({
    "org.apache.kafka.connect.json.JsonConverter",
    "org.apache.kafka.connect.storage.StringConverter",
    "org.apache.kafka.connect.converters.ByteArrayConverter",
    "org.apache.kafka.connect.storage.SimpleHeaderConverter",
})

#: Connector plugins installed on the fake worker.
PLUGINS: dict[str, Plugin] = {
    DEBEZIUM_MYSQL: Plugin(DEBEZIUM_MYSQL, "source", "2.7.3.Final", _MYSQL_KEYS, max_tasks=1),
    "org.apache.kafka.connect.file.FileStreamSourceConnector": Plugin(
        "org.apache.kafka.connect.file.FileStreamSourceConnector", "source", "3.9.0",
        (ConfigKey("file", default=None), ConfigKey("topic", importance="HIGH"), ConfigKey("batch.size", "INT", "2000")),
    ),
}

# Connect's own connector-level keys (ConnectorConfig + SourceConnectorConfig, abridged).
_COMMON_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("name", importance="HIGH", group="Common", order=1),
    ConfigKey("connector.class", importance="HIGH", group="Common", order=2),
    ConfigKey("tasks.max", "INT", "1", importance="HIGH", group="Common", order=3),
    ConfigKey("key.converter", "CLASS", None, importance="LOW", group="Common", order=5),
    ConfigKey("value.converter", "CLASS", None, importance="LOW", group="Common", order=6),
    ConfigKey("header.converter", "CLASS", None, importance="LOW", group="Common", order=7),
    ConfigKey("config.action.reload", default="restart", importance="LOW", group="Common", order=8,
              one_of=("none", "restart")),
    ConfigKey("transforms", "LIST", "", importance="LOW", group="Transforms", order=1),
    ConfigKey("predicates", "LIST", "", importance="LOW", group="Predicates", order=1),
    ConfigKey("errors.tolerance", default="none", importance="MEDIUM", group="Error Handling", order=3,
              one_of=("none", "all")),
)


# --------------------------------------------------------------------------- validation engine
def _kafka_parse_error(key: ConfigKey, value: str) -> str | None:
    kinds = {"INT": (int, "Not a number of type INT"), "LONG": (int, "Not a number of type LONG"),
             "SHORT": (int, "Not a number of type SHORT"), "DOUBLE": (float, "Not a number of type DOUBLE")}
    if key.type in kinds:
        cast, message = kinds[key.type]
        try:
            cast(value.strip())
        except ValueError:
            return f"Invalid value {value} for configuration {key.name}: {message}"
    if key.type == "BOOLEAN" and value.strip().lower() not in {"true", "false"}:
        return f"Invalid value {value} for configuration {key.name}: Expected value to be either true or false"
    return None


def _check(key: ConfigKey, value: str | None, classes: frozenset[str]) -> list[str]:
    """The error messages Kafka's ConfigDef or Debezium's Field would give ``value`` for ``key``."""
    if key.debezium:
        problems: list[str] = []
        if key.required and (value is None or not value.strip()):
            problems.append("A value is required")
        elif value is not None:
            if key.type in {"INT", "LONG"} and not re.fullmatch(r"-?\d+", value.strip()):
                problems.append("An integer is expected" if key.type == "INT" else "A long value is expected")
            elif key.type == "BOOLEAN" and value.strip().lower() not in {"true", "false"}:
                problems.append("Either 'true' or 'false' is expected")
            elif key.one_of and value.strip().lower() not in key.one_of:
                problems.append("Value must be one of " + ", ".join(key.one_of))
            elif key.validator and (problem := key.validator(value)):
                problems.append(problem)
        return [f"The '{key.name}' value is invalid: {p}" for p in problems]
    if value is None:
        if key.default is NO_DEFAULT:
            return [f'Missing required configuration "{key.name}" which has no default value.']
        return []
    if error := _kafka_parse_error(key, value):
        return [error]
    if key.type == "CLASS" and value.strip() and value.strip() not in classes:
        return [f"Invalid value {value} for configuration {key.name}: Class {value} could not be found."]
    if key.one_of and value not in key.one_of:
        return [f"Invalid value {value} for configuration {key.name}: String must be one of: "
                + ", ".join(key.one_of)]
    if key.name == "tasks.max" and int(value) < 1:
        return [f"Invalid value {value} for configuration tasks.max: Value must be at least 1"]
    if key.name == "name" and not value.strip():
        return ['Invalid value  for configuration name: String may not be empty']
    return []


def validate_config(plugin: Plugin, config: Mapping[str, str]) -> dict[str, Any]:
    """The ``ConfigInfos`` body Connect returns for ``config``."""
    keys: list[ConfigKey] = list(_COMMON_KEYS)
    aliases = [a.strip() for a in (config.get("transforms") or "").split(",") if a.strip()]
    extra_errors: dict[str, list[str]] = {}
    for alias in aliases:
        type_key = ConfigKey(f"transforms.{alias}.type", "CLASS", NO_DEFAULT, importance="HIGH", group=f"Transforms: {alias}")
        keys.append(type_key)
        cls = config.get(type_key.name)
        if cls in TRANSFORMS:
            keys.extend(
                ConfigKey(f"transforms.{alias}.{k.name}", k.type, k.default, group=f"Transforms: {alias}",
                          debezium=k.debezium, required=k.required, one_of=k.one_of, validator=k.validator)
                for k in TRANSFORMS[cls]
            )
        elif cls:
            extra_errors[type_key.name] = [
                f"Invalid value {cls} for configuration {type_key.name}: Class {cls} could not be found."
            ]
    keys.extend(plugin.keys)
    classes = CONVERTERS | frozenset(TRANSFORMS)
    groups: list[str] = []
    configs = []
    error_count = 0
    for key in keys:
        if key.group and key.group not in groups:
            groups.append(key.group)
        raw = config.get(key.name)
        errors = extra_errors.get(key.name) or _check(key, raw, classes)
        error_count += bool(errors)
        shown = None if raw is None else ("[hidden]" if key.type == "PASSWORD" else raw)
        configs.append({
            "definition": key.definition(),
            "value": {"name": key.name, "value": shown, "recommended_values": list(key.one_of),
                      "errors": errors, "visible": True},
        })
    return {"name": plugin.class_name, "error_count": error_count, "groups": groups, "configs": configs}


def _resolve_placeholders(config: Mapping[str, str], providers: Mapping[str, Path]) -> dict[str, str]:
    """Resolve ``${file:path:key}`` as Kafka's FileConfigProvider does (unknown providers stay as they are)."""

    def lookup(match: re.Match[str]) -> str:
        provider, path, key = match.group(1), match.group(2), match.group(3)
        if provider != "file" or "file" not in providers:
            return match.group(0)
        props: dict[str, str] = {}
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith(("#", "!")) and "=" in line:
                k, _, v = line.partition("=")
                props[k.strip()] = v.strip()
        return props.get(key, match.group(0))

    pattern = re.compile(r"\$\{(\w+):([^:}]*):([^}]*)\}")
    return {k: pattern.sub(lookup, v) if isinstance(v, str) else v for k, v in config.items()}


# --------------------------------------------------------------------------- cluster state
@dataclass
class _Instance:
    state: str
    ready_at: float
    trace: str | None = None


@dataclass
class _Connector:
    name: str
    config: dict[str, str]
    plugin: Plugin
    target: str = "STARTED"  # STARTED | PAUSED | STOPPED
    instance: _Instance = field(default_factory=lambda: _Instance("UNASSIGNED", 0.0))
    tasks: list[_Instance] | None = None  # generated once the connector runs
    offsets: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Failure:
    trace: str
    remaining: int | None  # None: every start fails


@dataclass(frozen=True)
class RecordedRequest:
    """One request a client sent (for assertions such as "no PUT was made")."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class FakeKafkaConnect:
    """A Kafka Connect worker's REST API on ``127.0.0.1`` (see the module docstring for the contract).

    :param basic_auth: ``(user, password)`` to require HTTP basic auth, as a worker with
        ``rest.extension.classes=...BasicAuthSecurityRestExtension`` does.
    :param start_delay: seconds a connector or task stays ``UNASSIGNED``/``RESTARTING`` before it runs.
    :param config_providers: provider name -> nothing but presence matters; ``{"file": ...}`` makes
        the worker resolve ``${file:path:key}`` during validation, as ``config.providers=file`` does.
    """

    version = "3.9.0"
    commit = "a60e31147e6b01ee"
    kafka_cluster_id = "lakeops-fake-cluster"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        basic_auth: tuple[str, str] | None = None,
        start_delay: float = 0.05,
        config_providers: Mapping[str, Path] | None = None,
    ) -> None:
        self.host = host
        self._port = port
        self.basic_auth = basic_auth
        self.start_delay = start_delay
        self.config_providers = dict(config_providers or {})
        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._connectors: dict[str, _Connector] = {}
        self._failures: dict[tuple[str, int], _Failure] = {}  # (connector, task id or -1)
        self._rebalance_left = 0
        self._server_errors: list[tuple[int, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeKafkaConnect:
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer((self.host, self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-kafka-connect", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeKafkaConnect:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake Kafka Connect server is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def worker_id(self) -> str:
        return f"{self.host}:{self.port}"

    def connection_uri(self, conn_extra: str = "") -> str:
        """An ``AIRFLOW_CONN_*`` value (JSON) for this worker."""
        conn: dict[str, Any] = {"conn_type": "kafka_connect", "host": self.host, "port": self.port, "schema": "http"}
        if self.basic_auth:
            conn["login"], conn["password"] = self.basic_auth
        conn["extra"] = json.loads(conn_extra) if conn_extra else {"max_retries": 5, "retry_backoff": 0.05}
        return json.dumps(conn)

    # ----------------------------------------------------------------- test controls
    def reset(self) -> None:
        """Forget every connector, injected failure and recorded request."""
        with self._lock:
            self._connectors.clear()
            self._failures.clear()
            self._rebalance_left = 0
            self._server_errors.clear()
            self.requests.clear()

    def begin_rebalance(self, requests: int) -> None:
        """A worker rebalance: the next ``requests`` forwarded requests answer 409."""
        with self._lock:
            self._rebalance_left = requests

    def inject_server_errors(self, count: int, status: int = 500, message: str = "Request timed out") -> None:
        """The next ``count`` requests answer ``status`` (Connect answers 500 when a herder request times out)."""
        with self._lock:
            self._server_errors.extend([(status, message)] * count)

    def fail_task(self, connector: str, task_id: int = 0, *, trace: str = DEFAULT_TRACE, times: int | None = 1) -> None:
        """The next ``times`` starts of task ``task_id`` fail with ``trace`` (``None``: every start fails)."""
        with self._lock:
            self._failures[(connector, task_id)] = _Failure(trace, times)
            conn = self._connectors.get(connector)
            if conn and conn.tasks and task_id < len(conn.tasks) and conn.tasks[task_id].state == "RUNNING":
                self._fail_now(conn.tasks[task_id], (connector, task_id))

    def fail_connector(self, connector: str, *, trace: str = DEFAULT_TRACE, times: int | None = 1) -> None:
        """The next ``times`` starts of the connector instance fail with ``trace``."""
        with self._lock:
            self._failures[(connector, -1)] = _Failure(trace, times)

    def set_start_delay(self, seconds: float) -> None:
        with self._lock:
            self.start_delay = seconds

    def set_offsets(self, connector: str, offsets: list[dict[str, Any]]) -> None:
        """Offsets the connector has committed (``[{"partition": {...}, "offset": {...}}]``)."""
        with self._lock:
            self._connectors[connector].offsets = list(offsets)

    def connector_names(self) -> list[str]:
        with self._lock:
            return sorted(self._connectors)

    def stored_config(self, name: str) -> dict[str, str] | None:
        with self._lock:
            conn = self._connectors.get(name)
            return dict(conn.config) if conn else None

    def recorded(self, method: str | None = None, path_prefix: str = "") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method) and r.path.startswith(path_prefix)]

    # ----------------------------------------------------------------- state machine
    def _fail_now(self, inst: _Instance, key: tuple[str, int]) -> bool:
        failure = self._failures.get(key)
        if failure is None or failure.remaining == 0:
            return False
        inst.state, inst.trace = "FAILED", failure.trace
        if failure.remaining is not None:
            failure.remaining -= 1
        return True

    def _settle(self, conn: _Connector, now: float) -> None:
        running_state = "PAUSED" if conn.target == "PAUSED" else "RUNNING"
        inst = conn.instance
        if conn.target == "STOPPED":
            inst.state, inst.trace, conn.tasks = "STOPPED", None, []
            return
        if inst.state in {"UNASSIGNED", "RESTARTING"} and now >= inst.ready_at:
            if not self._fail_now(inst, (conn.name, -1)):
                inst.state, inst.trace = running_state, None
        elif inst.state in {"RUNNING", "PAUSED"}:
            inst.state = running_state
        if inst.state in {"RUNNING", "PAUSED"} and conn.tasks is None:
            count = int(conn.config.get("tasks.max", "1") or 1)
            if conn.plugin.max_tasks is not None:
                count = min(count, conn.plugin.max_tasks)
            conn.tasks = [_Instance("UNASSIGNED", inst.ready_at + self.start_delay) for _ in range(count)]
        for task_id, task in enumerate(conn.tasks or []):
            if task.state in {"UNASSIGNED", "RESTARTING"} and now >= task.ready_at:
                if not self._fail_now(task, (conn.name, task_id)):
                    task.state, task.trace = running_state, None
            elif task.state in {"RUNNING", "PAUSED"}:
                task.state = running_state

    def _start(self, conn: _Connector, state: str = "UNASSIGNED", regenerate_tasks: bool = True) -> None:
        now = time.monotonic()
        conn.instance = _Instance(state, now + self.start_delay)
        if regenerate_tasks:
            conn.tasks = None

    def _status(self, conn: _Connector) -> dict[str, Any]:
        self._settle(conn, time.monotonic())

        def one(inst: _Instance, task_id: int | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {"state": inst.state, "worker_id": self.worker_id}
            if task_id is not None:
                out = {"id": task_id, **out}
            if inst.state == "FAILED" and inst.trace:
                out["trace"] = inst.trace
            return out

        return {
            "name": conn.name,
            "connector": one(conn.instance),
            "tasks": [one(t, i) for i, t in enumerate(conn.tasks or [])],
            "type": conn.plugin.type,
        }

    def _info(self, conn: _Connector) -> dict[str, Any]:
        self._settle(conn, time.monotonic())
        return {
            "name": conn.name,
            "config": dict(conn.config),
            "tasks": [{"connector": conn.name, "task": i} for i in range(len(conn.tasks or []))],
            "type": conn.plugin.type,
        }

    # ----------------------------------------------------------------- request handling
    def _get(self, name: str) -> _Connector:
        conn = self._connectors.get(name)
        if conn is None:
            raise _ApiError(404, f"Connector {name} not found")
        return conn

    def _forwarded(self) -> None:
        """Requests a worker forwards to the leader answer 409 while a rebalance is in progress."""
        if self._rebalance_left > 0:
            self._rebalance_left -= 1
            raise _ApiError(409, "Cannot complete request because of a conflicting operation (e.g. worker rebalance)")

    def _plugin_for(self, config: Mapping[str, str]) -> Plugin:
        cls = config.get("connector.class")
        if not cls:
            raise _ApiError(400, f"Connector config {dict(config)} contains no connector type")
        plugin = PLUGINS.get(cls) or next(
            (p for p in PLUGINS.values() if p.class_name.rsplit(".", 1)[-1] in {cls, f"{cls}Connector"}), None
        )
        if plugin is None:
            available = ", ".join(sorted(PLUGINS))
            raise _ApiError(
                400, f"Failed to find any class that implements Connector and which name matches {cls}, "
                f"available connectors are: {available}"
            )
        return plugin

    def _check_config(self, config: dict[str, str]) -> Plugin:
        plugin = self._plugin_for(config)
        result = validate_config(plugin, _resolve_placeholders(config, self.config_providers))
        if result["error_count"]:
            messages = [e for c in result["configs"] for e in c["value"]["errors"]]
            raise _ApiError(
                400,
                f"Connector configuration is invalid and contains the following {result['error_count']} error(s):\n"
                + "\n".join(messages)
                + "\nYou can also find the above list of errors at the endpoint "
                "`/connector-plugins/{connectorType}/config/validate`",
            )
        return plugin

    @staticmethod
    def _check_name(url_name: str, config: dict[str, str]) -> None:
        included = config.get("name")
        if included is not None and included != url_name:
            raise _ApiError(
                400, f"Connector name configuration ({included}) doesn't match connector name in the URL ({url_name})"
            )
        config["name"] = url_name

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        """Route one request; returns ``(status, JSON body or None)``."""
        with self._lock:
            if self._server_errors:
                status, message = self._server_errors.pop(0)
                raise _ApiError(status, message)
            parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
            return self._route(method, parts, query, body)

    def _route(self, method: str, parts: list[str], query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if not parts:
            if method == "GET":
                return 200, {"version": self.version, "commit": self.commit, "kafka_cluster_id": self.kafka_cluster_id}
            raise _ApiError(405, "HTTP 405 Method Not Allowed")
        if parts[0] == "connector-plugins":
            return self._route_plugins(method, parts[1:], body)
        if parts[0] != "connectors":
            raise _ApiError(404, "HTTP 404 Not Found")
        if len(parts) == 1:
            if method == "GET":
                names = sorted(self._connectors)
                expand = query.get("expand", [])
                if not expand:
                    return 200, names
                out: dict[str, Any] = {}
                for name in names:
                    conn = self._connectors[name]
                    out[name] = {k: (self._status(conn) if k == "status" else self._info(conn))
                                 for k in expand if k in {"status", "info"}}
                return 200, out
            if method == "POST":
                if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
                    raise _ApiError(400, "Connector config is missing or not a JSON object")
                name = str(body.get("name") or "").strip()
                config = {str(k): str(v) for k, v in body["config"].items()}
                self._check_name(name, config)
                self._forwarded()
                if name in self._connectors:
                    raise _ApiError(409, f"Connector {name} already exists")
                plugin = self._check_config(config)
                conn = _Connector(name, config, plugin)
                self._connectors[name] = conn
                self._start(conn)
                return 201, self._info(conn)
            raise _ApiError(405, "HTTP 405 Method Not Allowed")
        return self._route_connector(method, parts[1], parts[2:], query, body)

    def _route_plugins(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if not rest and method == "GET":
            return 200, [p.info() for p in PLUGINS.values()]
        if len(rest) == 3 and rest[1:] == ["config", "validate"] and method == "PUT":
            if not isinstance(body, dict):
                raise _ApiError(400, "Connector config is missing or not a JSON object")
            config = {str(k): str(v) for k, v in body.items()}
            included = config.get("connector.class")
            strip = lambda n: n[: -len("Connector")] if n.endswith("Connector") and len(n) > 9 else n  # noqa: E731
            if included is not None and not strip(included).endswith(strip(rest[0])):
                raise _ApiError(400, f"Included connector type {included} does not match request type {rest[0]}")
            plugin = self._plugin_for(config)
            return 200, validate_config(plugin, _resolve_placeholders(config, self.config_providers))
        raise _ApiError(404, "HTTP 404 Not Found")

    def _route_connector(
        self, method: str, name: str, rest: list[str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        flag = lambda key: (query.get(key, ["false"])[-1].lower() == "true")  # noqa: E731
        if not rest:
            if method == "GET":
                self._forwarded()
                return 200, self._info(self._get(name))
            if method == "DELETE":
                self._forwarded()
                self._get(name)
                del self._connectors[name]
                return 204, None
        elif rest == ["config"]:
            if method == "GET":
                self._forwarded()
                return 200, dict(self._get(name).config)
            if method == "PUT":
                if not isinstance(body, dict):
                    raise _ApiError(400, "Connector config is missing or not a JSON object")
                config = {str(k): str(v) for k, v in body.items()}
                self._check_name(name, config)
                self._forwarded()
                plugin = self._check_config(config)
                existing = self._connectors.get(name)
                if existing is None:
                    conn = _Connector(name, config, plugin)
                    self._connectors[name] = conn
                    self._start(conn)
                    return 201, self._info(conn)
                existing.config, existing.plugin = config, plugin
                if existing.target != "STOPPED":
                    self._start(existing)  # a config change restarts the connector and regenerates its tasks
                return 200, self._info(existing)
        elif rest == ["status"] and method == "GET":
            found = self._connectors.get(name)
            if found is None:
                raise _ApiError(404, f"No status found for connector {name}")
            return 200, self._status(found)
        elif rest == ["tasks"] and method == "GET":
            self._forwarded()
            conn = self._get(name)
            self._settle(conn, time.monotonic())
            return 200, [{"id": {"connector": name, "task": i}, "config": {"task.class": conn.config["connector.class"]}}
                         for i in range(len(conn.tasks or []))]
        elif len(rest) == 3 and rest[0] == "tasks" and rest[2] == "status" and method == "GET":
            found = self._connectors.get(name)
            status = self._status(found) if found else None
            task = next((t for t in (status or {}).get("tasks", []) if str(t["id"]) == rest[1]), None)
            if task is None:
                raise _ApiError(404, f"No status found for task {name}-{rest[1]}")
            return 200, task
        elif len(rest) == 3 and rest[0] == "tasks" and rest[2] == "restart" and method == "POST":
            self._forwarded()
            conn = self._get(name)
            self._settle(conn, time.monotonic())
            if not rest[1].isdigit() or int(rest[1]) >= len(conn.tasks or []):
                raise _ApiError(404, f"Task {name}-{rest[1]} not found")
            (conn.tasks or [])[int(rest[1])].state = "RESTARTING"
            (conn.tasks or [])[int(rest[1])].ready_at = time.monotonic() + self.start_delay
            return 204, None
        elif rest == ["restart"] and method == "POST":
            self._forwarded()
            conn = self._get(name)
            include_tasks, only_failed = flag("includeTasks"), flag("onlyFailed")
            if not include_tasks and not only_failed:
                self._start(conn, "RESTARTING", regenerate_tasks=False)
                return 204, None
            return 202, self._restart(conn, include_tasks, only_failed)
        elif rest == ["pause"] and method == "PUT":
            conn = self._get(name)
            if conn.target == "STOPPED":
                self._start(conn)
            conn.target = "PAUSED"
            self._settle(conn, time.monotonic())
            return 202, None
        elif rest == ["resume"] and method == "PUT":
            conn = self._get(name)
            was_stopped = conn.target == "STOPPED"
            conn.target = "STARTED"
            if was_stopped:
                self._start(conn)
            self._settle(conn, time.monotonic())
            return 202, None
        elif rest == ["stop"] and method == "PUT":
            self._forwarded()
            conn = self._get(name)
            conn.target = "STOPPED"
            self._settle(conn, time.monotonic())
            return 204, None
        elif rest == ["offsets"] and method == "GET":
            self._forwarded()
            return 200, {"offsets": list(self._get(name).offsets)}
        raise _ApiError(405 if rest else 404, "HTTP 405 Method Not Allowed" if rest else "HTTP 404 Not Found")

    def _restart(self, conn: _Connector, include_tasks: bool, only_failed: bool) -> dict[str, Any]:
        """KIP-745 restart plan: what restarts, shown RESTARTING in the returned status."""
        now = time.monotonic()
        self._settle(conn, now)
        status = self._status(conn)
        if conn.target == "STOPPED":
            return status
        if not only_failed or conn.instance.state == "FAILED":
            conn.instance.state, conn.instance.trace = "RESTARTING", None
            conn.instance.ready_at = now + self.start_delay
            status["connector"] = {"state": "RESTARTING", "worker_id": self.worker_id}
        if include_tasks:
            for task_id, task in enumerate(conn.tasks or []):
                if not only_failed or task.state == "FAILED":
                    task.state, task.trace, task.ready_at = "RESTARTING", None, now + self.start_delay
                    status["tasks"][task_id] = {"id": task_id, "state": "RESTARTING", "worker_id": self.worker_id}
        return status


def _make_handler(fake: FakeKafkaConnect) -> type[BaseHTTPRequestHandler]:
    import base64

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "Jetty(9.4.56.v20240826)"

        def log_message(self, format: str, *args: Any) -> None:
            return  # request bodies carry credentials: never print them

        def _authorised(self) -> bool:
            if fake.basic_auth is None:
                return True
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return False
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return (user, password) == fake.basic_auth

        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body: Any = None
            status: int
            payload: Any
            if not self._authorised():
                with fake._lock:
                    fake.requests.append(RecordedRequest(method, split.path, parse_qs(split.query), None, 401))
                self._reply(401, "User cannot access the resource.", content_type="text/plain")
                return
            try:
                body = json.loads(raw) if raw else None
            except ValueError as exc:
                status, payload = 400, {"error_code": 400, "message": f"Unrecognized token: {exc}"}
            else:
                try:
                    status, payload = fake.handle(method, split.path, parse_qs(split.query), body)
                except _ApiError as exc:
                    status, payload = exc.status, {"error_code": exc.status, "message": exc.message}
                except Exception as exc:  # a bug in the fake must surface as a 500, like an unhandled Java exception
                    status, payload = 500, {"error_code": 500, "message": f"{type(exc).__name__}: {exc}"}
            with fake._lock:
                fake.requests.append(RecordedRequest(method, split.path, parse_qs(split.query), body, status))
            self._reply(status, payload)

        def _reply(self, status: int, payload: Any, content_type: str = "application/json") -> None:
            data = b"" if payload is None else (
                payload.encode() if isinstance(payload, str) and content_type != "application/json"
                else json.dumps(payload).encode()
            )
            self.send_response(status)
            if data:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data:
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

    return Handler

