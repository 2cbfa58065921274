"""
### lakeops_merged_table_consumer

Scheduled on the Airflow Asset of the merged Snowflake table
(``snowflake://lakeops/LAKEOPS/PUBLIC/CUSTOMER_BEHAVIOR``, from ``airflow_provider_lakeops.assets``):
it runs whenever ``lakeops_customer_behavior_daily`` has merged a day into
``LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR``. Replace the task with your own consumer; the example only
reports which asset events triggered it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_lakeops.assets import CUSTOMER_BEHAVIOR_TABLE

log = logging.getLogger(__name__)

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=2),
}

# [START howto_asset_schedule_merged_table]
with DAG(
    dag_id="lakeops_merged_table_consumer",
    description="Runs after each merge into LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR",
    schedule=[CUSTOMER_BEHAVIOR_TABLE],
    start_date=datetime(2025, 10, 1),
    catchup=False,
    default_args=default_args,
    tags=["lakeops", "example", "assets"],
    doc_md=__doc__,
) as dag:

    @task
    def report_triggering_events(triggering_asset_events: Any = None) -> int:
        """Log the asset events that triggered this run (none for a manual run)."""
        count = 0
        for asset, events in (triggering_asset_events or {}).items():
            for event in events:
                count += 1
                log.info(
                    "%s updated by %s.%s at %s (extra: %s)",
                    asset.uri,
                    event.source_dag_id,
                    event.source_task_id,
                    event.timestamp,
                    event.extra,
                )
        return count

    report_triggering_events()
# [END howto_asset_schedule_merged_table]
