"""Reading Kafka Connect's ``PUT /connector-plugins/{class}/config/validate`` answer.

A rejected config fails without retry; errors that only say the database could not be reached
are transient (a retry may help).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops._compat import AirflowFailException
from airflow_provider_lakeops.exceptions import ConnectorDeploymentError
from airflow_provider_lakeops.operators._kafka_connect.config import redact

if TYPE_CHECKING:
    from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook

__all__ = ["unreachable_only", "validate", "validation_errors"]

# Validation messages that say the database could not be reached (transient), as Debezium words them.
_UNREACHABLE = re.compile(
    r"refused|timed? ?out|timeout|Communications link failure|No route to host|Connection reset|"
    r"Name or service not known|UnknownHost|could not connect|starting up|too many connections",
    re.I,
)


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
    return bool(messages) and all(
        _UNREACHABLE.search(m) and "validating connector config" in m for m in messages
    )


def validate(hook: KafkaConnectHook, payload: Mapping[str, str], secrets: Collection[str]) -> None:
    """Validate through the worker; rejected configs fail without retry, unreachable databases may retry.

    :raises AirflowFailException: the worker rejects the config (or refuses to validate it).
    :raises ConnectorDeploymentError: the worker could not reach the database (transient).
    """
    from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectApiError

    name = payload["name"]
    try:
        validation = hook.validate_config(payload["connector.class"], payload)
    except KafkaConnectApiError as exc:
        if exc.transient:
            raise
        raise AirflowFailException(
            f"Kafka Connect refused to validate the config of {name}: "
            f"{redact(str(exc), secrets)}; nothing was deployed"
        ) from exc
    errors = validation_errors(validation)
    if not (validation.get("error_count") or errors):
        return
    detail = "\n".join(
        f"  {key}: {'; '.join(redact(m, secrets) for m in msgs)}" for key, msgs in errors.items()
    )
    if unreachable_only(errors):
        raise ConnectorDeploymentError(
            f"Kafka Connect could not reach the database to validate {name} (a retry may help); nothing was "
            f"deployed:\n{detail}",
            connector=name,
            details={"errors": errors, "transient": True},
        )
    error = ConnectorDeploymentError(
        f"Kafka Connect rejected the config of {name} ({validation.get('error_count')} error(s)); nothing "
        f"was deployed:\n{detail}",
        connector=name,
        details={"errors": errors},
    )
    raise AirflowFailException(str(error)) from error
