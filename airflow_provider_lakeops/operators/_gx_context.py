"""Helpers of :class:`~airflow_provider_lakeops.operators.great_expectations.GXValidateOperator`:
templating of locations and suite files, the in-memory GX context, Data Docs, result documents.

Great Expectations is imported inside the functions only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

__all__ = ["FileTemplate", "TextTemplate", "as_bool", "build_data_docs", "ephemeral_context", "import_gx",
           "needs_own_loader", "result_document", "run_time"]


class TextTemplate:
    """A location that merely ends like a template file (``.../result.json``): render it as text."""

    def __init__(self, text: str, env: jinja2.Environment) -> None:
        self.text, self.env = text, env

    def resolve(self, context: Mapping[str, Any]) -> str:
        return self.env.from_string(self.text).render(context)


class FileTemplate(TextTemplate):
    """A template file named by an absolute or templated path (Jinja's loader finds relative ones only)."""

    def resolve(self, context: Mapping[str, Any]) -> str:
        path = self.env.from_string(self.text).render(context)
        try:
            content = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise FileNotFoundError(f"template file {path!r} cannot be read: {exc.strerror}") from None
        return self.env.from_string(content).render(context)


def as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off", "", "none"}:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def needs_own_loader(value: str) -> bool:
    return value.startswith("/") or "{{" in value or "{%" in value


def run_time(context: Context) -> Any:
    from datetime import datetime, timezone

    dag_run = context.get("dag_run")
    for value in (context.get("logical_date"), getattr(dag_run, "run_after", None)):
        if value is not None:
            return value
    return datetime.now(timezone.utc)


def import_gx(log: Any) -> Any:
    # GX logs one INFO line per decorated function at import: keep task logs readable
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    started = time.monotonic()
    try:
        import great_expectations as gx
    except ImportError as exc:
        raise ImportError("GXValidateOperator needs Great Expectations 1.x: pip install "
                          "'airflow-provider-lakeops[gx]'") from exc
    log.info("great_expectations %s ready (import took %.1f s)", gx.__version__, time.monotonic() - started)
    return gx


def ephemeral_context(gx: Any) -> Any:
    """An in-memory GX context: no files, no progress bars, no analytics."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                               progress_bars=ProgressBarsConfig(globally=False), analytics_enabled=False,
                               data_docs_sites={})
    return gx.get_context(mode="ephemeral", project_config=config)


_RESULT_META_KEYS = ("great_expectations_version", "run_id", "validation_time", "validation_id",
                     "active_batch_definition")


def result_document(result: Any) -> dict[str, Any]:
    """GX's (already sanitised) result as JSON, with meta reduced to identifiers (no batch specs)."""
    document: dict[str, Any] = result.to_json_dict()
    meta = document.get("meta") or {}
    document["meta"] = {k: meta[k] for k in _RESULT_META_KEYS if k in meta}
    return document


def build_data_docs(gx_context: Any, result: Any, folder: str) -> str:
    """Build a Data Docs site of the sanitised result into ``folder``; return the index URL."""
    gx_context.add_data_docs_site(site_name="lakeops", site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": folder},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    store = gx_context.validation_results_store
    for key in store.list_keys():  # GX stored its raw copy during run(): replace it with the sanitised one
        store.set(key, result)
    gx_context.build_data_docs(site_names=["lakeops"])
    return str(gx_context.get_docs_sites_urls(site_name="lakeops")[0]["site_url"])
