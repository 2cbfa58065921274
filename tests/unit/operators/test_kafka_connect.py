"""KafkaConnectorLifecycleOperator's pure parts: restart answers, argument checks.

Actions against the real Kafka Connect worker are in tests/integration/kafka_connect/.
"""

from __future__ import annotations

import pytest

from airflow_provider_lakeops.operators.kafka_connect import (
    KafkaConnectorLifecycleOperator,
    KafkaConnectorStateSensor,
    restarted_instances,
)

NAME = "inventory-cdc"


def test_restarted_instances_from_the_restart_answer():
    body = {
        "connector": {"state": "RUNNING"},
        "tasks": [{"id": 0, "state": "RESTARTING"}, {"id": 1, "state": "RUNNING"}],
    }
    assert restarted_instances(body, include_tasks=True, only_failed=True) == ["0"]
    assert restarted_instances(None, include_tasks=False, only_failed=False) == ["connector"]


def test_lifecycle_bad_arguments():
    with pytest.raises(ValueError, match="action"):
        KafkaConnectorLifecycleOperator(task_id="x", connector_name=NAME, action="explode")
    with pytest.raises(ValueError, match="positive"):
        KafkaConnectorLifecycleOperator(task_id="x", connector_name=NAME, action="pause", wait_timeout=0)
    with pytest.raises(ValueError, match="target_state"):
        KafkaConnectorStateSensor(task_id="s", connector_name=NAME, target_state="HAPPY")
