"""Connector configs as Kafka Connect takes them: parsing, flat string maps, secrets masked, diffs.

``${provider:...}`` placeholders (resolved by the Connect worker's config providers) pass through
untouched and are never treated as secret values. What is a secret, and how it is masked, is
decided by :mod:`airflow_provider_lakeops.utils.redaction`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from airflow_provider_lakeops.utils.redaction import (
    MASK,
    is_secret_entry,
    mask_entry,
    mask_mapping,
    redact_secrets,
)

__all__ = [
    "MASK",
    "config_diff",
    "is_placeholder",
    "is_secret",
    "mask_config",
    "normalise",
    "redact",
    "render_config",
]

_PLACEHOLDER = re.compile(r"^\$\{[A-Za-z0-9_.-]+:[^}]*\}$")


def is_placeholder(value: object) -> bool:
    """``${file:/path:key}``-style config-provider reference (resolved by the Connect worker)."""
    return isinstance(value, str) and bool(_PLACEHOLDER.match(value.strip()))


def is_secret(key: str, value: object, secrets: Collection[str]) -> bool:
    """A secret by its key name, or because the value is one of the known ``secrets``."""
    return is_secret_entry(key, value, secrets)


def _shown(key: str, value: str | None, secrets: Collection[str]) -> str | None:
    return mask_entry(key, value, secrets, keep=is_placeholder)


def mask_config(config: Mapping[str, Any], secrets: Collection[str] = ()) -> dict[str, Any]:
    """``config`` with secret values (by key name, or equal to a known secret) replaced by ``***``."""
    return mask_mapping(config, secrets, keep=is_placeholder)


def config_diff(
    running: Mapping[str, str] | None, desired: Mapping[str, str], secrets: Collection[str] = ()
) -> list[dict[str, str | None]]:
    """Changes from ``running`` to ``desired``: ``[{key, change: added|removed|changed, old, new}]``,
    masked."""
    running = running or {}
    changes = []
    for key in sorted(set(running) | set(desired)):
        old, new = running.get(key), desired.get(key)
        if old == new:
            continue
        change = "added" if key not in running else "removed" if key not in desired else "changed"
        changes.append(
            {"key": key, "change": change, "old": _shown(key, old, secrets), "new": _shown(key, new, secrets)}
        )
    return changes


def redact(text: str, secrets: Collection[str]) -> str:
    """``text`` with every known secret value replaced by ``***``."""
    return redact_secrets(text, secrets)


def normalise(config: Mapping[str, object]) -> dict[str, str]:
    """Connect configs are string maps: booleans become ``true``/``false``, numbers their text."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"config keys must be non-empty strings, got {key!r}")
        if value is None:
            raise ValueError(
                f"config key {key!r} is null; Kafka Connect rejects null values (remove the key)"
            )
        if isinstance(value, (dict, list, tuple, set)):
            raise ValueError(
                f"config key {key!r} holds a {type(value).__name__}; Connect configs are flat strings"
            )
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def render_config(raw: object, connector_name: object) -> dict[str, str]:
    """The rendered ``config`` argument (JSON text or a dict) as a Connect payload with its ``name``.

    :raises ValueError: not a JSON object, a bad or mismatching name, no ``connector.class``, or a
        literal ``database.password`` (it must come from the Airflow connection or a placeholder).
    """
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
    config = normalise(raw)
    name = str(connector_name or "").strip()
    if not name or any(ord(c) < 32 for c in name):
        raise ValueError(
            f"connector_name {connector_name!r} must be a non-empty name without control characters"
        )
    if config.get("name", name) != name:
        raise ValueError(f"config name {config['name']!r} differs from connector_name {name!r}; remove one")
    if not config.get("connector.class"):
        raise ValueError(
            "config has no connector.class (e.g. io.debezium.connector.postgresql.PostgresConnector)"
        )
    password = config.get("database.password")
    if password is not None and not is_placeholder(password):
        raise ValueError(
            "config holds a literal database.password; remove it and set database_conn_id (the password is "
            "injected from the Airflow connection), or use a config-provider placeholder such as "
            "${file:/opt/kafka/secrets/db.properties:password}"
        )
    return {"name": name, **config}
