"""The errors lakeops raises, each carrying the context a user needs to act on it.

Bad arguments raise built-in ``ValueError``/``TypeError``. The classes below are for failures
of the systems we talk to or of the data itself; none of them ever carries a secret or a raw data
value in its message.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConnectorDeploymentError",
    "DataQualityError",
    "LakeopsError",
    "MergeError",
    "PartitionRegistrationError",
    "PiiLeakError",
    "PreflightError",
    "SchemaEvolutionError",
    "StreamingJobError",
]


class LakeopsError(Exception):
    """Base class of every lakeops error."""


class DataQualityError(LakeopsError):
    """A data-quality gate failed.

    :param message: what failed, with counts and percentages (never values).
    :param failed: the failed expectations, as compact dicts.
    :param statistics: GX's run statistics.
    :param result_location: where the full result was written, if it was.
    """

    def __init__(
        self,
        message: str,
        *,
        failed: list[dict[str, Any]] | None = None,
        statistics: dict[str, Any] | None = None,
        result_location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.failed = failed or []
        self.statistics = statistics or {}
        self.result_location = result_location


class PiiLeakError(LakeopsError):
    """PII patterns were found in output columns the policy did not mask (names, never values)."""

    def __init__(self, message: str, *, findings: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.findings = findings or []


class SchemaEvolutionError(LakeopsError):
    """A schema change is not allowed by the evolution policy; ``diff`` lists the changes."""

    def __init__(self, message: str, *, diff: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.diff = diff or []


class MergeError(LakeopsError):
    """A warehouse MERGE could not be applied; the target was left unchanged."""


class ConnectorDeploymentError(LakeopsError):
    """A Kafka Connect connector could not be validated, deployed or brought to RUNNING."""

    def __init__(self, message: str, *, connector: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.connector = connector
        self.details = details


class PreflightError(LakeopsError):
    """A source database misses prerequisites; ``problems`` lists each with the statement that fixes it."""

    def __init__(self, message: str, *, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class StreamingJobError(LakeopsError):
    """A streaming job could not run (bad checkpoint reuse, failed submit, missing report)."""


class PartitionRegistrationError(LakeopsError):
    """Some catalog partitions could not be registered; ``failed`` lists each (values, error code, message).

    The table itself and the other partitions were registered; a rerun retries only the missing ones.
    """

    def __init__(self, message: str, *, failed: list[dict[str, Any]] | None = None, added: int = 0) -> None:
        super().__init__(message)
        self.failed = failed or []
        self.added = added
