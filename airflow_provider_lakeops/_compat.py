"""Fallbacks for older Airflow 3 releases, kept in one place.

Import from here instead of copying ``try: ... except ImportError:`` blocks. Both names are
already loaded by ``airflow.sdk``, so importing this module costs nothing measurable.
"""

from __future__ import annotations

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow < 3.1 keeps the config in airflow.configuration
    from airflow.configuration import conf  # type: ignore[no-redef]

try:
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow < 3.2
    from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]

__all__ = ["AirflowFailException", "conf"]
