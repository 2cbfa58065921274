"""The ``statsd`` backend through Airflow's own metrics, received as DogStatsD datagrams on loopback UDP."""

from __future__ import annotations

import socket

import pytest

from airflow_provider_lakeops.notifications.metrics import Metric, emit_metrics, emit_operator_metrics
from airflow_provider_lakeops.notifications.statsd import stat_name

pytestmark = pytest.mark.integration


@pytest.fixture
def udp_statsd(monkeypatch):
    """A UDP socket standing in for the DogStatsD agent, and Airflow's stats pointed at it."""
    from airflow.sdk._shared.observability.metrics import stats as shared_stats
    from airflow.sdk.observability.metrics import stats_utils

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_DATADOG_ENABLED", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(sock.getsockname()[1]))
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PREFIX", "airflow")
    saved = (shared_stats._factory, shared_stats._backend, shared_stats._export_legacy_names)
    shared_stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)

    def receive(count: int) -> list[str]:
        lines: list[str] = []
        while len(lines) < count:
            data = sock.recv(65535).decode()
            lines.extend(line for line in data.splitlines() if line)
        return lines

    yield receive
    shared_stats._factory, shared_stats._backend, shared_stats._export_legacy_names = saved
    sock.close()


def test_metrics_reach_airflows_statsd_client(udp_statsd):
    dims = {"DAG": "daily", "Task": "load"}
    metrics = [
        Metric("rows_loaded", 1200, "Count", dims),
        Metric("load_duration_seconds", 2.5, "Seconds", dims),
        Metric("null_pct", 1.5, "Percent", dims),
    ]
    assert emit_metrics(metrics, backend="statsd") is True
    lines = sorted(udp_statsd(3))
    assert lines == sorted(
        [
            "airflow.lakeops.rows_loaded:1200|c|#dag:daily,task:load",
            "airflow.lakeops.load_duration_seconds:2500.0|ms|#dag:daily,task:load",
            "airflow.lakeops.null_pct:1.5|g|#dag:daily,task:load",
        ]
    )


def test_operator_metrics_through_statsd_config(udp_statsd, monkeypatch):
    class Operator:
        task_id = "merge"
        dag_id = "daily"

    monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_BACKEND", "statsd")
    emit_operator_metrics(Operator(), {}, {"rows_merged": 7})
    assert udp_statsd(1) == ["airflow.lakeops.rows_merged:7|c|#dag:daily,task:merge"]


def test_stat_name():
    assert stat_name("Lakeops", "Rows Merged") == "lakeops.rows_merged"
