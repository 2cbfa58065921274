"""A real HTTP server on loopback that records requests (stands in for Slack and Datadog).

Modes: ``ok`` (answers like the real API), ``error`` (HTTP 500), ``slow`` (holds the request
until the test ends or ``hold_seconds`` pass).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    mode: str = "ok"
    hold_seconds: float = 30.0
    requests: list[Request] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def start_receiver(mode: str = "ok", hold_seconds: float = 30.0) -> Receiver:
    """Start a receiver on 127.0.0.1 (a free port) in a daemon thread."""
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            return

        def _answer(self, status: int, payload: Any, content_type: str = "application/json") -> None:
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            receiver = holder["r"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            receiver.requests.append(
                Request(
                    "POST", parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
            if receiver.mode == "slow":
                receiver.release.wait(receiver.hold_seconds)
            if receiver.mode == "error":
                self._answer(500, {"errors": ["Internal Server Error"]})
            elif parts.path.startswith("/api/v1/events"):
                self._answer(202, {"status": "ok", "event": {"id": 1, "title": "recorded"}})
            elif parts.path.startswith("/api/"):
                self._answer(202, {"status": "ok"})
            else:  # Slack incoming webhook answers a plain "ok"
                self._answer(200, b"ok", "text/html")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server=server, mode=mode, hold_seconds=hold_seconds)
    holder["r"] = receiver
    threading.Thread(target=server.serve_forever, name="test-receiver", daemon=True).start()
    return receiver


def closed_port() -> int:
    """A loopback port with nothing listening (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def task_context(
    dag_id: str = "daily",
    task_id: str = "merge",
    run_id: str = "manual__2025-10-31",
    exception: BaseException | None = None,
    try_number: int = 1,
    reason: str | None = None,
) -> dict[str, Any]:
    """A callback context with the attributes Airflow's runtime task instance exposes."""
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    start = datetime.now(timezone.utc) - timedelta(seconds=12)
    ti = SimpleNamespace(
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        try_number=try_number,
        start_date=start,
        end_date=start + timedelta(seconds=12),
        log_url=f"http://localhost:8080/dags/{dag_id}/runs/{run_id}/tasks/{task_id}?try_number={try_number}",
        state="failed" if exception else "success",
    )
    ctx: dict[str, Any] = {
        "ti": ti,
        "task_instance": ti,
        "dag": SimpleNamespace(dag_id=dag_id),
        "run_id": run_id,
    }
    if exception is not None:
        ctx["exception"] = exception
    if reason is not None:
        ctx["reason"] = reason
        ctx["dag_run"] = SimpleNamespace(dag_id=dag_id, run_id=run_id, start_date=start, end_date=None)
    return ctx


def make_log_reader(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Everything logged so far: Airflow may route stdlib logging through structlog to stdout."""
    caplog.set_level("INFO")
    seen: list[str] = []

    def read() -> str:
        out, err = capfd.readouterr()
        seen.append(out + err)
        return caplog.text + "".join(seen)

    return read


def join_abandoned_threads(timeout: float = 20.0) -> None:
    """Let calls abandoned on timeout finish (after a receiver released them) while output is still
    captured."""
    for thread in threading.enumerate():
        if thread.name.startswith("lakeops-") and thread is not threading.current_thread():
            thread.join(timeout)
