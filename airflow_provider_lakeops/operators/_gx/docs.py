"""The documents a validation leaves behind: the (sanitised) GX result as JSON, and a Data Docs site.

Great Expectations objects are passed in; nothing here imports it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_data_docs", "result_document"]

_RESULT_META_KEYS = (
    "great_expectations_version",
    "run_id",
    "validation_time",
    "validation_id",
    "active_batch_definition",
)


def result_document(result: Any) -> dict[str, Any]:
    """GX's (already sanitised) result as JSON, with meta reduced to identifiers (no batch specs)."""
    document: dict[str, Any] = result.to_json_dict()
    meta = document.get("meta") or {}
    document["meta"] = {k: meta[k] for k in _RESULT_META_KEYS if k in meta}
    return document


def build_data_docs(gx_context: Any, result: Any, folder: str) -> str:
    """Build a Data Docs site of the sanitised result into ``folder``; return the index URL."""
    gx_context.add_data_docs_site(
        site_name="lakeops",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": folder},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    store = gx_context.validation_results_store
    for key in store.list_keys():  # GX stored its raw copy during run(): replace it with the sanitised one
        store.set(key, result)
    gx_context.build_data_docs(site_names=["lakeops"])
    return str(gx_context.get_docs_sites_urls(site_name="lakeops")[0]["site_url"])
