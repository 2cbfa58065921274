"""Deploy a Debezium connector through Kafka Connect: validate, diff, apply, wait for RUNNING, recover.

Flow of :class:`DebeziumConnectorOperator` (nothing is written before step 5):

1. render the connector config (a templated JSON file, JSON text or a dict) and inject the
   database credentials from an Airflow connection (``database_conn_id``); the source kind
   (MySQL/MariaDB or PostgreSQL) comes from ``connector.class``; ``${provider:...}`` placeholders
   pass through untouched for the Connect worker's config providers to resolve;
2. preflight the source database (MySQL: binlog, ``ROW``, ``FULL``, server id, tables, grants;
   PostgreSQL: ``wal_level``, REPLICATION, tables, replica identity, SELECT, slot, publication);
3. validate through ``PUT /connector-plugins/{class}/config/validate``; errors fail the task with
   the per-key messages and no retry, except "cannot reach the database" ones (retried as transient);
4. diff against the running config (secret values masked); ``dry_run=True`` stops here; changes
   to keys that must never change on a live connector (``topic.prefix``, ``database.server.id``,
   ``slot.name``, ``database.dbname``) are refused unless allowed;
5. ``PUT /connectors/{name}/config`` only when something changed;
6. wait until the worker serves the new config, every task runs it and stays ``RUNNING`` for
   ``settle_seconds`` (deferrable); a ``FAILED`` task is restarted once (``onlyFailed``), then the
   task fails with the trimmed trace;
7. read the topics the connector writes from ``GET /connectors/{name}/topics`` (bounded wait when
   the snapshot has rows to write); computed ``<prefix>.<schema>.<table>`` names only as a logged
   fallback (XCom ``topics_source``).

The database password reaches only the request payload: it is never in the rendered template
fields, logs (it is ``mask_secret``-ed), XCom or lineage.

.. seealso:: ``docs/operators/debezium.md``
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_lakeops.exceptions import ConnectorDeploymentError
from airflow_provider_lakeops.operators.kafka_connect import (
    _ConnectorWaitMixin,
    failure_message,
    wait_for_state,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook
    from airflow_provider_lakeops.hooks.mysql_preflight import PreflightReport

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow < 3.1 keeps the config in airflow.configuration
    from airflow.configuration import conf  # type: ignore[no-redef]

__all__ = [
    "DEFAULT_IMMUTABLE_KEYS",
    "SOURCE_KINDS",
    "DebeziumConnectorOperator",
    "config_diff",
    "data_topics",
    "is_placeholder",
    "mask_config",
    "source_kind",
    "validation_errors",
]

DEFAULT_IMMUTABLE_KEYS = ("topic.prefix", "database.server.id", "slot.name", "database.dbname")
#: ``connector.class`` -> source kind (``mysql`` covers MariaDB: same protocol, same preflight).
SOURCE_KINDS = {
    "io.debezium.connector.mysql.MySqlConnector": "mysql",
    "io.debezium.connector.mariadb.MariaDbConnector": "mysql",
    "io.debezium.connector.postgresql.PostgresConnector": "postgres",
}
DEFAULT_PORTS = {"mysql": 3306, "postgres": 5432}
#: snapshot modes that read the captured tables when the connector starts without offsets.
SNAPSHOT_READS = {"initial", "always", "initial_only", "when_needed", "recovery", "schema_only_recovery"}
MASK = "***"
# Validation messages that say the database could not be reached (transient), as Debezium words them.
_UNREACHABLE = re.compile(
    r"refused|timed? ?out|timeout|Communications link failure|No route to host|Connection reset|"
    r"Name or service not known|UnknownHost|could not connect|starting up|too many connections", re.I)
_PLACEHOLDER = re.compile(r"^\$\{[A-Za-z0-9_.-]+:[^}]*\}$")
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|credential|jaas\.config|api\.key|private\.key)", re.I)


def is_placeholder(value: Any) -> bool:
    """``${file:/path:key}``-style config-provider reference (resolved by the Connect worker)."""
    return isinstance(value, str) and bool(_PLACEHOLDER.match(value.strip()))


def _is_secret(key: str, value: Any, secrets: Collection[str]) -> bool:
    return bool(_SECRET_KEY.search(key)) or (isinstance(value, str) and value in secrets)


def _shown(key: str, value: Any, secrets: Collection[str]) -> Any:
    if value is None or is_placeholder(value):
        return value
    if _is_secret(key, value, secrets):
        return MASK
    for secret in secrets:  # a secret embedded in a longer value (a JDBC URL...)
        if secret and isinstance(value, str) and secret in value:
            value = value.replace(secret, MASK)
    return value


def mask_config(config: Mapping[str, Any], secrets: Collection[str] = ()) -> dict[str, Any]:
    """``config`` with secret values (by key name, or equal to a known secret) replaced by ``***``."""
    return {k: _shown(k, v, secrets) for k, v in config.items()}


def config_diff(
    running: Mapping[str, str] | None, desired: Mapping[str, str], secrets: Collection[str] = ()
) -> list[dict[str, Any]]:
    """Changes from ``running`` to ``desired``: ``[{key, change: added|removed|changed, old, new}]``, masked."""
    running = running or {}
    changes = []
    for key in sorted(set(running) | set(desired)):
        old, new = running.get(key), desired.get(key)
        if old == new:
            continue
        change = "added" if key not in running else "removed" if key not in desired else "changed"
        changes.append({"key": key, "change": change, "old": _shown(key, old, secrets), "new": _shown(key, new, secrets)})
    return changes


def _normalise(config: Mapping[str, Any]) -> dict[str, str]:
    """Connect configs are string maps: booleans become ``true``/``false``, numbers their text."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"config keys must be non-empty strings, got {key!r}")
        if value is None:
            raise ValueError(f"config key {key!r} is null; Kafka Connect rejects null values (remove the key)")
        if isinstance(value, (dict, list, tuple, set)):
            raise ValueError(f"config key {key!r} holds a {type(value).__name__}; Connect configs are flat strings")
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _literal_table(pattern: str) -> str | None:
    name = pattern.replace("\\.", ".")
    return name if re.fullmatch(r"[\w$]+\.[\w$]+", name) else None


def source_kind(connector_class: str) -> str | None:
    """``mysql`` (MySQL and MariaDB connectors), ``postgres``, or ``None`` for another connector class."""
    return SOURCE_KINDS.get(connector_class.strip())


def validation_errors(validation: Mapping[str, Any]) -> dict[str, list[str]]:
    """``{key: [messages]}`` from a ``.../config/validate`` answer.

    The real worker lists entries whose ``value`` is ``null`` (Debezium 3.6 internal keys), so
    each entry is read defensively.
    """
    errors: dict[str, list[str]] = {}
    for entry in validation.get("configs") or []:
        value = (entry or {}).get("value") or {}
        if value.get("errors"):
            errors[str(value.get("name"))] = [str(m) for m in value["errors"]]
    return errors


def unreachable_only(errors: Mapping[str, list[str]]) -> bool:
    """Every validation error says the database could not be reached (worth a retry, not a config fix)."""
    messages = [m for msgs in errors.values() for m in msgs]
    return bool(messages) and all(_UNREACHABLE.search(m) and "validating connector config" in m for m in messages)


def data_topics(topics: Sequence[str], config: Mapping[str, str]) -> list[str]:
    """``topics`` without Debezium's non-table topics: schema changes (``<prefix>``), heartbeats,
    transactions and PostgreSQL logical-decoding messages (``<prefix>.message``: a
    :class:`~airflow_provider_lakeops.sensors.debezium_watermark.DebeziumWatermarkSensor` writes one)."""
    prefix = config.get("topic.prefix", "")
    heartbeat = config.get("topic.heartbeat.prefix", "__debezium-heartbeat")
    transaction = f"{prefix}.{config.get('topic.transaction', 'transaction')}"
    message = f"{prefix}.message"
    return sorted(t for t in topics
                  if t not in {prefix, transaction, message} and not t.startswith(f"{heartbeat}."))


class DebeziumConnectorOperator(_ConnectorWaitMixin, BaseOperator):
    """Deploy (create or update) a Debezium connector idempotently and wait for it to run.

    :param connector_name: the Kafka Connect connector name. (templated)
    :param config: the connector config: a path to a ``.json`` template (found through the DAG's
        ``template_searchpath``), JSON text, or a dict. It must not hold a literal
        ``database.password``. (templated)
    :param kafka_connect_conn_id: the ``kafka_connect`` connection.
    :param database_conn_id: an Airflow ``mysql`` or ``postgres`` connection matching the source
        kind that ``connector.class`` names (MySQL/MariaDB or PostgreSQL). Its host, port (default
        3306 / 5432), login and password become ``database.hostname``/``database.port`` (unless
        the config sets them: the Connect workers may reach the database under another name),
        ``database.user`` and ``database.password`` (unless the config holds a ``${...}``
        placeholder); for PostgreSQL its ``schema`` (the database) becomes ``database.dbname``
        unless the config sets it. It also drives the preflight.
    :param mysql_conn_id: deprecated alias of ``database_conn_id``.
    :param preflight: check the source database before deploying (needs ``database_conn_id``).
    :param dry_run: validate and report the diff, change nothing.
    :param immutable_keys: keys whose change on a live connector is refused.
    :param allow_immutable_changes: ``True``, or the immutable keys that may change this time.
    :param wait_for_running: wait until the connector runs the new config and every task is RUNNING.
    :param restart_failed_tasks: restart FAILED instances once before failing.
    :param wait_timeout: seconds to wait for RUNNING (restarts included).
    :param poll_interval: seconds between status polls.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param kafka_bootstrap_servers: the Kafka cluster the topics live in, for lineage and XCom;
        defaults to ``schema.history.internal.kafka.bootstrap.servers``. (templated)
    :param trace_max_chars: trim failure traces to this many characters.
    :param settle_seconds: every task must stay RUNNING this long before the deployment counts
        as running (a Debezium task reports RUNNING before its snapshot, which can still fail).
    :param topics_timeout: seconds to wait, once RUNNING, for Connect to report the topics the
        snapshot writes (``GET /connectors/{name}/topics``) when it has rows to write; 0 reads once.

    Returns (XCom) ``{connector, action: created|updated|unchanged, connector_state,
    task_states, changed_keys, restarted, source, tables, topics, topics_source:
    connect|computed, kafka_bootstrap_servers}``; a dry run returns ``{connector, action:
    dry_run, would, changes (masked), refused_keys}``.

    :raises ValueError: bad arguments (before anything is sent).
    :raises PreflightError: the database misses prerequisites (nothing deployed).
    :raises AirflowFailException: the worker rejects the config, or a refused immutable change
        (nothing deployed).
    :raises ConnectorDeploymentError: the connector did not reach RUNNING, or Connect / the
        database could not be reached (a retry may help).
    """

    template_fields: Sequence[str] = ("connector_name", "config", "kafka_bootstrap_servers")
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers = {"config": "json"}
    ui_color = "#dceefb"

    def __init__(
        self,
        *,
        connector_name: str,
        config: str | dict[str, Any],
        kafka_connect_conn_id: str = "kafka_connect_default",
        database_conn_id: str | None = None,
        mysql_conn_id: str | None = None,
        preflight: bool = True,
        dry_run: bool = False,
        immutable_keys: Sequence[str] = DEFAULT_IMMUTABLE_KEYS,
        allow_immutable_changes: bool | Collection[str] = False,
        wait_for_running: bool = True,
        restart_failed_tasks: bool = True,
        wait_timeout: float = 900.0,
        poll_interval: float = 5.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        kafka_bootstrap_servers: str | None = None,
        trace_max_chars: int = 2000,
        settle_seconds: float = 5.0,
        topics_timeout: float = 60.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(immutable_keys, str) or not all(isinstance(k, str) for k in immutable_keys):
            raise ValueError("immutable_keys must be a list of config key names, e.g. ['topic.prefix']")
        if not isinstance(allow_immutable_changes, bool) and (
            isinstance(allow_immutable_changes, str) or not all(isinstance(k, str) for k in allow_immutable_changes)
        ):
            raise ValueError("allow_immutable_changes must be True/False or a list of key names")
        if wait_timeout <= 0 or poll_interval <= 0:
            raise ValueError("wait_timeout and poll_interval must be positive numbers of seconds")
        if settle_seconds < 0 or topics_timeout < 0:
            raise ValueError("settle_seconds and topics_timeout must be 0 or positive numbers of seconds")
        if trace_max_chars < 200:
            raise ValueError("trace_max_chars must be at least 200 to keep the exception and its cause")
        if mysql_conn_id and database_conn_id and mysql_conn_id != database_conn_id:
            raise ValueError("pass database_conn_id only (mysql_conn_id is its deprecated alias)")
        if mysql_conn_id:
            warnings.warn("DebeziumConnectorOperator(mysql_conn_id=...) is deprecated; use database_conn_id",
                          DeprecationWarning, stacklevel=2)
        self.connector_name = connector_name
        self.config = config
        self.kafka_connect_conn_id = kafka_connect_conn_id
        self.database_conn_id = database_conn_id or mysql_conn_id
        self.preflight = preflight
        self.dry_run_mode = dry_run  # ``dry_run`` is a BaseOperator method
        self.immutable_keys = tuple(immutable_keys)
        self.allow_immutable_changes = allow_immutable_changes
        self.wait_for_running = wait_for_running
        self.restart_failed_tasks = restart_failed_tasks
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.deferrable = deferrable
        self.kafka_bootstrap_servers = kafka_bootstrap_servers
        self.trace_max_chars = trace_max_chars
        self.settle_seconds = settle_seconds
        self.topics_timeout = topics_timeout
        self._lineage_carry: dict[str, Any] | None = None

    @property
    def mysql_conn_id(self) -> str | None:
        """Deprecated alias of :attr:`database_conn_id`."""
        return self.database_conn_id

    @cached_property
    def hook(self) -> KafkaConnectHook:
        from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook

        return KafkaConnectHook(self.kafka_connect_conn_id)

    # ------------------------------------------------------------------ config
    def _rendered_config(self) -> dict[str, str]:
        raw: Any = self.config
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"config is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); pass a "
                    "dict, JSON text, or a path ending in .json found through the DAG's template_searchpath"
                ) from None
        if not isinstance(raw, Mapping):
            raise ValueError(f"config must be a JSON object / dict, got {type(raw).__name__}")
        config = _normalise(raw)
        name = str(self.connector_name or "").strip()
        if not name or any(ord(c) < 32 for c in name):
            raise ValueError(f"connector_name {self.connector_name!r} must be a non-empty name without control characters")
        if config.get("name", name) != name:
            raise ValueError(f"config name {config['name']!r} differs from connector_name {name!r}; remove one")
        if not config.get("connector.class"):
            raise ValueError("config has no connector.class (e.g. io.debezium.connector.postgresql.PostgresConnector)")
        self.connector_name = name
        password = config.get("database.password")
        if password is not None and not is_placeholder(password):
            raise ValueError(
                "config holds a literal database.password; remove it and set database_conn_id (the password is "
                "injected from the Airflow connection), or use a config-provider placeholder such as "
                "${file:/opt/kafka/secrets/db.properties:password}"
            )
        return {"name": name, **config}

    def _with_credentials(self, config: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        """The payload to send (credentials injected) and the secret values it holds."""
        payload = dict(config)
        secrets: list[str] = []
        conn_id = self.database_conn_id
        if not conn_id:
            if "database.password" not in payload:
                self.log.warning("No database_conn_id and no database.password placeholder: the connector user "
                                 "must have no password")
            return payload, secrets
        kind = source_kind(payload["connector.class"])
        if kind is None:
            raise ValueError(
                f"database_conn_id is set but connector.class {payload['connector.class']!r} is not a source this "
                f"operator knows ({', '.join(SOURCE_KINDS)}); set the database.* keys in the config instead"
            )
        from airflow.sdk import BaseHook
        from airflow.sdk.log import mask_secret

        conn = BaseHook.get_connection(conn_id)
        if conn.password:
            mask_secret(conn.password)
            secrets.append(conn.password)
        if conn.conn_type in set(DEFAULT_PORTS) - {kind} or (conn.conn_type == "mysql" and kind != "mysql"):
            raise ValueError(f"connection {conn_id!r} is a {conn.conn_type} connection but connector.class "
                             f"{payload['connector.class']} captures a {kind} database; pass a {kind} connection")
        if not conn.host and "database.hostname" not in payload:
            raise ValueError(f"connection {conn_id!r} has no host and the config no database.hostname")
        payload.setdefault("database.hostname", conn.host or "")
        payload.setdefault("database.port", str(conn.port or DEFAULT_PORTS[kind]))
        if kind == "postgres" and "database.dbname" not in payload:
            if not conn.schema:
                raise ValueError(f"connection {conn_id!r} names no database (its schema field) and the config has "
                                 "no database.dbname")
            payload["database.dbname"] = conn.schema
        user = payload.get("database.user")
        if user is None:
            if not conn.login:
                raise ValueError(f"connection {conn_id!r} has no login for database.user")
            payload["database.user"] = conn.login
        elif not is_placeholder(user) and user != conn.login:
            raise ValueError(
                f"config database.user {user!r} differs from the login of connection {conn_id!r}; "
                "remove database.user from the config (the connection provides it)"
            )
        if "database.password" not in payload and conn.password:
            payload["database.password"] = conn.password
        return payload, secrets

    def _refused(self, changes: list[dict[str, Any]]) -> list[str]:
        if self.allow_immutable_changes is True:
            return []
        allowed = set(self.allow_immutable_changes or ())
        return [c["key"] for c in changes if c["key"] in self.immutable_keys and c["key"] not in allowed]

    def _lineage_facts(self, payload: Mapping[str, str], report: PreflightReport | None) -> dict[str, Any]:
        from airflow_provider_lakeops.hooks.mysql_preflight import split_list

        kind = source_kind(payload["connector.class"]) or ""
        tables = list(report.tables) if report else []
        if not tables:  # no preflight: the literal entries of table.include.list
            tables = [t for t in map(_literal_table, split_list(payload.get("table.include.list"))) if t]
        prefix = payload.get("topic.prefix", "")
        bootstrap = self.kafka_bootstrap_servers or payload.get("schema.history.internal.kafka.bootstrap.servers")
        snapshot = payload.get("snapshot.mode", "initial").lower() in SNAPSHOT_READS
        with_rows = list(report.tables_with_rows) if report and kind == "postgres" else tables
        return {
            "source": kind,
            "tables": tables,
            "computed_topics": [f"{prefix}.{t}" for t in tables] if prefix else [],
            "expected_topics": [f"{prefix}.{t}" for t in with_rows] if prefix and snapshot else [],
            "routed": bool(payload.get("transforms", "").strip()),
            "bootstrap": bootstrap or "",
            "db_host": payload.get("database.hostname", ""),
            "db_port": payload.get("database.port", str(DEFAULT_PORTS.get(kind, ""))),
            "db_name": payload.get("database.dbname", ""),
            "prefix": prefix,
            "heartbeat_prefix": payload.get("topic.heartbeat.prefix", "__debezium-heartbeat"),
            "transaction_topic": payload.get("topic.transaction", "transaction"),
        }

    # ------------------------------------------------------------------ execute
    def execute(self, context: Context) -> dict[str, Any]:
        started = time.time()
        desired = self._rendered_config()
        payload, secrets = self._with_credentials(desired)
        name = payload["name"]
        report = self._run_preflight(payload)
        self._validate(payload, secrets)

        running = self.hook.get_connector_config_or_none(name)
        changes = config_diff(running, payload, secrets)
        for change in changes:
            self.log.info("%s %s: %s -> %s", name, change["key"], change["old"], change["new"])
        refused = self._refused(changes) if running is not None else []
        if self.dry_run_mode:
            would = "create" if running is None else "update" if changes else "none"
            self.log.info("Dry run: would %s %s (%s change(s)); nothing changed", would, name, len(changes))
            return {"connector": name, "action": "dry_run", "would": would, "changes": changes, "refused_keys": refused}
        if refused:
            error = ConnectorDeploymentError(
                f"refusing to change {', '.join(refused)} on the live connector {name}: a new topic.prefix "
                "re-snapshots into new topics, a new database.server.id breaks the binlog position, a new "
                "slot.name or database.dbname starts from a new replication slot; pass "
                "allow_immutable_changes=[...] (or True) if this is intended",
                connector=name, details={"refused_keys": refused},
            )
            raise _fail(str(error)) from error

        if running is None or changes:
            created = self._put(payload, secrets)
            action = "created" if created else "updated"
        else:
            action = "unchanged"
        self.log.info("Connector %s %s (%s key(s) changed)", name, action, len(changes))
        secret_keys = [k for k, v in payload.items() if not is_placeholder(v) and _is_secret(k, v, secrets)]
        from airflow_provider_lakeops.triggers.kafka_connect import seal_config

        carry = {"connector": name, "action": action, "changed_keys": [c["key"] for c in changes], "restarted": [],
                 "started": started, "end_time": time.time() + self.wait_timeout,
                 "expected_config": seal_config(payload, secret_keys), **self._lineage_facts(payload, report)}
        self._lineage_carry = carry
        if not self.wait_for_running:
            status = self.hook.get_connector_status(name)
            from airflow_provider_lakeops.triggers.kafka_connect import evaluate_status

            return self._result(context, carry, {"status": "success", **evaluate_status(status).as_event()})
        return self._wait(context, carry)

    def _validate(self, payload: Mapping[str, str], secrets: Collection[str]) -> None:
        """Validate through the worker; rejected configs fail without retry, unreachable databases may retry."""
        from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectApiError

        name = payload["name"]
        try:
            validation = self.hook.validate_config(payload["connector.class"], payload)
        except KafkaConnectApiError as exc:
            if exc.transient:
                raise
            raise _fail(f"Kafka Connect refused to validate the config of {name}: "
                        f"{self._redact(str(exc), secrets)}; nothing was deployed") from exc
        errors = validation_errors(validation)
        if not (validation.get("error_count") or errors):
            return
        detail = "\n".join(f"  {key}: {'; '.join(self._redact(m, secrets) for m in msgs)}" for key, msgs in errors.items())
        if unreachable_only(errors):
            raise ConnectorDeploymentError(
                f"Kafka Connect could not reach the database to validate {name} (a retry may help); nothing was "
                f"deployed:\n{detail}", connector=name, details={"errors": errors, "transient": True},
            )
        error = ConnectorDeploymentError(
            f"Kafka Connect rejected the config of {name} ({validation.get('error_count')} error(s)); nothing "
            f"was deployed:\n{detail}", connector=name, details={"errors": errors},
        )
        raise _fail(str(error)) from error

    def _put(self, payload: Mapping[str, str], secrets: Collection[str]) -> bool:
        """PUT the config; a 500 is validated again (Connect 4.3 answers an invalid config with a 500)."""
        from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectApiError

        name = payload["name"]
        try:
            created, _ = self.hook.put_connector_config(name, payload, retry_server_errors=False)
        except KafkaConnectApiError as exc:
            if exc.status_code is None or exc.status_code < 500:
                raise
            self.log.warning("PUT of %s answered %s; validating again to tell a rejected config from an outage",
                             name, exc.status_code)
            self._validate(payload, secrets)
            created, _ = self.hook.put_connector_config(name, payload)
        return created

    def _run_preflight(self, payload: Mapping[str, str]) -> PreflightReport | None:
        if not self.preflight or not self.database_conn_id:
            if self.preflight:
                self.log.info("Preflight skipped: no database_conn_id")
            return None
        kind = source_kind(payload["connector.class"])
        if kind == "postgres":
            from airflow_provider_lakeops.hooks import postgres_preflight

            report = postgres_preflight.preflight_for_config(
                postgres_preflight.postgres_hook(self.database_conn_id, payload.get("database.dbname")), payload)
        else:
            from airflow.providers.mysql.hooks.mysql import MySqlHook

            from airflow_provider_lakeops.hooks import mysql_preflight

            report = mysql_preflight.preflight_for_config(MySqlHook(mysql_conn_id=self.database_conn_id), payload)
        report.raise_for_problems()
        self.log.info("%s preflight passed for %s: %s table(s) captured (%s)", report.source, report.user,
                      len(report.tables), ", ".join(report.tables))
        return report

    @staticmethod
    def _redact(text: str, secrets: Collection[str]) -> str:
        for secret in secrets:
            if secret:
                text = text.replace(secret, MASK)
        return text

    def _wait_args(self, carry: Mapping[str, Any]) -> dict[str, Any]:
        return {"expected_config": carry.get("expected_config"), "restarted": list(carry.get("restarted") or []),
                "restart_grace_until": carry.get("restart_grace_until")}

    def _wait(self, context: Context, carry: dict[str, Any]) -> dict[str, Any]:
        name = self.connector_name
        while True:
            if self.deferrable:
                remaining = max(1.0, carry["end_time"] - time.time())
                self.defer(trigger=self._trigger("RUNNING", carry["end_time"], carry, **self._wait_args(carry)),
                           method_name="execute_complete", timeout=timedelta(seconds=remaining + 60))
            event = wait_for_state(self.hook, name, target_state="RUNNING", end_time=carry["end_time"],
                                   poll_interval=self.poll_interval, trace_max_chars=self.trace_max_chars, carry=carry,
                                   settle_seconds=self.settle_seconds, **self._wait_args(carry))
            if not self._restart_if_failed(event):
                return self._result(context, carry, event)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        carry = event.setdefault("carry", {})
        self._lineage_carry = carry
        self.connector_name = carry.get("connector") or event.get("connector") or self.connector_name
        if self._restart_if_failed(event):
            return self._wait(context, carry)
        return self._result(context, carry, event)

    def _restart_if_failed(self, event: dict[str, Any]) -> bool:
        """Restart the FAILED instances once (``onlyFailed``); ``True`` when the wait must go on."""
        from airflow_provider_lakeops.triggers.kafka_connect import RESTART_GRACE_SECONDS

        carry = event.setdefault("carry", {})
        if event.get("status") != "failed" or not self.restart_failed_tasks or carry.get("restarted"):
            return False
        failed = [f["id"] for f in event.get("failed") or []]
        self.log.warning("Connector %s: %s FAILED; restarting the failed instances once:\n%s",
                         event.get("connector"), ", ".join(failed), failure_message(event))
        self.hook.restart_connector(str(event.get("connector")), include_tasks=True, only_failed=True)
        carry["restarted"] = failed
        carry["restart_grace_until"] = time.time() + RESTART_GRACE_SECONDS
        return True

    def _topics(self, carry: dict[str, Any], *, wait: bool = True) -> tuple[list[str], str]:
        """The data topics Connect reports for the connector (bounded wait), or the computed names as a fallback."""
        name = self.connector_name
        config = {"topic.prefix": carry.get("prefix", ""), "topic.heartbeat.prefix": carry.get("heartbeat_prefix", ""),
                  "topic.transaction": carry.get("transaction_topic", "transaction")}
        expected = set(carry.get("expected_topics") or [])
        deadline = time.time() + (self.topics_timeout if wait and (expected or carry.get("routed")) else 0)
        topics: list[str] = []
        stable_since, previous = time.time(), None
        while True:
            try:
                topics = data_topics(self.hook.get_connector_topics(name), config)
            except Exception as exc:  # topics are a report, not the deployment: fall back below
                self.log.warning("Could not read the topics of %s from Kafka Connect: %s", name, exc)
                break
            if topics != previous:
                stable_since, previous = time.time(), topics
            covered = expected <= set(topics) if not carry.get("routed") else bool(topics) and (
                time.time() - stable_since >= self.settle_seconds)
            if (covered and (topics or not expected)) or time.time() >= deadline:
                break
            time.sleep(min(max(self.poll_interval / 5, 0.2), 1.0))
        computed = list(carry.get("computed_topics") or [])
        if topics:
            missing = sorted(expected - set(topics)) if not carry.get("routed") else []
            if missing:
                self.log.warning("Kafka Connect does not list %s for %s after %.0f s; the snapshot may still be "
                                 "running", ", ".join(missing), name, self.topics_timeout)
            if set(topics) != set(computed):
                self.log.info("Topics of %s from Kafka Connect: %s (computed names: %s)", name, ", ".join(topics),
                              ", ".join(computed) or "none")
            return topics, "connect"
        if computed:
            self.log.warning(
                "Kafka Connect lists no topics for %s yet (nothing written so far); using the computed names %s. "
                "A routing transform or a topic naming strategy makes them wrong: check GET /connectors/%s/topics",
                name, ", ".join(computed), name)
        return computed, "computed"

    def _result(self, context: Context, carry: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        name = self.connector_name
        if event.get("status") != "success":
            prefix = "after restarting " + ", ".join(carry["restarted"]) + " once: " if carry.get("restarted") else ""
            raise ConnectorDeploymentError(prefix + failure_message(event), connector=name,
                                           details={k: v for k, v in event.items() if k != "carry"})
        topics, topics_source = self._topics(carry, wait=self.wait_for_running)
        carry["topics"] = topics
        result = {
            "connector": name, "action": carry.get("action"), "connector_state": event.get("connector_state"),
            "task_states": event.get("task_states", {}), "changed_keys": carry.get("changed_keys", []),
            "restarted": carry.get("restarted", []), "source": carry.get("source", ""),
            "tables": carry.get("tables", []), "topics": topics, "topics_source": topics_source,
            "kafka_bootstrap_servers": carry.get("bootstrap", ""),
        }
        self.log.info("Connector %s is %s with tasks %s", name, result["connector_state"], result["task_states"])
        from airflow_provider_lakeops.notifications.metrics import emit_operator_metrics

        emit_operator_metrics(self, context, {
            "changed_keys": len(result["changed_keys"]), "restarted_instances": len(result["restarted"]),
            "deploy_duration_seconds": max(0.0, time.time() - float(carry.get("started") or time.time())),
        })
        return result

    # ------------------------------------------------------------------ lineage
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Inputs: the captured tables (``mysql://`` / ``postgres://``); outputs: the Kafka topics written."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_lakeops.lineage.naming import kafka_dataset, mysql_dataset, postgres_dataset

        carry = self._lineage_carry
        if not carry:
            return OperatorLineage()
        inputs, outputs = [], []
        host, port = str(carry.get("db_host") or ""), carry.get("db_port")
        for table in carry.get("tables", []) if host else []:
            first, _, rest = table.partition(".")
            if carry.get("source") == "postgres" and carry.get("db_name"):
                inputs.append(postgres_dataset(host, port, carry["db_name"], first, rest).to_openlineage())
            elif carry.get("source") == "mysql":
                inputs.append(mysql_dataset(host, port, first, rest).to_openlineage())
        if carry.get("bootstrap"):
            topics = carry.get("topics") or carry.get("computed_topics") or []
            outputs = [kafka_dataset(carry["bootstrap"], topic).to_openlineage() for topic in topics]
        return OperatorLineage(inputs=inputs, outputs=outputs)


def _fail(message: str) -> Exception:
    """``AirflowFailException`` (no retry can help)."""
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:  # Airflow < 3.2
        from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]
    return AirflowFailException(message)
