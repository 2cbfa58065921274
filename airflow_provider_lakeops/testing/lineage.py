"""Read OpenLineage events back from the file transport (JSON lines)."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

__all__ = ["LineageLog", "lineage_file_from_env", "run_event_errors"]

_EVENT_TYPES = {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"}
_NAME = re.compile(r"\S")


def lineage_file_from_env() -> Path:
    """The file that ``AIRFLOW__OPENLINEAGE__TRANSPORT`` (``type: file``) writes to."""
    raw = os.environ.get("AIRFLOW__OPENLINEAGE__TRANSPORT", "")
    if not raw:
        raise RuntimeError("AIRFLOW__OPENLINEAGE__TRANSPORT is not set")
    config = json.loads(raw)
    if config.get("type") != "file":
        raise RuntimeError(f"the OpenLineage transport is {config.get('type')!r}, not 'file'")
    return Path(config["log_file_path"])


class LineageLog:
    """The events of one file transport, filtered by DAG, task and event type."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else lineage_file_from_env()

    def events(self) -> list[dict[str, Any]]:
        return list(self._iter())

    def _iter(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    yield json.loads(line)

    def task_events(
        self,
        dag_id: str,
        task_id: str | None = None,
        event_type: str | None = None,
        run_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Events whose job name is ``dag_id.task_id`` (or any task of ``dag_id``)."""
        out = []
        for event in self._iter():
            name = event.get("job", {}).get("name", "")
            if task_id is None:
                if not name.startswith(f"{dag_id}."):
                    continue
            elif name != f"{dag_id}.{task_id}":
                continue
            if event_type and event.get("eventType") != event_type:
                continue
            if run_id and _airflow_run_id(event) != run_id:
                continue
            out.append(event)
        return out

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8") if self.path.exists() else ""


def _airflow_run_id(event: dict[str, Any]) -> str | None:
    facets = event.get("run", {}).get("facets", {})
    airflow = facets.get("airflow", {})
    return airflow.get("dagRun", {}).get("run_id") or airflow.get("taskInstance", {}).get("run_id")


def _uri(value: Any) -> bool:
    parsed = urlparse(str(value)) if isinstance(value, str) else None
    return bool(parsed and parsed.scheme and (parsed.netloc or parsed.path))


def _facet_errors(where: str, facets: Any) -> list[str]:
    if facets is None:
        return []
    if not isinstance(facets, dict):
        return [f"{where}: facets must be an object"]
    errors = []
    for key, facet in facets.items():
        if not isinstance(facet, dict):
            errors.append(f"{where}.{key}: a facet must be an object")
            continue
        for field in ("_producer", "_schemaURL"):
            if not _uri(facet.get(field)):
                errors.append(f"{where}.{key}: {field} must be a URI, got {facet.get(field)!r}")
    return errors


def run_event_errors(event: Any) -> list[str]:
    """What makes ``event`` break the OpenLineage ``RunEvent`` schema (spec 2-0-x): its required
    fields and their formats (``eventTime`` a date-time with a zone, ``producer``/``schemaURL`` URIs,
    ``run.runId`` a UUID, ``job``/dataset ``namespace`` + ``name`` non-empty strings, every facet an
    object with ``_producer`` and ``_schemaURL`` URIs, ``eventType`` one of the spec's values).
    An empty list means valid.

    The official JSON schema files are not shipped by any package these machines can install
    (the client is generated from them); this check is written from the spec's required fields.
    """
    if not isinstance(event, dict):
        return ["an event must be a JSON object"]
    errors: list[str] = []
    when = event.get("eventTime")
    try:
        parsed = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            errors.append(f"eventTime {when!r} has no time zone")
    except ValueError:
        errors.append(f"eventTime {when!r} is not an ISO 8601 date-time")
    for field in ("producer", "schemaURL"):
        if not _uri(event.get(field)):
            errors.append(f"{field} must be a URI, got {event.get(field)!r}")
    if "eventType" in event and event["eventType"] not in _EVENT_TYPES:
        errors.append(f"eventType {event['eventType']!r} is not one of {sorted(_EVENT_TYPES)}")
    run = event.get("run")
    if not isinstance(run, dict):
        errors.append("run is required")
    else:
        try:
            uuid.UUID(str(run.get("runId")))
        except ValueError:
            errors.append(f"run.runId {run.get('runId')!r} is not a UUID")
        errors += _facet_errors("run.facets", run.get("facets"))
    job = event.get("job")
    if not isinstance(job, dict):
        errors.append("job is required")
    else:
        for field in ("namespace", "name"):
            if not isinstance(job.get(field), str) or not _NAME.search(job[field]):
                errors.append(f"job.{field} must be a non-empty string")
        errors += _facet_errors("job.facets", job.get("facets"))
    for side in ("inputs", "outputs"):
        datasets = event.get(side, [])
        if not isinstance(datasets, list):
            errors.append(f"{side} must be an array")
            continue
        for i, dataset in enumerate(datasets):
            where = f"{side}[{i}]"
            if not isinstance(dataset, dict):
                errors.append(f"{where} must be an object")
                continue
            for field in ("namespace", "name"):
                if not isinstance(dataset.get(field), str) or not _NAME.search(dataset[field]):
                    errors.append(f"{where}.{field} must be a non-empty string")
            errors += _facet_errors(f"{where}.facets", dataset.get("facets"))
            facet_key = "inputFacets" if side == "inputs" else "outputFacets"
            errors += _facet_errors(f"{where}.{facet_key}", dataset.get(facet_key))
    return errors
