"""Wait until Debezium has delivered to Kafka every change committed in PostgreSQL before the wait began.

A connector that is ``RUNNING`` says nothing about how far behind it is: a stream that starts
right after a deploy (or a batch of source changes) may find the topics still half-written, and a
replica built from them is silently stale. :class:`DebeziumWatermarkSensor` closes that gap with a
*watermark*:

1. it writes a transactional logical-decoding message (``pg_logical_emit_message(true, prefix,
   run id)``) into the source's WAL; its LSN is the watermark. Debezium's PostgreSQL connector
   (``pgoutput``, PostgreSQL 14+) emits it as a record on ``<topic.prefix>.message``;
2. it waits until the connector's replication slot has confirmed that LSN
   (``pg_replication_slots.confirmed_flush_lsn >= watermark``). Kafka Connect commits a source
   offset only after Kafka acknowledged the records before it, and Debezium confirms the slot only
   up to committed offsets: every change committed before the watermark is then in Kafka.

The connector needs ``heartbeat.interval.ms`` > 0 (the shipped ``postgres-source.json`` sets 1000).
Measured on the local stack (Debezium 3.6.1, PostgreSQL 15): with heartbeats the slot confirms a
watermark 2-3 s after it is written; without them Debezium delivers the message record but keeps
the slot at the last *data* commit it processed, so the wait never ends (a test pins this down).
A plain ``pg_current_wal_lsn()`` target does not work either: while only tables the connector does
not capture change, the slot does not move.

The connection's user needs ``EXECUTE`` on ``pg_logical_emit_message(boolean, text, text)``
(superusers have it) and may read ``pg_replication_slots``. Underneath: the official
``PostgresHook``.

.. seealso:: ``docs/operators/debezium.md``
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

from airflow_provider_lakeops.utils.catalog import CatalogReader

if TYPE_CHECKING:
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.sdk import Context

__all__ = ["DebeziumWatermarkSensor"]

_SLOT = re.compile(r"^[a-z0-9_]{1,63}$")
_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


class DebeziumWatermarkSensor(BaseSensorOperator):
    """Wait until a Debezium PostgreSQL connector has delivered every change committed before now.

    :param postgres_conn_id: a ``postgres`` connection to the captured database. (templated)
    :param slot_name: the connector's ``slot.name``. (templated)
    :param message_prefix: the logical-decoding message prefix of the watermark (the connector must
        not exclude it with ``message.prefix.exclude.list``). (templated)
    :param poke_interval: seconds between checks (default 1).
    :param timeout: seconds to wait in all (default 600).

    ``mode="reschedule"`` is refused: each reschedule would write a new watermark. The XCom is
    ``{"watermark_lsn", "confirmed_flush_lsn", "waited_seconds", "slot"}``.

    :raises ValueError: a bad slot name or prefix, or ``mode="reschedule"``.
    :raises RuntimeError: the slot does not exist (the connector was never deployed or the slot
        was dropped): a replica cannot catch up through it.
    """

    template_fields: Sequence[str] = ("postgres_conn_id", "slot_name", "message_prefix")
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        postgres_conn_id: str,
        slot_name: str,
        message_prefix: str = "lakeops-watermark",
        poke_interval: float = 1.0,
        timeout: float = 600.0,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("mode") == "reschedule":
            raise ValueError(
                "DebeziumWatermarkSensor needs mode='poke': a reschedule would write a new watermark"
            )
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.postgres_conn_id = postgres_conn_id
        self.slot_name = slot_name
        self.message_prefix = message_prefix
        self._watermark: str | None = None
        self._started = 0.0
        self._confirmed: str | None = None

    def _hook(self) -> PostgresHook:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=self.postgres_conn_id)

    def execute(self, context: Context) -> dict[str, str | float | None]:
        slot = str(self.slot_name or "").strip()
        if not _SLOT.match(slot):
            raise ValueError(
                f"slot_name {self.slot_name!r} must be a PostgreSQL slot name: lower-case letters, "
                "digits and _ (at most 63)"
            )
        if not _PREFIX.match(str(self.message_prefix or "")):
            raise ValueError(
                f"message_prefix {self.message_prefix!r} must be 1-100 letters, digits or . _ : -"
            )
        self.slot_name = slot
        hook = self._hook()
        if not CatalogReader(hook).get_first(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", parameters=(slot,)
        ):
            raise RuntimeError(
                f"replication slot {slot!r} does not exist on {self.postgres_conn_id!r}: deploy the "
                "Debezium connector first (its slot.name)"
            )
        run_id = str(context.get("run_id") or "manual")
        conn = hook.get_conn()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT pg_logical_emit_message(true, %s, %s)::text", (self.message_prefix, run_id)
                )
                self._watermark = str(cur.fetchone()[0])
            conn.commit()
        finally:
            conn.close()
        self._started = time.monotonic()
        self.log.info(
            "Wrote the watermark %s (prefix %s); waiting for slot %s to confirm it",
            self._watermark,
            self.message_prefix,
            slot,
        )
        super().execute(context)
        waited = round(time.monotonic() - self._started, 3)
        self.log.info(
            "Slot %s confirmed %s >= watermark %s after %.1f s",
            slot,
            self._confirmed,
            self._watermark,
            waited,
        )
        return {
            "watermark_lsn": self._watermark,
            "confirmed_flush_lsn": self._confirmed,
            "waited_seconds": waited,
            "slot": slot,
        }

    def poke(self, context: Context) -> bool:
        row = CatalogReader(self._hook()).get_first(
            "SELECT confirmed_flush_lsn::text, confirmed_flush_lsn >= %s::pg_lsn, active "
            "FROM pg_replication_slots WHERE slot_name = %s",
            parameters=(self._watermark, self.slot_name),
        )
        if not row:
            raise RuntimeError(
                f"replication slot {self.slot_name!r} disappeared while waiting for the watermark"
            )
        self._confirmed, reached, active = str(row[0]), bool(row[1]), bool(row[2])
        if not reached:
            self.log.info(
                "Slot %s confirmed %s < %s%s",
                self.slot_name,
                self._confirmed,
                self._watermark,
                "" if active else " (no connector is reading it right now)",
            )
        return reached
