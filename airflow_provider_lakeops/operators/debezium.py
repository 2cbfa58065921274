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

import time
import warnings
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_lakeops._compat import AirflowFailException, conf
from airflow_provider_lakeops.exceptions import ConnectorDeploymentError
from airflow_provider_lakeops.operators._kafka_connect.config import (
    MASK,
    config_diff,
    is_placeholder,
    is_secret,
    mask_config,
    render_config,
)
from airflow_provider_lakeops.operators._kafka_connect.source import (
    DEFAULT_PORTS,
    SOURCE_KINDS,
    run_preflight,
    source_kind,
    with_credentials,
)
from airflow_provider_lakeops.operators._kafka_connect.topics import (
    SNAPSHOT_READS,
    connector_topics,
    data_topics,
    lineage_facts,
)
from airflow_provider_lakeops.operators._kafka_connect.validation import (
    unreachable_only,
    validate,
    validation_errors,
)
from airflow_provider_lakeops.operators._kafka_connect.wait import (
    ConnectorWaitMixin,
    failure_message,
    wait_for_state,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context
    from airflow.sdk.types import RuntimeTaskInstanceProtocol

    from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook
    from airflow_provider_lakeops.operators._kafka_connect.mysql_preflight import PreflightReport

__all__ = [
    "DEFAULT_IMMUTABLE_KEYS",
    "DEFAULT_PORTS",
    "MASK",
    "SNAPSHOT_READS",
    "SOURCE_KINDS",
    "DebeziumConnectorOperator",
    "config_diff",
    "data_topics",
    "is_placeholder",
    "mask_config",
    "source_kind",
    "unreachable_only",
    "validation_errors",
]

DEFAULT_IMMUTABLE_KEYS = ("topic.prefix", "database.server.id", "slot.name", "database.dbname")


class DebeziumConnectorOperator(ConnectorWaitMixin, BaseOperator):
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
            isinstance(allow_immutable_changes, str)
            or not all(isinstance(k, str) for k in allow_immutable_changes)
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
            warnings.warn(
                "DebeziumConnectorOperator(mysql_conn_id=...) is deprecated; use database_conn_id",
                DeprecationWarning,
                stacklevel=2,
            )
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
        config = render_config(self.config, self.connector_name)
        self.connector_name = config["name"]
        return config

    def _with_credentials(self, config: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        """The payload to send (credentials injected) and the secret values it holds."""
        return with_credentials(config, self.database_conn_id, self.log)

    def _refused(self, changes: list[dict[str, Any]]) -> list[str]:
        if self.allow_immutable_changes is True:
            return []
        allowed = set(self.allow_immutable_changes or ())
        return [c["key"] for c in changes if c["key"] in self.immutable_keys and c["key"] not in allowed]

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
            return {
                "connector": name,
                "action": "dry_run",
                "would": would,
                "changes": changes,
                "refused_keys": refused,
            }
        if refused:
            error = ConnectorDeploymentError(
                f"refusing to change {', '.join(refused)} on the live connector {name}: a new topic.prefix "
                "re-snapshots into new topics, a new database.server.id breaks the binlog position, a new "
                "slot.name or database.dbname starts from a new replication slot; pass "
                "allow_immutable_changes=[...] (or True) if this is intended",
                connector=name,
                details={"refused_keys": refused},
            )
            raise AirflowFailException(str(error)) from error

        if running is None or changes:
            created = self._put(payload, secrets)
            action = "created" if created else "updated"
        else:
            action = "unchanged"
        self.log.info("Connector %s %s (%s key(s) changed)", name, action, len(changes))
        secret_keys = [k for k, v in payload.items() if not is_placeholder(v) and is_secret(k, v, secrets)]
        from airflow_provider_lakeops.triggers.kafka_connect import seal_config

        carry = {
            "connector": name,
            "action": action,
            "changed_keys": [c["key"] for c in changes],
            "restarted": [],
            "started": started,
            "end_time": time.time() + self.wait_timeout,
            "expected_config": seal_config(payload, secret_keys),
            **lineage_facts(payload, report, self.kafka_bootstrap_servers),
        }
        self._lineage_carry = carry
        if not self.wait_for_running:
            status = self.hook.get_connector_status(name)
            from airflow_provider_lakeops.triggers.kafka_connect import evaluate_status

            return self._result(context, carry, {"status": "success", **evaluate_status(status).as_event()})
        return self._wait(context, carry)

    def _validate(self, payload: Mapping[str, str], secrets: Collection[str]) -> None:
        """Validate through the worker; rejected configs fail without retry, unreachable databases may
        retry."""
        validate(self.hook, payload, secrets)

    def _put(self, payload: Mapping[str, str], secrets: Collection[str]) -> bool:
        """PUT the config; a 500 is validated again (Connect 4.3 answers an invalid config with a 500)."""
        from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectApiError

        name = payload["name"]
        try:
            created, _ = self.hook.put_connector_config(name, payload, retry_server_errors=False)
        except KafkaConnectApiError as exc:
            if exc.status_code is None or exc.status_code < 500:
                raise
            self.log.warning(
                "PUT of %s answered %s; validating again to tell a rejected config from an outage",
                name,
                exc.status_code,
            )
            self._validate(payload, secrets)
            created, _ = self.hook.put_connector_config(name, payload)
        return created

    def _run_preflight(self, payload: Mapping[str, str]) -> PreflightReport | None:
        if not self.preflight or not self.database_conn_id:
            if self.preflight:
                self.log.info("Preflight skipped: no database_conn_id")
            return None
        report = run_preflight(self.database_conn_id, payload)
        self.log.info(
            "%s preflight passed for %s: %s table(s) captured (%s)",
            report.source,
            report.user,
            len(report.tables),
            ", ".join(report.tables),
        )
        return report

    def _wait_args(self, carry: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "expected_config": carry.get("expected_config"),
            "restarted": list(carry.get("restarted") or []),
            "restart_grace_until": carry.get("restart_grace_until"),
        }

    def _wait(self, context: Context, carry: dict[str, Any]) -> dict[str, Any]:
        name = self.connector_name
        while True:
            if self.deferrable:
                remaining = max(1.0, carry["end_time"] - time.time())
                self.defer(
                    trigger=self._trigger("RUNNING", carry["end_time"], carry, **self._wait_args(carry)),
                    method_name="execute_complete",
                    timeout=timedelta(seconds=remaining + 60),
                )
            event = wait_for_state(
                self.hook,
                name,
                target_state="RUNNING",
                end_time=carry["end_time"],
                poll_interval=self.poll_interval,
                trace_max_chars=self.trace_max_chars,
                carry=carry,
                settle_seconds=self.settle_seconds,
                **self._wait_args(carry),
            )
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
        self.log.warning(
            "Connector %s: %s FAILED; restarting the failed instances once:\n%s",
            event.get("connector"),
            ", ".join(failed),
            failure_message(event),
        )
        self.hook.restart_connector(str(event.get("connector")), include_tasks=True, only_failed=True)
        carry["restarted"] = failed
        carry["restart_grace_until"] = time.time() + RESTART_GRACE_SECONDS
        return True

    def _topics(self, carry: dict[str, Any], *, wait: bool = True) -> tuple[list[str], str]:
        """The data topics Connect reports for the connector (bounded wait), or the computed names as a
        fallback."""
        return connector_topics(
            self.hook,
            self.connector_name,
            carry,
            timeout=self.topics_timeout,
            settle_seconds=self.settle_seconds,
            poll_interval=self.poll_interval,
            log=self.log,
            wait=wait,
        )

    def _result(self, context: Context, carry: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        name = self.connector_name
        if event.get("status") != "success":
            prefix = (
                "after restarting " + ", ".join(carry["restarted"]) + " once: "
                if carry.get("restarted")
                else ""
            )
            raise ConnectorDeploymentError(
                prefix + failure_message(event),
                connector=name,
                details={k: v for k, v in event.items() if k != "carry"},
            )
        topics, topics_source = self._topics(carry, wait=self.wait_for_running)
        carry["topics"] = topics
        result = {
            "connector": name,
            "action": carry.get("action"),
            "connector_state": event.get("connector_state"),
            "task_states": event.get("task_states", {}),
            "changed_keys": carry.get("changed_keys", []),
            "restarted": carry.get("restarted", []),
            "source": carry.get("source", ""),
            "tables": carry.get("tables", []),
            "topics": topics,
            "topics_source": topics_source,
            "kafka_bootstrap_servers": carry.get("bootstrap", ""),
        }
        self.log.info(
            "Connector %s is %s with tasks %s", name, result["connector_state"], result["task_states"]
        )
        from airflow_provider_lakeops.notifications.metrics import emit_operator_metrics

        emit_operator_metrics(
            self,
            context,
            {
                "changed_keys": len(result["changed_keys"]),
                "restarted_instances": len(result["restarted"]),
                "deploy_duration_seconds": max(0.0, time.time() - float(carry.get("started") or time.time())),
            },
        )
        return result

    # ------------------------------------------------------------------ lineage
    def get_openlineage_facets_on_complete(
        self, task_instance: RuntimeTaskInstanceProtocol
    ) -> OperatorLineage:
        """Inputs: the captured tables (``mysql://`` / ``postgres://``); outputs: the Kafka topics written."""
        from airflow_provider_lakeops.operators._kafka_connect.lineage import debezium_lineage

        return debezium_lineage(self._lineage_carry)
