"""Lineage elsewhere: the transport settings docs/lineage.md gives send events to an HTTP backend (Marquez).

A local HTTP receiver stands in for Marquez (it accepts ``POST /api/v1/lineage`` like Marquez does).
Each case runs in a fresh interpreter, because the OpenLineage provider caches its configuration
per process. The events are emitted through the provider's own adapter
(``OpenLineageAdapter().get_or_create_openlineage_client()``), the path every task event takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from airflow_provider_lakeops.testing.stack import lineage_transport

pytestmark = pytest.mark.integration

EMIT = r"""
import sys
from datetime import datetime, timezone
from openlineage.client.event_v2 import Dataset, Job, Run, RunEvent, RunState
from openlineage.client.uuid import generate_new_uuid
from airflow.providers.openlineage.plugins.adapter import OpenLineageAdapter

client = OpenLineageAdapter().get_or_create_openlineage_client()
client.emit(RunEvent(
    eventType=RunState.COMPLETE, eventTime=datetime.now(timezone.utc).isoformat(),
    run=Run(runId=str(generate_new_uuid())), job=Job(namespace="lakeops-local", name=sys.argv[1]),
    producer="https://github.com/lakeops/airflow-provider-lakeops",
    inputs=[Dataset(namespace="s3://lakeops-lake", name="silver/customer_behavior")],
    outputs=[Dataset(namespace="duckdb:///lake/lakeops.duckdb", name="lakeops.main.stg_customer_behavior")],
))
client.transport.close() if hasattr(client.transport, "close") else None
print(type(client.transport).__name__)
"""


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []

    def do_POST(self) -> None:  # http.server's method naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        return


@pytest.fixture
def marquez() -> Iterator[tuple[str, list[tuple[str, dict]]]]:
    received: list[tuple[str, dict]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def bytecode(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One bytecode cache for the children (this environment sets PYTHONDONTWRITEBYTECODE)."""
    home = os.environ.get("LAKEOPS_HOME")
    return str(Path(home) / "pycache") if home else str(tmp_path_factory.mktemp("pycache"))


def _emit(job: str, env: dict[str, str], tmp_path: Path, bytecode: str) -> str:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__OPENLINEAGE__", "OPENLINEAGE_"))
    }
    clean.pop("PYTHONDONTWRITEBYTECODE", None)
    clean.update(env)
    clean["AIRFLOW_HOME"] = str(tmp_path / "airflow")
    clean["PYTHONPYCACHEPREFIX"] = bytecode
    out = subprocess.run(
        [sys.executable, "-c", EMIT, job], env=clean, capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_composite_transport_writes_the_file_and_posts_to_marquez(marquez, tmp_path, bytecode):
    url, received = marquez
    events_file = tmp_path / "events.jsonl"
    # what the local stack (make demo, the tests) sets when OPENLINEAGE_URL is exported
    transport = lineage_transport(events_file, {"OPENLINEAGE_URL": url})
    assert transport == {
        "type": "composite",
        "continue_on_failure": True,
        "transports": [
            {"type": "file", "log_file_path": str(events_file), "append": True},
            {"type": "http", "url": url, "endpoint": "api/v1/lineage"},
        ],
    }

    kind = _emit(
        "example_dbt_cosmos.dbt.stg_customer_behavior.run",
        {"AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport)},
        tmp_path,
        bytecode,
    )

    assert kind == "CompositeTransport"
    assert [path for path, _ in received] == ["/api/v1/lineage"]
    posted = received[0][1]
    assert posted["job"]["name"] == "example_dbt_cosmos.dbt.stg_customer_behavior.run"
    assert posted["outputs"][0]["name"] == "lakeops.main.stg_customer_behavior"
    # the staging model's lake input, named as the silver table's writers name it
    assert (posted["inputs"][0]["namespace"], posted["inputs"][0]["name"]) == (
        "s3://lakeops-lake",
        "silver/customer_behavior",
    )
    [written] = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    assert written["run"]["runId"] == posted["run"]["runId"]


def test_the_local_stack_writes_only_the_file_without_openlineage_url(tmp_path):
    events_file = tmp_path / "events.jsonl"
    assert lineage_transport(events_file, {}) == {
        "type": "file",
        "log_file_path": str(events_file),
        "append": True,
    }
    keyed = lineage_transport(
        events_file, {"OPENLINEAGE_URL": "https://ol.example", "OPENLINEAGE_API_KEY": "k"}
    )
    assert keyed["transports"][1]["auth"] == {"type": "api_key", "apiKey": "k"}


def test_openlineage_url_is_used_when_no_airflow_transport_is_set(marquez, tmp_path, bytecode):
    url, received = marquez

    kind = _emit("lakeops_daily.merge", {"OPENLINEAGE_URL": url}, tmp_path, bytecode)

    assert kind == "HttpTransport"
    assert [(path, event["job"]["name"]) for path, event in received] == [
        ("/api/v1/lineage", "lakeops_daily.merge")
    ]
