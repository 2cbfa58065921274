"""Wait, asynchronously, for a Kafka Connect connector and its tasks to reach a state.

:class:`KafkaConnectorStateTrigger` polls the connector through
:class:`~airflow_provider_lakeops.hooks.kafka_connect.KafkaConnectHook` (the blocking calls run in
a thread through ``sync_to_async``; the connection is fetched with ``aget_connection`` so the
event loop never blocks on the supervisor). :func:`evaluate_status` is the one place that decides
what a status body means and :class:`ConnectorWait` the one place that decides when a wait is
over; the operators' non-deferrable polling uses both too.

What the real Kafka Connect 4.3 worker showed, and what the wait does about it:

* right after ``PUT /connectors/{name}/config`` the status still describes the tasks of the
  previous configuration (a FAILED task stayed FAILED in the first reads; a RUNNING one looks
  RUNNING before it is stopped and restarted): with ``expected_config`` the wait first waits
  until ``GET /connectors/{name}/config`` equals what was PUT and every task config from
  ``GET /connectors/{name}/tasks`` agrees with it, and the status lists exactly those tasks;
* right after ``POST /connectors/{name}/restart`` the status can still show the old FAILED state
  (measured: FAILED at 0.04 s, RUNNING at 0.55 s): a restarted instance counts as failed only
  once it was seen not FAILED, or :data:`RESTART_GRACE_SECONDS` after the restart;
* a task can be RUNNING and fail a second later (Debezium's snapshot runs after ``start()``):
  RUNNING counts only once every task stayed RUNNING for ``settle_seconds``;
* Connect unreachable, timeouts and 5xx answers are transient: the wait goes on until its deadline.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import time
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook

__all__ = [
    "RESTART_GRACE_SECONDS",
    "TARGET_STATES",
    "ConnectorWait",
    "KafkaConnectorStateTrigger",
    "StatusVerdict",
    "config_mismatches",
    "evaluate_status",
    "poll_delay",
    "seal_config",
    "trim_trace",
]

#: States a wait can target. ``DELETED`` means the connector is gone (404).
TARGET_STATES = ("RUNNING", "PAUSED", "STOPPED", "DELETED")
TRACE_MAX_CHARS = 2000
#: After a restart, a FAILED state not yet preceded by another state counts as failed only after this.
RESTART_GRACE_SECONDS = 10.0
SEAL_PREFIX = "sealed:pbkdf2-sha256:"
SEAL_ITERATIONS = 100_000
_PLACEHOLDER = re.compile(r"^\$\{[A-Za-z0-9_.-]+:[^}]*\}$")


def poll_delay(poll: int, poll_interval: float) -> float:
    """Seconds before poll number ``poll + 1``: 0.25 s doubling up to ``poll_interval``.

    Connectors usually start within seconds, so the first polls come quickly; a long wait settles
    at ``poll_interval`` and does not load the Connect worker.
    """
    return min(poll_interval, 0.25 * 2 ** min(poll, 16))


def trim_trace(trace: str | None, max_chars: int = TRACE_MAX_CHARS) -> str:
    """The head of a Java stack trace (exception and first frames) plus the last ``Caused by`` line."""
    if not trace:
        return ""
    text = trace.strip()
    if len(text) <= max_chars:
        return text
    lines = text.splitlines()
    causes = [line for line in lines if line.startswith("Caused by:")]
    tail = f"\n\t...\n{causes[-1][: max_chars // 2]}" if causes else "\n\t..."
    return text[: max(0, max_chars - len(tail))].rstrip() + tail


@dataclass(frozen=True)
class StatusVerdict:
    """What a status body means for a wait: ``done``, ``pending``, ``failed`` or ``blocked``."""

    outcome: str
    connector_state: str | None
    task_states: dict[str, str] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)  # [{"id": "connector"|"0", "trace": ...}]
    reason: str = ""

    def as_event(self) -> dict[str, Any]:
        return {
            "connector_state": self.connector_state,
            "task_states": dict(self.task_states),
            "failed": list(self.failed),
            "reason": self.reason,
        }


def evaluate_status(
    status: Mapping[str, Any] | None, target_state: str = "RUNNING", trace_max_chars: int = TRACE_MAX_CHARS
) -> StatusVerdict:
    """Decide whether ``status`` (a ``GET .../status`` body, or ``None`` for 404) reached ``target_state``.

    * ``failed``: the connector or a task is ``FAILED`` (their traces, trimmed, are in ``failed``);
    * ``blocked``: waiting for ``RUNNING`` while the connector is ``PAUSED``/``STOPPED``: it will not
      run until someone resumes it, so waiting is pointless;
    * ``done``: the connector and every task are in ``target_state`` (``RUNNING`` needs at least one
      task; ``STOPPED`` connectors have none; ``DELETED`` means 404);
    * ``pending`` otherwise (``UNASSIGNED``, ``RESTARTING``, tasks not assigned yet, status not yet
      written just after creation).
    """
    if target_state not in TARGET_STATES:
        raise ValueError(f"target_state {target_state!r} is not one of {', '.join(TARGET_STATES)}")
    if status is None:
        outcome = "done" if target_state == "DELETED" else "pending"
        return StatusVerdict(
            outcome, None, reason="the connector has no status (it does not exist yet or any more)"
        )
    connector = status.get("connector") or {}
    state = connector.get("state")
    tasks = {str(t.get("id")): str(t.get("state")) for t in status.get("tasks") or []}
    failed = []
    if state == "FAILED":
        failed.append({"id": "connector", "trace": trim_trace(connector.get("trace"), trace_max_chars)})
    failed.extend(
        {"id": str(t.get("id")), "trace": trim_trace(t.get("trace"), trace_max_chars)}
        for t in status.get("tasks") or []
        if t.get("state") == "FAILED"
    )
    if failed:
        names = ", ".join("the connector" if f["id"] == "connector" else f"task {f['id']}" for f in failed)
        return StatusVerdict("failed", state, tasks, failed, reason=f"{names} FAILED")
    if target_state == "DELETED":
        return StatusVerdict("pending", state, tasks, reason="the connector still exists")
    if target_state == "RUNNING" and state in {"PAUSED", "STOPPED"}:
        return StatusVerdict(
            "blocked",
            state,
            tasks,
            reason=f"the connector is {state}; resume it (PUT "
            "/connectors/{name}/resume) before waiting for RUNNING",
        )
    if state == target_state:
        # a STOPPED connector has no tasks; the real worker shows STOPPED with the old task RUNNING first
        if (target_state == "STOPPED" and not tasks) or (
            target_state != "STOPPED" and tasks and all(s == target_state for s in tasks.values())
        ):
            return StatusVerdict("done", state, tasks)
    waiting = [
        f"task {i} is {s}" for i, s in tasks.items() if s != target_state or target_state == "STOPPED"
    ] or (["no task is assigned yet"] if target_state != "STOPPED" else [])
    return StatusVerdict("pending", state, tasks, reason=f"connector is {state}; " + ", ".join(waiting))


def _digest(value: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", value.encode(), salt, SEAL_ITERATIONS).hex()


def seal_config(config: Mapping[str, str], secret_keys: Collection[str]) -> dict[str, str]:
    """``config`` with the values of ``secret_keys`` replaced by salted PBKDF2 digests.

    The result can travel in trigger kwargs (the triggerer must recognise the new config, but
    must never receive a password): :func:`config_mismatches` compares a live config with it.
    """
    sealed: dict[str, str] = {}
    for key, value in config.items():
        if key in secret_keys:
            salt = os.urandom(16)
            sealed[key] = f"{SEAL_PREFIX}{salt.hex()}:{_digest(str(value), salt)}"
        else:
            sealed[key] = str(value)
    return sealed


def _same(expected: str, actual: object, cache: dict[tuple[str, str], bool]) -> bool:
    if actual is None:
        return False
    actual = str(actual)
    if not expected.startswith(SEAL_PREFIX):
        return expected == actual
    if (expected, actual) not in cache:
        salt_hex, _, digest = expected[len(SEAL_PREFIX) :].partition(":")
        cache[(expected, actual)] = hmac.compare_digest(digest, _digest(actual, bytes.fromhex(salt_hex)))
    return cache[(expected, actual)]


def config_mismatches(
    expected: Mapping[str, str],
    actual: Mapping[str, str] | None,
    *,
    exact: bool = True,
    cache: dict[tuple[str, str], bool] | None = None,
) -> list[str]:
    """Keys on which ``actual`` differs from ``expected`` (a :func:`seal_config` result or a plain config).

    ``exact``: keys only one side has count too (a connector config); otherwise only keys both
    have are compared (a task config adds keys such as ``task.class``).
    """
    if actual is None:
        return sorted(expected)
    cache = {} if cache is None else cache
    if exact:
        keys = set(expected) | set(actual)
    else:  # task configs may hold config-provider placeholders resolved
        keys = {k for k in set(expected) & set(actual) if not _PLACEHOLDER.match(str(expected[k]))}
    return sorted(k for k in keys if k not in expected or not _same(expected[k], actual.get(k), cache))


class ConnectorWait:
    """The state of one wait: what to expect and since when everything has been RUNNING.

    :meth:`observe` reads the worker (blocking; the trigger runs it in a thread) and returns a
    :class:`StatusVerdict`; :meth:`judge` is the pure decision, for tests.

    :param connector_name: the connector.
    :param target_state: ``RUNNING``, ``PAUSED``, ``STOPPED`` or ``DELETED``.
    :param settle_seconds: ``RUNNING`` only: every task must stay RUNNING this long.
    :param expected_config: the config that was PUT (:func:`seal_config` form): the wait also
        requires the connector config and every task config to be that one.
    :param restarted: instances (``"connector"``, task ids) restarted just before the wait.
    :param restart_grace_until: UNIX time until which a restarted instance's FAILED state may be
        the one from before the restart, and a PAUSED/STOPPED state the one from before a resume.
    :param trace_max_chars: trim failure traces to this length.
    """

    def __init__(
        self,
        connector_name: str,
        target_state: str = "RUNNING",
        *,
        settle_seconds: float = 0.0,
        expected_config: Mapping[str, str] | None = None,
        restarted: Collection[str] = (),
        restart_grace_until: float | None = None,
        trace_max_chars: int = TRACE_MAX_CHARS,
    ) -> None:
        self.connector_name = connector_name
        self.target_state = target_state
        self.settle_seconds = settle_seconds
        self.expected_config = dict(expected_config) if expected_config else None
        self.restarted = [str(r) for r in restarted]
        self.restart_grace_until = restart_grace_until
        self.trace_max_chars = trace_max_chars
        self.stable_since: float | None = None
        self.last_error = ""
        self._recovered: set[str] = set()
        self._cache: dict[tuple[str, str], bool] = {}

    def observe(self, hook: KafkaConnectHook, now: float | None = None) -> StatusVerdict:
        """Read config, tasks and status (in that order) and judge them; transient errors are ``pending``.

        :raises KafkaConnectApiError: an answer a retry cannot change (401, 403, 400...).
        """
        from airflow_provider_lakeops.hooks.kafka_connect import (
            KafkaConnectApiError,
            KafkaConnectNotFoundError,
        )

        name = self.connector_name
        config: dict[str, str] | None = None
        tasks: list[dict[str, Any]] | None = None
        try:
            if self.expected_config is not None and self.target_state == "RUNNING":
                config = hook.get_connector_config_or_none(name)
                tasks = hook.get_tasks(name) if config is not None else None
            try:
                status: dict[str, Any] | None = hook.get_connector_status(name)
            except KafkaConnectNotFoundError:
                status = None
        except KafkaConnectNotFoundError:  # deleted between two reads
            status = None
        except KafkaConnectApiError as exc:
            if not exc.transient:
                raise
            self.stable_since = None
            self.last_error = str(exc)
            return StatusVerdict(
                "pending", None, reason=f"Kafka Connect is not answering ({exc}); still waiting"
            )
        self.last_error = ""
        return self.judge(status, config, tasks, time.time() if now is None else now)

    def judge(
        self,
        status: Mapping[str, Any] | None,
        config: Mapping[str, str] | None = None,
        tasks: list[dict[str, Any]] | None = None,
        now: float = 0.0,
    ) -> StatusVerdict:
        """The verdict for one set of reads (``config``/``tasks`` only matter with ``expected_config``)."""
        verdict = evaluate_status(status, self.target_state, self.trace_max_chars)
        in_grace = self.restart_grace_until is not None and now < self.restart_grace_until
        if verdict.outcome == "blocked" and in_grace:  # a resume not yet visible in the status
            verdict = StatusVerdict(
                "pending",
                verdict.connector_state,
                verdict.task_states,
                reason=f"the connector is still {verdict.connector_state} (the request is "
                "not visible in the status yet)",
            )
        if self.restarted and status is not None:
            states = {"connector": verdict.connector_state or "", **verdict.task_states}
            self._recovered |= {i for i in self.restarted if states.get(i) not in (None, "", "FAILED")}
        if verdict.outcome == "failed" and self.restarted:
            stale = [
                f for f in verdict.failed if f["id"] in self.restarted and f["id"] not in self._recovered
            ]
            if stale and in_grace and len(stale) == len(verdict.failed):
                verdict = StatusVerdict(
                    "pending",
                    verdict.connector_state,
                    verdict.task_states,
                    reason="the restart is not visible in the status yet (FAILED from before it)",
                )
        if verdict.outcome == "done" and self.expected_config is not None and self.target_state == "RUNNING":
            verdict = self._check_config(verdict, config, tasks)
        if verdict.outcome != "done":
            self.stable_since = None
            return verdict
        if self.target_state != "RUNNING" or self.settle_seconds <= 0:
            return verdict
        if self.stable_since is None:
            self.stable_since = now
        held = now - self.stable_since
        if held < self.settle_seconds:
            return StatusVerdict(
                "pending",
                verdict.connector_state,
                verdict.task_states,
                reason=f"RUNNING for {held:.1f} s of the {self.settle_seconds:g} s settle period",
            )
        return verdict

    def _check_config(
        self, verdict: StatusVerdict, config: Mapping[str, str] | None, tasks: list[dict[str, Any]] | None
    ) -> StatusVerdict:
        if self.expected_config is None:
            return verdict

        def pending(reason: str) -> StatusVerdict:
            return StatusVerdict("pending", verdict.connector_state, verdict.task_states, reason=reason)

        differing = config_mismatches(self.expected_config, config, cache=self._cache)
        if differing:
            return pending(
                f"the worker does not serve the new config yet ({len(differing)} key(s) differ: "
                f"{', '.join(differing[:5])})"
            )
        task_ids = {str((t.get("id") or {}).get("task")) for t in tasks or []}
        if not task_ids:
            return pending("the new config has no task configs yet")
        if task_ids != set(verdict.task_states):
            return pending(
                f"the status lists tasks {sorted(verdict.task_states)}, the new config has {sorted(task_ids)}"
            )
        stale = [
            str((t.get("id") or {}).get("task"))
            for t in tasks or []
            if config_mismatches(self.expected_config, t.get("config") or {}, exact=False, cache=self._cache)
        ]
        if stale:
            return pending(f"task(s) {', '.join(stale)} still have the previous config")
        return verdict


async def _amask_secret(secret: str) -> None:
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow < 3.2 has only the synchronous variant
        from airflow.sdk.log import mask_secret

        mask_secret(secret)
    else:
        await amask_secret(secret)


class KafkaConnectorStateTrigger(BaseTrigger):
    """Wait until a connector reaches ``target_state`` (see :class:`ConnectorWait`), fails, or ``end_time``
    passes.

    Events (``status`` key): ``success``, ``failed`` (a connector/task ``FAILED``; traces trimmed),
    ``blocked`` (waiting for RUNNING on a paused or stopped connector), ``timeout`` (also when
    Connect stayed unreachable until the deadline) and ``error`` (an answer no retry can change,
    or an unusable connection). Every event carries ``connector_state``, ``task_states`` and ``carry``.

    :param connector_name: the connector.
    :param kafka_connect_conn_id: the ``kafka_connect`` connection.
    :param target_state: ``RUNNING``, ``PAUSED``, ``STOPPED`` or ``DELETED``.
    :param end_time: give up at this UNIX time (absolute, so a restarted triggerer keeps the deadline).
    :param poll_interval: the longest wait between polls (the first ones come sooner, see :func:`poll_delay`).
    :param trace_max_chars: trim failure traces to this length.
    :param carry: JSON-serialisable state the deferring operator needs when it resumes; echoed
        back in every event (``dag.test()`` passes only the event to the resumed method).
    :param settle_seconds: ``RUNNING`` only: how long every task must stay RUNNING.
    :param expected_config: the config that was PUT, secrets sealed (:func:`seal_config`).
    :param restarted: instances restarted just before the wait (``"connector"``, task ids).
    :param restart_grace_until: UNIX time until which their FAILED state may predate the restart.
    """

    def __init__(
        self,
        *,
        connector_name: str,
        kafka_connect_conn_id: str,
        target_state: str = "RUNNING",
        end_time: float,
        poll_interval: float = 5.0,
        trace_max_chars: int = TRACE_MAX_CHARS,
        carry: dict[str, Any] | None = None,
        settle_seconds: float = 0.0,
        expected_config: dict[str, str] | None = None,
        restarted: list[str] | None = None,
        restart_grace_until: float | None = None,
    ) -> None:
        super().__init__()
        self.connector_name = connector_name
        self.kafka_connect_conn_id = kafka_connect_conn_id
        self.target_state = target_state
        self.end_time = end_time
        self.poll_interval = poll_interval
        self.trace_max_chars = trace_max_chars
        self.carry = carry or {}
        self.settle_seconds = settle_seconds
        self.expected_config = expected_config
        self.restarted = list(restarted or [])
        self.restart_grace_until = restart_grace_until

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "connector_name": self.connector_name,
                "kafka_connect_conn_id": self.kafka_connect_conn_id,
                "target_state": self.target_state,
                "end_time": self.end_time,
                "poll_interval": self.poll_interval,
                "trace_max_chars": self.trace_max_chars,
                "carry": self.carry,
                "settle_seconds": self.settle_seconds,
                "expected_config": self.expected_config,
                "restarted": self.restarted,
                "restart_grace_until": self.restart_grace_until,
            },
        )

    def waiter(self) -> ConnectorWait:
        """The :class:`ConnectorWait` this trigger runs."""
        return ConnectorWait(
            self.connector_name,
            self.target_state,
            settle_seconds=self.settle_seconds,
            expected_config=self.expected_config,
            restarted=self.restarted,
            restart_grace_until=self.restart_grace_until,
            trace_max_chars=self.trace_max_chars,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook

        def event(status: str, verdict: StatusVerdict | None = None, **extra: Any) -> TriggerEvent:
            body: dict[str, Any] = {
                "status": status,
                "connector": self.connector_name,
                "target_state": self.target_state,
            }
            body.update(verdict.as_event() if verdict else {"connector_state": None, "task_states": {}})
            body.update(extra, carry=self.carry)
            return TriggerEvent(body)

        try:
            connection = await KafkaConnectHook.aget_connection(self.kafka_connect_conn_id)
            if connection.password:
                await _amask_secret(connection.password)
            hook = KafkaConnectHook(self.kafka_connect_conn_id, connection=connection)
        except Exception as exc:
            yield event("error", message=f"cannot use connection {self.kafka_connect_conn_id!r}: {exc}")
            return

        wait = self.waiter()
        observe = sync_to_async(wait.observe)
        verdict: StatusVerdict | None = None
        poll = 0
        while True:
            try:
                verdict = await observe(hook)
            except Exception as exc:
                yield event("error", verdict, message=str(exc))
                return
            if verdict.outcome == "done":
                yield event("success", verdict)
                return
            if verdict.outcome in {"failed", "blocked"}:
                yield event(verdict.outcome, verdict, message=verdict.reason)
                return
            remaining = self.end_time - time.time()
            if remaining <= 0:
                yield event(
                    "timeout",
                    verdict,
                    message=f"{self.connector_name} did not reach "
                    f"{self.target_state} in time: {verdict.reason}",
                )
                return
            self.log.info(
                "Waiting for %s to be %s: %s", self.connector_name, self.target_state, verdict.reason
            )
            await asyncio.sleep(min(poll_delay(poll, self.poll_interval), remaining))
            poll += 1
