"""lakeops: an Apache Airflow 3 provider for operating a lakehouse."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
