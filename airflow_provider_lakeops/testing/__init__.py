"""The embedded local stack: moto, fakesnow over TLS, a Spark standalone cluster, an Airflow home.

Install the ``testing`` extra to use it. Importing this package is cheap; the servers start only
when :class:`LocalStack` is entered.
"""

from __future__ import annotations

from airflow_provider_lakeops.testing.stack import LocalStack, StackError, free_port

__all__ = ["LocalStack", "StackError", "free_port"]
