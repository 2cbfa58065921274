"""Run a side effect (a notifier, a metrics flush) with a hard time bound, never raising.

Monitoring must never fail, hide or delay the outcome of the task it reports on. Every call
to an external monitoring endpoint goes through :func:`call_bounded`: it runs in a daemon
thread joined with a timeout, every exception is caught and logged as a warning, and a call
still running when the timeout expires is abandoned (a daemon thread does not keep the
process alive).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from typing import TYPE_CHECKING

from airflow_provider_lakeops.utils.redaction import redact_registered, scrub_text

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["call_bounded", "call_bounded_many", "describe_error", "preload", "redact_text"]

log = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 300


def redact_text(text: str) -> str:
    """Replace every secret registered with Airflow's secret masker in ``text`` by ``***``.

    :func:`airflow_provider_lakeops.utils.redaction.redact_registered` under its old name.
    """
    return redact_registered(text)


def describe_error(exc: BaseException, limit: int = _MAX_ERROR_CHARS) -> str:
    """Return ``Type: message`` masked, scrubbed and trimmed to ``limit`` characters.

    Airflow's secret masker first, then :func:`~airflow_provider_lakeops.utils.redaction.scrub_text`
    (URL credentials, webhook paths, ``key=value`` secrets, personal data).
    """
    text = scrub_text(redact_registered(f"{type(exc).__name__}: {exc}"))
    if len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    return text


def call_bounded(fn: Callable[[], object], *, timeout: float, what: str) -> bool:
    """Run ``fn()`` in a daemon thread and wait at most ``timeout`` seconds for it.

    :param fn: the side effect to run; its return value is ignored.
    :param timeout: seconds to wait before giving up (the thread is abandoned, not killed).
    :param what: a short description used in the warning, e.g. ``"CloudWatch PutMetricData"``.
    :return: ``True`` when ``fn`` finished without raising within the timeout, else ``False``.
        Never raises.
    """
    return call_bounded_many([(what, fn)], timeout=timeout).get(what, False)


def call_bounded_many(
    calls: Sequence[tuple[str, Callable[[], object]]], *, timeout: float
) -> dict[str, bool]:
    """Run several side effects in parallel daemon threads, all within one overall ``timeout``.

    :param calls: ``(what, fn)`` pairs; ``what`` names the call in warnings and in the result.
    :param timeout: seconds to wait for all of them together.
    :return: ``{what: finished_ok}``. Never raises.
    """
    outcome: dict[str, BaseException] = {}
    threads: list[tuple[str, threading.Thread]] = []

    def _runner(what: str, fn: Callable[[], object]) -> Callable[[], None]:
        def _target() -> None:
            try:
                fn()
            except BaseException as exc:  # monitoring must never propagate
                outcome[what] = exc

        return _target

    deadline = time.monotonic() + max(timeout, 0.0)
    results: dict[str, bool] = {}
    for what, fn in calls:
        try:
            thread = threading.Thread(target=_runner(what, fn), name=f"lakeops-{what}", daemon=True)
            thread.start()
            threads.append((what, thread))
        except Exception as exc:
            log.warning("lakeops: %s could not be started: %s", what, describe_error(exc))
            results[what] = False
    for _what, thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))
    for what, thread in threads:
        if thread.is_alive():
            log.warning(
                "lakeops: %s did not finish within %.1f s; "
                "continuing without it (the task outcome is unchanged)",
                what,
                timeout,
            )
            results[what] = False
        elif what in outcome:
            log.warning(
                "lakeops: %s failed (the task outcome is unchanged): %s", what, describe_error(outcome[what])
            )
            results[what] = False
        else:
            results[what] = True
    return results


def preload(*modules: str) -> None:
    """Import ``modules`` in the calling thread before a bounded call starts.

    Imports cost CPU, not network: doing them first keeps a cold import (``boto3``, ``datadog``,
    ``slack_sdk``) from eating the endpoint timeout, and a thread abandoned on timeout never holds
    the import lock. A missing module is left for the bounded call to report; this never raises.
    """
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            log.debug("lakeops: could not preload %s", name, exc_info=True)
