"""Deploy a Debezium connector through Kafka Connect: validate, diff, apply, wait for RUNNING, recover.

Flow of :class:`DebeziumConnectorOperator` (nothing is written before step 5):

1. render the connector config (a templated JSON file, JSON text or a dict) and inject the
   database credentials from an Airflow MySQL connection; ``${provider:...}`` placeholders pass
   through untouched for the Connect worker's config providers to resolve;
2. preflight the source database (binlog, ``ROW``, ``FULL`` row image, server id, tables, grants);
3. validate through ``PUT /connector-plugins/{class}/config/validate``; any error fails the task
   with the per-key messages;
4. diff against the running config (secret values masked); ``dry_run=True`` stops here; changes
   to keys that must never change on a live connector (``topic.prefix``, ``database.server.id``)
   are refused unless allowed;
5. ``PUT /connectors/{name}/config`` only when something changed;
6. wait until the connector and every task are ``RUNNING`` (deferrable); a ``FAILED`` task is
   restarted once (``onlyFailed``), then the task fails with the trimmed trace.

The database password reaches only the request payload: it is never in the rendered template
fields, logs (it is ``mask_secret``-ed), XCom or lineage.

.. seealso:: ``docs/operators/debezium.md``
"""

from __future__ import annotations

import json
import re
import time
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

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow < 3.1 keeps the config in airflow.configuration
    from airflow.configuration import conf  # type: ignore[no-redef]

__all__ = ["DEFAULT_IMMUTABLE_KEYS", "DebeziumConnectorOperator", "config_diff", "is_placeholder", "mask_config"]

DEFAULT_IMMUTABLE_KEYS = ("topic.prefix", "database.server.id")
MASK = "***"
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


class DebeziumConnectorOperator(_ConnectorWaitMixin, BaseOperator):
    """Deploy (create or update) a Debezium connector idempotently and wait for it to run.

    :param connector_name: the Kafka Connect connector name. (templated)
    :param config: the connector config: a path to a ``.json`` template (found through the DAG's
        ``template_searchpath``), JSON text, or a dict. It must not hold a literal
        ``database.password``. (templated)
    :param kafka_connect_conn_id: the ``kafka_connect`` connection.
    :param mysql_conn_id: an Airflow MySQL connection; its host, port, login and password become
        ``database.hostname``/``database.port`` (unless the config sets them: the Connect workers
        may reach the database under another name), ``database.user`` and ``database.password``
        (unless the config holds a ``${...}`` placeholder for them). It also drives the preflight.
    :param preflight: check the source database before deploying (needs ``mysql_conn_id``).
    :param dry_run: validate and report the diff, change nothing.
    :param immutable_keys: keys whose change on a live connector is refused.
    :param allow_immutable_changes: ``True``, or the immutable keys that may change this time.
    :param wait_for_running: wait until the connector and all tasks are RUNNING.
    :param restart_failed_tasks: restart FAILED instances once before failing.
    :param wait_timeout: seconds to wait for RUNNING (restarts included).
    :param poll_interval: seconds between status polls.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param kafka_bootstrap_servers: the Kafka cluster the topics live in, for lineage; defaults
        to ``schema.history.internal.kafka.bootstrap.servers``. (templated)
    :param trace_max_chars: trim failure traces to this many characters.

    Returns (XCom) ``{connector, action: created|updated|unchanged, connector_state,
    task_states, changed_keys, restarted, tables, topics, kafka_bootstrap_servers}``; a dry
    run returns ``{connector, action: dry_run, would, changes (masked), refused_keys}``.

    :raises ValueError: bad arguments (before anything is sent).
    :raises PreflightError: the database misses prerequisites (nothing deployed).
    :raises AirflowFailException: validation errors or a refused immutable change (nothing deployed).
    :raises ConnectorDeploymentError: the connector did not reach RUNNING.
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
        if trace_max_chars < 200:
            raise ValueError("trace_max_chars must be at least 200 to keep the exception and its cause")
        self.connector_name = connector_name
        self.config = config
        self.kafka_connect_conn_id = kafka_connect_conn_id
        self.mysql_conn_id = mysql_conn_id
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
        self._lineage_carry: dict[str, Any] | None = None

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
            raise ValueError("config has no connector.class (e.g. io.debezium.connector.mysql.MySqlConnector)")
        self.connector_name = name
        password = config.get("database.password")
        if password is not None and not is_placeholder(password):
            raise ValueError(
                "config holds a literal database.password; remove it and set mysql_conn_id (the password is "
                "injected from the Airflow connection), or use a config-provider placeholder such as "
                "${file:/opt/kafka/secrets/mysql.properties:password}"
            )
        return {"name": name, **config}

    def _with_credentials(self, config: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        """The payload to send (credentials injected) and the secret values it holds."""
        payload = dict(config)
        secrets: list[str] = []
        if not self.mysql_conn_id:
            if "database.password" not in payload:
                self.log.warning("No mysql_conn_id and no database.password placeholder: the connector user "
                                 "must have no password")
            return payload, secrets
        from airflow.sdk import BaseHook
        from airflow.sdk.log import mask_secret

        conn = BaseHook.get_connection(self.mysql_conn_id)
        if conn.password:
            mask_secret(conn.password)
            secrets.append(conn.password)
        if not conn.host and "database.hostname" not in payload:
            raise ValueError(f"connection {self.mysql_conn_id!r} has no host and the config no database.hostname")
        payload.setdefault("database.hostname", conn.host or "")
        payload.setdefault("database.port", str(conn.port or 3306))
        user = payload.get("database.user")
        if user is None:
            if not conn.login:
                raise ValueError(f"connection {self.mysql_conn_id!r} has no login for database.user")
            payload["database.user"] = conn.login
        elif not is_placeholder(user) and user != conn.login:
            raise ValueError(
                f"config database.user {user!r} differs from the login of connection {self.mysql_conn_id!r}; "
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

    def _lineage_facts(self, payload: Mapping[str, str], tables: list[str]) -> dict[str, Any]:
        from airflow_provider_lakeops.hooks.mysql_preflight import split_list

        if not tables:  # no preflight: the literal entries of table.include.list
            tables = [t for t in map(_literal_table, split_list(payload.get("table.include.list"))) if t]
        prefix = payload.get("topic.prefix", "")
        bootstrap = self.kafka_bootstrap_servers or payload.get("schema.history.internal.kafka.bootstrap.servers")
        return {
            "tables": tables,
            "topics": [f"{prefix}.{t}" for t in tables] if prefix else [],
            "bootstrap": bootstrap or "",
            "mysql_host": payload.get("database.hostname", ""),
            "mysql_port": payload.get("database.port", "3306"),
        }

    # ------------------------------------------------------------------ execute
    def execute(self, context: Context) -> dict[str, Any]:
        try:
            from airflow.sdk.exceptions import AirflowFailException
        except ImportError:  # Airflow < 3.2
            from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]

        started = time.time()
        desired = self._rendered_config()
        payload, secrets = self._with_credentials(desired)
        name = payload["name"]
        tables = self._run_preflight(payload)

        validation = self.hook.validate_config(payload["connector.class"], payload)
        errors = {
            c["value"]["name"]: c["value"]["errors"]
            for c in validation.get("configs", []) if c.get("value", {}).get("errors")
        }
        if validation.get("error_count") or errors:
            detail = "\n".join(f"  {key}: {'; '.join(self._redact(m, secrets) for m in msgs)}" for key, msgs in errors.items())
            error = ConnectorDeploymentError(
                f"Kafka Connect rejected the config of {name} ({validation.get('error_count')} error(s)); nothing "
                f"was deployed:\n{detail}", connector=name, details={"errors": errors},
            )
            raise AirflowFailException(str(error)) from error

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
                "re-snapshots into new topics and a new database.server.id breaks the binlog position; "
                "pass allow_immutable_changes=[...] (or True) if this is intended",
                connector=name, details={"refused_keys": refused},
            )
            raise AirflowFailException(str(error)) from error

        if running is None or changes:
            created, _ = self.hook.put_connector_config(name, payload)
            action = "created" if created else "updated"
        else:
            action = "unchanged"
        self.log.info("Connector %s %s (%s key(s) changed)", name, action, len(changes))
        carry = {"connector": name, "action": action, "changed_keys": [c["key"] for c in changes], "restarted": [],
                 "started": started, "end_time": time.time() + self.wait_timeout,
                 **self._lineage_facts(payload, tables)}
        self._lineage_carry = carry
        if not self.wait_for_running:
            status = self.hook.get_connector_status(name)
            from airflow_provider_lakeops.triggers.kafka_connect import evaluate_status

            return self._result(context, carry, {"status": "success", **evaluate_status(status).as_event()})
        return self._wait(context, carry)

    def _run_preflight(self, payload: Mapping[str, str]) -> list[str]:
        if not self.preflight or not self.mysql_conn_id:
            if self.preflight:
                self.log.info("Preflight skipped: no mysql_conn_id")
            return []
        from airflow.providers.mysql.hooks.mysql import MySqlHook

        from airflow_provider_lakeops.hooks.mysql_preflight import preflight_for_config

        report = preflight_for_config(MySqlHook(mysql_conn_id=self.mysql_conn_id), payload)
        report.raise_for_problems()
        self.log.info("Preflight passed for %s: %s table(s) captured (%s)", report.user, len(report.tables),
                      ", ".join(report.tables))
        return report.tables

    @staticmethod
    def _redact(text: str, secrets: Collection[str]) -> str:
        for secret in secrets:
            if secret:
                text = text.replace(secret, MASK)
        return text

    def _wait(self, context: Context, carry: dict[str, Any]) -> dict[str, Any]:
        name = self.connector_name
        while True:
            if self.deferrable:
                remaining = max(1.0, carry["end_time"] - time.time())
                self.defer(trigger=self._trigger("RUNNING", carry["end_time"], carry), method_name="execute_complete",
                           timeout=timedelta(seconds=remaining + 60))
            event = wait_for_state(self.hook, name, target_state="RUNNING", end_time=carry["end_time"],
                                   poll_interval=self.poll_interval, trace_max_chars=self.trace_max_chars, carry=carry)
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
        carry = event.setdefault("carry", {})
        if event.get("status") != "failed" or not self.restart_failed_tasks or carry.get("restarted"):
            return False
        failed = [f["id"] for f in event.get("failed") or []]
        self.log.warning("Connector %s: %s FAILED; restarting the failed instances once:\n%s",
                         event.get("connector"), ", ".join(failed), failure_message(event))
        self.hook.restart_connector(str(event.get("connector")), include_tasks=True, only_failed=True)
        carry["restarted"] = failed
        return True

    def _result(self, context: Context, carry: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        name = self.connector_name
        if event.get("status") != "success":
            prefix = "after restarting " + ", ".join(carry["restarted"]) + " once: " if carry.get("restarted") else ""
            raise ConnectorDeploymentError(prefix + failure_message(event), connector=name, details=event)
        result = {
            "connector": name, "action": carry.get("action"), "connector_state": event.get("connector_state"),
            "task_states": event.get("task_states", {}), "changed_keys": carry.get("changed_keys", []),
            "restarted": carry.get("restarted", []), "tables": carry.get("tables", []),
            "topics": carry.get("topics", []), "kafka_bootstrap_servers": carry.get("bootstrap", ""),
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
        """Inputs: the captured MySQL tables; outputs: their Kafka topics (``<prefix>.<db>.<table>``)."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_lakeops.lineage.naming import kafka_dataset, mysql_dataset

        carry = self._lineage_carry
        if not carry:
            return OperatorLineage()
        inputs, outputs = [], []
        for table in carry.get("tables", []):
            database, _, name = table.partition(".")
            if carry.get("mysql_host"):
                inputs.append(mysql_dataset(carry["mysql_host"], carry.get("mysql_port"), database, name).to_openlineage())
        if carry.get("bootstrap"):
            outputs = [kafka_dataset(carry["bootstrap"], topic).to_openlineage() for topic in carry.get("topics", [])]
        return OperatorLineage(inputs=inputs, outputs=outputs)
