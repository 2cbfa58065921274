"""Land a day of generated customer-behaviour events (the demo's and the tests' data source), in a
local folder or an ``s3://`` prefix."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_lakeops.utils.storage import Location

__all__ = ["GenerateSampleEventsOperator"]


class GenerateSampleEventsOperator(BaseOperator):
    """Write one day of events from :mod:`airflow_provider_lakeops.sample_data` to a landing folder.

    The folder is replaced as a whole on every run (files are published atomically), so a rerun
    leaves the same files. On S3 the files are written locally first, then uploaded through the
    storage layer's S3 client (``S3Hook`` of ``aws_conn_id``) under the same names, and every other
    object below the prefix is deleted afterwards: a rerun ends with the same objects and no stale
    ones. Defects, duplicates and updates are on by default so that the data-quality gate and the
    MERGE have something real to catch.

    :param output_path: the landing folder, e.g. ``s3://lakeops-lake/landing/customer_events/dt={{ ds }}``
        or a local folder (templated).
    :param rows: number of rows, 0..100M (templated; a string that is an integer is accepted).
    :param day: the events' day, ``YYYY-MM-DD`` (templated, default ``{{ ds }}``).
    :param seed: random seed; the same seed and day give the same rows (templated).
    :param fmt: ``jsonl`` or ``parquet``.
    :param clean: write clean data (no defects, duplicates or updates).
    :param generator_kwargs: more arguments for :func:`~airflow_provider_lakeops.sample_data.write_events`
        such as ``defect_rate`` or ``duplicate_rate``.
    :param aws_conn_id: the AWS connection of an ``s3://`` ``output_path``.
    :return: the generation summary (XCom): ``rows``, ``day``, ``defects``, ``path`` and ``files``
        (paths or ``s3://`` URIs), counts only.
    :raises ValueError: a bad argument (nothing is written or removed).
    :raises FileNotFoundError: the bucket of an ``s3://`` ``output_path`` does not exist.

    .. seealso:: ``docs/operators/sample_events.md``
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
        aws_conn_id: str | None = "aws_default",
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
        self.aws_conn_id = aws_conn_id

    @staticmethod
    def _as_int(name: str, value: int | str) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an integer, got {value!r}") from None

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_lakeops.sample_data import write_events
        from airflow_provider_lakeops.utils.storage import parse_location

        text = str(self.output_path).strip()
        if not text:
            raise ValueError("output_path is empty: give the landing folder")
        location = parse_location(text, argument="output_path") if "://" in text else None
        if location is not None and location.is_s3 and not location.prefix:
            raise ValueError(
                f"output_path {text!r} is a bucket's root: give a folder below it (a rerun replaces "
                "everything under output_path)"
            )
        rows = self._as_int("rows", self.rows)
        seed = self._as_int("seed", self.seed)
        clean = str(self.clean).lower() in {"true", "1", "yes"}
        # validate everything before touching the folder: write_events validates its own arguments
        # again, but a bad size must not leave an emptied landing folder behind
        from airflow_provider_lakeops.sample_data import MAX_ROWS

        if rows < 0 or rows > MAX_ROWS:
            raise ValueError(f"rows must be between 0 and {MAX_ROWS:,}, got {rows:,}")
        if location is not None and location.is_s3:
            return self._land_s3(location, rows, seed, clean)
        folder = location.local_path if location is not None else Path(text)
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

    def _land_s3(self, location: Location, rows: int, seed: int, clean: bool) -> dict[str, Any]:
        """Generate locally, upload under the same names, then delete the prefix's other objects."""
        from airflow_provider_lakeops.sample_data import write_events
        from airflow_provider_lakeops.utils.storage import s3_client

        s3 = s3_client(aws_conn_id=self.aws_conn_id)
        try:
            s3.head_bucket(Bucket=location.bucket)
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise FileNotFoundError(
                    f"output_path {location.uri}: bucket {location.bucket!r} does not exist"
                ) from None
            raise
        with tempfile.TemporaryDirectory(prefix="lakeops-sample-") as tmp:
            summary = write_events(
                Path(tmp) / "day",
                rows,
                fmt=self.fmt,  # type: ignore[arg-type]  # checked in __init__
                day=self.day,
                seed=seed,
                clean=clean,
                **self.generator_kwargs,
            )
            keys = []
            for name in summary.files:
                key = location.prefix + Path(name).name
                s3.upload_file(str(name), location.bucket, key)
                keys.append(key)
        stale = [
            obj["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=location.bucket, Prefix=location.prefix
            )
            for obj in page.get("Contents", [])
            if obj["Key"] not in set(keys)
        ]
        for start in range(0, len(stale), 1000):
            s3.delete_objects(
                Bucket=location.bucket,
                Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]], "Quiet": True},
            )
        result = summary.to_dict()
        result["path"] = location.uri.rstrip("/")
        result["files"] = [f"s3://{location.bucket}/{k}" for k in keys]
        self.log.info(
            "Landed %s rows for %s in %s (%s object(s), %s stale object(s) removed); defects: %s",
            rows,
            summary.day,
            result["path"],
            len(keys),
            len(stale),
            summary.defects,
        )
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_lakeops.lineage.naming import location_dataset

        return OperatorLineage(outputs=[location_dataset(str(self.output_path)).to_openlineage()])
