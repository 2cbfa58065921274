"""``SafeNotifier``: a ``BaseNotifier`` whose call can never fail the task or DAG run it reports on."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from airflow_provider_lakeops.notifications._bounded import describe_error

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

__all__ = ["SafeNotifier"]

log = logging.getLogger(__name__)


class SafeNotifier(BaseNotifier):
    """Templating and sending both run inside a catch-all: failures become a logged warning.

    Subclasses implement ``notify`` with their own time bound (see ``call_bounded``).

    Template fields are rendered only when one holds a Jinja expression, and with a plain
    environment when the context's ``dag`` cannot give one (``dag.test()`` hands DAG-level
    callbacks the serialized DAG).
    """

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        if not any(
            "{{" in str(getattr(self, name, "") or "") or "{%" in str(getattr(self, name, "") or "")
            for name in self.template_fields
        ):
            return
        dag = context.get("dag")
        if jinja_env is None and dag is not None and not hasattr(dag, "get_template_env"):
            jinja_env = self.get_template_env(dag=None)
            context = {**context, "dag": None}  # type: ignore[typeddict-item]
        super().render_template_fields(context, jinja_env)

    def __call__(self, *args: Any) -> None:
        try:
            super().__call__(*args)
        except Exception as exc:
            log.warning("lakeops: %s did not run: %s", type(self).__name__, describe_error(exc))
