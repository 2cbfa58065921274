"""The Great Expectations runtime of
:class:`~airflow_provider_lakeops.operators.great_expectations.GXValidateOperator`:
importing GX (with a fix-it message), the in-memory context, the run time of a validation.

Great Expectations is imported inside the functions only.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["ephemeral_context", "import_gx", "run_time"]


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
        raise ImportError(
            "GXValidateOperator needs Great Expectations 1.x: pip install 'airflow-provider-lakeops[gx]'"
        ) from exc
    log.info("great_expectations %s ready (import took %.1f s)", gx.__version__, time.monotonic() - started)
    return gx


def ephemeral_context(gx: Any) -> Any:
    """An in-memory GX context: no files, no progress bars, no analytics."""
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
        data_docs_sites={},
    )
    return gx.get_context(mode="ephemeral", project_config=config)
