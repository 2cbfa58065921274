"""Kafka Connect REST API hook (connection type ``kafka_connect``).

No official provider talks to the Kafka Connect REST API (the Kafka provider's ``kafka``
connection is for brokers), so this hook does, with ``requests`` underneath: the same library
the official ``HttpHook`` uses. It adds what deployments need and ``HttpHook`` does not do:
bounded retries with exponential backoff on ``409 Conflict`` (a worker rebalance is in
progress), on 5xx answers and on connection errors, and the Connect error body
(``{"error_code": ..., "message": ...}``) turned into :class:`KafkaConnectApiError`.

Connection fields: ``host`` (may carry a scheme and a path prefix, e.g.
``https://connect.internal/kc``), ``port`` (default 8083), ``schema`` = the URL scheme
(``http`` or ``https``), ``login``/``password`` for HTTP basic auth (Connect's
``BasicAuthSecurityRestExtension``), and extras ``verify`` (``true``/``false`` or a CA bundle
path), ``ca_bundle`` (a CA bundle path, wins over ``verify``), ``timeout`` (seconds per request, default 30),
``max_retries`` (default 5) and ``retry_backoff`` (first wait in seconds, doubled each retry, capped at 30 s;
default 1).

Request and response bodies are never logged: connector configs carry credentials.

.. seealso:: ``docs/operators/debezium.md``
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow.sdk import BaseHook

from airflow_provider_lakeops.exceptions import ConnectorDeploymentError

if TYPE_CHECKING:
    import requests
    from airflow.sdk import Connection

__all__ = ["KafkaConnectApiError", "KafkaConnectHook", "KafkaConnectNotFoundError"]

DEFAULT_PORT = 8083
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_BACKOFF = 1.0
MAX_RETRY_BACKOFF = 30.0
RETRY_STATUSES = frozenset({409, 500, 502, 503, 504})


class KafkaConnectApiError(ConnectorDeploymentError):
    """Kafka Connect answered an error; carries the HTTP status and Connect's ``error_code``/``message``."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: int | None = None,
        method: str = "",
        path: str = "",
        connector: str | None = None,
    ) -> None:
        super().__init__(message, connector=connector, details={"status_code": status_code, "path": path})
        self.status_code = status_code
        self.error_code = error_code
        self.method = method
        self.path = path

    @property
    def transient(self) -> bool:
        """Whether a later attempt may succeed: Connect unreachable, 409 (rebalance) or a 5xx answer."""
        if self.status_code is None:
            return True
        return self.status_code in RETRY_STATUSES and "already exists" not in str(self)


class KafkaConnectNotFoundError(KafkaConnectApiError):
    """404: the connector (or task, or plugin) does not exist."""


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


def _as_bool(value: object, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class KafkaConnectHook(BaseHook):
    """Talk to a Kafka Connect cluster's REST API.

    :param kafka_connect_conn_id: the ``kafka_connect`` connection.
    :param timeout: seconds per request (overrides the connection's ``timeout`` extra).
    :param max_retries: retries after the first attempt on 409/5xx/connection errors
        (overrides the ``max_retries`` extra); 0 disables retries.
    :param retry_backoff: first wait between retries in seconds, doubled each time up to 30 s
        (overrides the ``retry_backoff`` extra).
    :param connection: an already fetched connection (triggers fetch it asynchronously and mask
        its password themselves).
    """

    conn_name_attr = "kafka_connect_conn_id"
    default_conn_name = "kafka_connect_default"
    conn_type = "kafka_connect"
    hook_name = "Kafka Connect"

    def __init__(
        self,
        kafka_connect_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_backoff: float | None = None,
        connection: Connection | None = None,
    ) -> None:
        super().__init__()
        self.kafka_connect_conn_id = kafka_connect_conn_id
        self._timeout = timeout
        self._max_retries = max_retries
        self._retry_backoff = retry_backoff
        self._connection = connection

    # ------------------------------------------------------------------ connection form
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, list[str] | dict[str, str]]:
        """Connection form behaviour (fallback for Airflow versions that do not read
        ``ui-field-behaviour``)."""
        return {
            "hidden_fields": [],
            "relabeling": {"schema": "Scheme (http or https)", "login": "Username", "password": "Password"},
            "placeholders": {
                "host": "connect.example.internal",
                "port": str(DEFAULT_PORT),
                "schema": "http",
                "extra": '{"verify": true, "ca_bundle": "", "timeout": '
                '30, "max_retries": 5, "retry_backoff": 1}',
            },
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra form fields (fallback for Airflow versions that do not read ``conn-fields``; needs
        wtforms)."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, StringField

        return {
            "verify": BooleanField(lazy_gettext("Verify TLS certificates"), default=True),
            "ca_bundle": StringField(lazy_gettext("CA bundle path"), widget=BS3TextFieldWidget()),
            "timeout": StringField(lazy_gettext("Request timeout (seconds)"), widget=BS3TextFieldWidget()),
            "max_retries": StringField(lazy_gettext("Max retries"), widget=BS3TextFieldWidget()),
            "retry_backoff": StringField(
                lazy_gettext("Retry backoff (seconds)"), widget=BS3TextFieldWidget()
            ),
        }

    # ------------------------------------------------------------------ settings
    @cached_property
    def connection(self) -> Connection:
        """The connection; its password is masked when the hook fetched it (callers that pass one mask it)."""
        if self._connection is not None:
            return self._connection
        conn = self.get_connection(self.kafka_connect_conn_id)
        if conn.password:
            from airflow.sdk.log import mask_secret

            mask_secret(conn.password)
        return conn

    @cached_property
    def _extra(self) -> dict[str, Any]:
        extra = dict(self.connection.extra_dejson or {})
        prefix = f"extra__{self.conn_type}__"  # form fields saved by old Airflow UIs
        for key, value in list(extra.items()):
            if key.startswith(prefix) and value not in (None, ""):
                extra.setdefault(key[len(prefix) :], value)
        return extra

    @cached_property
    def base_url(self) -> str:
        """``scheme://host:port[/prefix]`` of the Connect REST API."""
        conn = self.connection
        host = (conn.host or "").strip()
        if not host:
            raise ValueError(
                f"connection {self.kafka_connect_conn_id!r} has no host; set it to the Connect worker's "
                "REST address, e.g. connect.example.internal"
            )
        scheme = (conn.schema or "").strip().lower() or "http"
        if "://" in host:
            parts = urlsplit(host)
            scheme = parts.scheme or scheme
            host, prefix = parts.hostname or "", parts.path.rstrip("/")
            port = conn.port or parts.port
        else:
            host, _, rest = host.partition("/")
            prefix = f"/{rest.strip('/')}" if rest.strip("/") else ""
            port = conn.port
        if scheme not in {"http", "https"}:
            raise ValueError(
                f"connection {self.kafka_connect_conn_id!r}: scheme {scheme!r} is not http or https "
                "(the Schema field holds the scheme)"
            )
        return f"{scheme}://{host}:{port or DEFAULT_PORT}{prefix}"

    @property
    def timeout(self) -> float:
        return float(
            self._timeout if self._timeout is not None else self._extra.get("timeout", DEFAULT_TIMEOUT)
        )

    @property
    def max_retries(self) -> int:
        value = self._max_retries if self._max_retries is not None else self._extra.get("max_retries")
        return max(0, int(value if value is not None else DEFAULT_MAX_RETRIES))

    @property
    def retry_backoff(self) -> float:
        value = self._retry_backoff if self._retry_backoff is not None else self._extra.get("retry_backoff")
        return max(0.0, float(value if value is not None else DEFAULT_RETRY_BACKOFF))

    @property
    def verify(self) -> bool | str:
        """``requests``' ``verify``: the ``ca_bundle`` extra if set, else the ``verify`` extra (default
        ``True``)."""
        if self._extra.get("ca_bundle"):
            return str(self._extra["ca_bundle"])
        value = self._extra.get("verify", True)
        if isinstance(value, str) and value.strip().lower() not in {
            "",
            "1",
            "0",
            "true",
            "false",
            "yes",
            "no",
        }:
            return value  # a CA bundle path
        return _as_bool(value, True)

    def get_conn(self) -> requests.Session:
        """A ``requests.Session`` with auth, TLS verification and JSON headers set."""
        return self._session

    @cached_property
    def _session(self) -> requests.Session:
        import requests

        session = requests.Session()
        session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
        if self.connection.login:
            session.auth = (self.connection.login, self.connection.password or "")
        session.verify = self.verify
        return session

    # ------------------------------------------------------------------ transport
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        connector: str | None = None,
    ) -> Any:
        """Send one request with bounded retries; return the decoded JSON body (``None`` for 202/204 without
        one).

        :raises KafkaConnectNotFoundError: on 404.
        :raises KafkaConnectApiError: on any other error answer, or when retries run out.
        """
        return self.send(method, path, json=json, params=params, connector=connector)[1]

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        connector: str | None = None,
        retry_server_errors: bool = True,
    ) -> tuple[int, Any]:
        """Like :meth:`request`, returning ``(HTTP status, decoded body)``.

        Retried: 409 (rebalance in progress, but not "already exists"), 500/502/503/504 (unless
        ``retry_server_errors`` is false: Kafka Connect 4.3 answers a PUT of an invalid config
        with a 500) and connection errors or timeouts, ``max_retries`` times with exponential backoff.

        :raises KafkaConnectNotFoundError: on 404.
        :raises KafkaConnectApiError: on any other error answer, or when retries run out.
        """
        import requests

        url = f"{self.base_url}{path}"
        attempts = self.max_retries + 1
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._session.request(method, url, json=json, params=params, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt < attempts:
                    self._wait(attempt, method, path, f"{type(exc).__name__}")
                    continue
                raise KafkaConnectApiError(
                    f"{method} {path}: Kafka Connect at {self.base_url} is unreachable after {attempts} "
                    f"attempt(s): {type(exc).__name__}",
                    method=method,
                    path=path,
                    connector=connector,
                ) from exc
            if response.status_code < 400:
                return response.status_code, self._decode(response)
            error_code, message = self._error_of(response)
            retryable = (
                response.status_code in RETRY_STATUSES
                and "already exists" not in message
                and (retry_server_errors or response.status_code == 409)
            )
            if retryable and attempt < attempts:
                reason = "rebalance in progress" if response.status_code == 409 else "server error"
                self._wait(attempt, method, path, f"{response.status_code} ({reason})")
                continue
            error_cls = KafkaConnectNotFoundError if response.status_code == 404 else KafkaConnectApiError
            suffix = f" after {attempts} attempts" if retryable else ""
            raise error_cls(
                f"{method} {path} -> {response.status_code}{suffix}: {message}",
                status_code=response.status_code,
                error_code=error_code,
                method=method,
                path=path,
                connector=connector,
            )

    def _wait(self, attempt: int, method: str, path: str, reason: str) -> None:
        delay = min(self.retry_backoff * (2 ** (attempt - 1)), MAX_RETRY_BACKOFF)
        self.log.warning(
            "Kafka Connect: %s %s failed with %s; retry %s/%s in %.2f s",
            method,
            path,
            reason,
            attempt,
            self.max_retries,
            delay,
        )
        time.sleep(delay)

    @staticmethod
    def _decode(response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    @staticmethod
    def _error_of(response: requests.Response) -> tuple[int | None, str]:
        try:
            body = response.json()
        except ValueError:
            return None, (response.text or response.reason or "").strip()[:500]
        if isinstance(body, dict):
            return body.get("error_code"), str(body.get("message", "")).strip()
        return None, str(body)[:500]

    # ------------------------------------------------------------------ REST API
    def get_server_info(self) -> dict[str, str]:
        """``GET /``: the worker's ``version``, ``commit`` and ``kafka_cluster_id``."""
        return self.request("GET", "/")

    def list_plugins(self) -> list[dict[str, Any]]:
        """``GET /connector-plugins``."""
        return self.request("GET", "/connector-plugins")

    def list_connectors(self, expand: str | list[str] | None = None) -> Any:
        """``GET /connectors``: names, or a ``{name: {status, info}}`` map with ``expand``."""
        params = [("expand", e) for e in ([expand] if isinstance(expand, str) else expand or [])]
        return self.request("GET", "/connectors", params=params or None)

    def get_connector(self, name: str) -> dict[str, Any]:
        """``GET /connectors/{name}``: ``{name, config, tasks, type}``."""
        return self.request("GET", f"/connectors/{_segment(name)}", connector=name)

    def get_connector_config(self, name: str) -> dict[str, str]:
        """``GET /connectors/{name}/config`` (placeholders such as ``${file:...}`` come back unresolved)."""
        return self.request("GET", f"/connectors/{_segment(name)}/config", connector=name)

    def get_connector_config_or_none(self, name: str) -> dict[str, str] | None:
        """The running config, or ``None`` when the connector does not exist."""
        try:
            return self.get_connector_config(name)
        except KafkaConnectNotFoundError:
            return None

    def put_connector_config(
        self, name: str, config: Mapping[str, str], *, retry_server_errors: bool = True
    ) -> tuple[bool, dict[str, Any]]:
        """``PUT /connectors/{name}/config`` (create or update); returns ``(created, connector info)``.

        Connect answers 201 when it created the connector and 200 when it updated it. A config
        that fails validation gets a 500 from Kafka Connect 4.3 (a NullPointerException about
        ``ConfigInfo.configValue()``), not a 400: validate first, or pass
        ``retry_server_errors=False`` and validate on a 500.
        """
        status, info = self.send(
            "PUT",
            f"/connectors/{_segment(name)}/config",
            json=dict(config),
            connector=name,
            retry_server_errors=retry_server_errors,
        )
        return status == 201, info

    def create_connector(self, name: str, config: Mapping[str, str]) -> dict[str, Any]:
        """``POST /connectors`` (201; 409 "already exists" is not retried)."""
        return self.request(
            "POST", "/connectors", json={"name": name, "config": dict(config)}, connector=name
        )

    def validate_config(self, plugin_class: str, config: Mapping[str, str]) -> dict[str, Any]:
        """``PUT /connector-plugins/{class}/config/validate``: ``{name, error_count, groups, configs}``."""
        return self.request(
            "PUT", f"/connector-plugins/{_segment(plugin_class)}/config/validate", json=dict(config)
        )

    def get_connector_status(self, name: str) -> dict[str, Any]:
        """``GET /connectors/{name}/status``:
        ``{name, connector: {state, worker_id}, tasks: [...], type}``."""
        return self.request("GET", f"/connectors/{_segment(name)}/status", connector=name)

    def get_connector_topics(self, name: str) -> list[str]:
        """``GET /connectors/{name}/topics``: the topics the connector has produced to since it was created.

        Kafka Connect tracks them (``topic.tracking.enable``, on by default) as records go out, so a
        connector that has written nothing yet has none; the real 4.3 worker answers 200 with an
        empty list even for a connector that does not exist.
        """
        body = self.request("GET", f"/connectors/{_segment(name)}/topics", connector=name) or {}
        return sorted(str(t) for t in (body.get(name) or {}).get("topics") or [])

    def get_task_status(self, name: str, task_id: int) -> dict[str, Any]:
        """``GET /connectors/{name}/tasks/{id}/status``."""
        return self.request(
            "GET", f"/connectors/{_segment(name)}/tasks/{int(task_id)}/status", connector=name
        )

    def get_tasks(self, name: str) -> list[dict[str, Any]]:
        """``GET /connectors/{name}/tasks``."""
        return self.request("GET", f"/connectors/{_segment(name)}/tasks", connector=name)

    def restart_connector(
        self, name: str, *, include_tasks: bool = False, only_failed: bool = False
    ) -> dict[str, Any] | None:
        """``POST /connectors/{name}/restart``.

        With both flags false only the connector instance restarts (204, no body); otherwise
        Connect answers 202 with the status, instances to be restarted shown as ``RESTARTING``.
        """
        params = {"includeTasks": str(include_tasks).lower(), "onlyFailed": str(only_failed).lower()}
        return self.request("POST", f"/connectors/{_segment(name)}/restart", params=params, connector=name)

    def restart_task(self, name: str, task_id: int) -> None:
        """``POST /connectors/{name}/tasks/{id}/restart`` (204)."""
        self.request("POST", f"/connectors/{_segment(name)}/tasks/{int(task_id)}/restart", connector=name)

    def pause_connector(self, name: str) -> None:
        """``PUT /connectors/{name}/pause`` (202; the state changes asynchronously)."""
        self.request("PUT", f"/connectors/{_segment(name)}/pause", connector=name)

    def resume_connector(self, name: str) -> None:
        """``PUT /connectors/{name}/resume`` (202)."""
        self.request("PUT", f"/connectors/{_segment(name)}/resume", connector=name)

    def stop_connector(self, name: str) -> None:
        """``PUT /connectors/{name}/stop`` (Connect 3.5+; 204): tasks shut down, config and offsets kept."""
        self.request("PUT", f"/connectors/{_segment(name)}/stop", connector=name)

    def delete_connector(self, name: str, *, missing_ok: bool = False) -> bool:
        """``DELETE /connectors/{name}`` (204); returns ``False`` if it was already gone and
        ``missing_ok``."""
        try:
            self.request("DELETE", f"/connectors/{_segment(name)}", connector=name)
        except KafkaConnectNotFoundError:
            if missing_ok:
                return False
            raise
        return True

    def get_offsets(self, name: str) -> dict[str, Any]:
        """``GET /connectors/{name}/offsets`` (Connect 3.5+): ``{"offsets": [{partition, offset}, ...]}``."""
        return self.request("GET", f"/connectors/{_segment(name)}/offsets", connector=name)

    def test_connection(self) -> tuple[bool, str]:
        """Reach ``GET /`` and report the worker's version."""
        try:
            info = self.get_server_info()
        except Exception as exc:
            return False, str(exc)
        if not isinstance(info, dict) or "version" not in info:
            return False, f"{self.base_url} answered, but not like a Kafka Connect worker"
        return True, (
            f"Kafka Connect {info.get('version')} (commit {info.get('commit')}, "
            f"Kafka cluster {info.get('kafka_cluster_id')}) at {self.base_url}"
        )
