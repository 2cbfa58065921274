"""Land a day of generated customer-behaviour events (the demo's and the tests' data source)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

__all__ = ["GenerateSampleEventsOperator"]


class GenerateSampleEventsOperator(BaseOperator):
    """Write one day of events from :mod:`airflow_provider_lakeops.sample_data` to a landing folder.

    The folder is replaced as a whole on every run (files are published atomically), so a rerun
    leaves the same files. Defects, duplicates and updates are on by default so that the
    data-quality gate and the MERGE have something real to catch.

    :param output_path: the landing folder, e.g. ``/lake/landing/customer_events/dt={{ ds }}`` (templated).
    :param rows: number of rows, 0..100M (templated; a string that is an integer is accepted).
    :param day: the events' day, ``YYYY-MM-DD`` (templated, default ``{{ ds }}``).
    :param seed: random seed; the same seed and day give the same rows (templated).
    :param fmt: ``jsonl`` or ``parquet``.
    :param clean: write clean data (no defects, duplicates or updates).
    :param generator_kwargs: more arguments for :func:`~airflow_provider_lakeops.sample_data.write_events`
        such as ``defect_rate`` or ``duplicate_rate``.
    """

    template_fields: Sequence[str] = ("output_path", "rows", "day", "seed", "clean")
    ui_color = "#d8f3dc"

    def __init__(
        self,
        *,
        output_path: str,
        rows: int | str = 1000,
        day: str = "{{ ds }}",
        seed: int | str = 42,
        fmt: str = "jsonl",
        clean: bool | str = False,
        generator_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if fmt not in ("jsonl", "parquet"):
            raise ValueError(f"fmt must be 'jsonl' or 'parquet', got {fmt!r}")
        self.output_path = output_path
        self.rows = rows
        self.day = day
        self.seed = seed
        self.fmt = fmt
        self.clean = clean
        self.generator_kwargs = generator_kwargs or {}

    @staticmethod
    def _as_int(name: str, value: int | str) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an integer, got {value!r}") from None

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_lakeops.sample_data import write_events

        if not str(self.output_path).strip():
            raise ValueError("output_path is empty: give the landing folder")
        if "://" in str(self.output_path):
            raise ValueError(
                f"output_path must be a local folder, got {self.output_path!r}: the generator "
                "writes local files (land them, then copy to object storage with a transfer operator)"
            )
        rows = self._as_int("rows", self.rows)
        seed = self._as_int("seed", self.seed)
        clean = str(self.clean).lower() in {"true", "1", "yes"}
        folder = Path(self.output_path)
        # validate everything before touching the folder: write_events validates its own arguments
        # again, but a bad size must not leave an emptied landing folder behind
        from airflow_provider_lakeops.sample_data import MAX_ROWS

        if rows < 0 or rows > MAX_ROWS:
            raise ValueError(f"rows must be between 0 and {MAX_ROWS:,}, got {rows:,}")
        staging = folder.with_name(f".{folder.name}.staging")
        if staging.exists():
            shutil.rmtree(staging)
        summary = write_events(
            staging,
            rows,
            fmt=self.fmt,  # type: ignore[arg-type]  # checked in __init__
            day=self.day,
            seed=seed,
            clean=clean,
            **self.generator_kwargs,
        )
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
        result = summary.to_dict()
        result["path"] = str(folder)
        result["files"] = [str(folder / Path(f).name) for f in summary.files]
        self.log.info(
            "Landed %s rows for %s in %s (%s file(s)); defects: %s",
            rows,
            summary.day,
            folder,
            len(result["files"]),
            summary.defects,
        )
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_lakeops.lineage.naming import location_dataset

        return OperatorLineage(outputs=[location_dataset(str(self.output_path)).to_openlineage()])
