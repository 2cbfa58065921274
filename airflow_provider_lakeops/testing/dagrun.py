"""Read what a finished DAG run (e.g. from ``dag.test()``) left in the metadata database."""

from __future__ import annotations

from typing import Any

__all__ = ["asset_event_uris", "xcom_value"]


def xcom_value(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    """The deserialised XCom ``key`` of ``task_id`` in ``dag_run``, or ``None`` when there is none."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
            )
        ).first()
        return XComModel.deserialize_value(row) if row is not None else None


def asset_event_uris(dag_run: Any) -> set[str]:
    """The URIs of the Assets the tasks of ``dag_run`` updated."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_dag_id == dag_run.dag_id, AssetEvent.source_run_id == dag_run.run_id)
        ).all()
    return {r[0] for r in rows}
