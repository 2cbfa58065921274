"""Read OpenLineage events back from the file transport (JSON lines)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["LineageLog", "lineage_file_from_env"]


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
