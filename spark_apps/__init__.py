"""PySpark applications that lakeops operators submit with ``spark-submit``.

Nothing here imports Airflow: these modules run on Spark drivers and executors. In a wheel the
folder is shipped as ``airflow_provider_lakeops/spark_apps``; operators zip it and pass it to
Spark with ``--py-files`` so that ``import spark_apps.<module>`` works on any cluster.

* :mod:`spark_apps.pii_policy` - PII policy parsing and validation (pure Python, no pyspark).
* :mod:`spark_apps.masking` - one native Spark ``Column`` expression per masking strategy.
* :mod:`spark_apps.leak_guard` - scans masked output for PII patterns the policy left behind.
* :mod:`spark_apps.pii_masking_job` - the ``spark-submit`` entry point of ``PiiMaskingOperator``.
"""

from __future__ import annotations
