"""Connector configs (_kafka_connect/config.py): diffs and masking never show a secret."""

from __future__ import annotations

from airflow_provider_lakeops.operators._kafka_connect.config import config_diff, mask_config


def test_config_diff_and_mask():
    running = {"a": "1", "database.password": "old-pw-1", "gone": "x"}
    desired = {"a": "2", "database.password": "new-pw-2", "jdbc.url": "mysql://u:new-pw-2@h"}
    diff = config_diff(running, desired, secrets=["new-pw-2", "old-pw-1"])
    assert diff == [
        {"key": "a", "change": "changed", "old": "1", "new": "2"},
        {"key": "database.password", "change": "changed", "old": "***", "new": "***"},
        {"key": "gone", "change": "removed", "old": "x", "new": None},
        {"key": "jdbc.url", "change": "added", "old": None, "new": "mysql://u:***@h"},
    ]
    assert mask_config(
        {"sasl.jaas.config": "x y", "p": "${file:/a:b}", "database.password": "${file:/a:p}"}
    ) == {"sasl.jaas.config": "***", "p": "${file:/a:b}", "database.password": "${file:/a:p}"}
