"""Templated arguments of :class:`~airflow_provider_lakeops.operators.great_expectations.GXValidateOperator`:
locations and suite files that Jinja's loader cannot find, and booleans given as text."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

__all__ = ["FileTemplate", "TextTemplate", "as_bool", "needs_own_loader"]


class TextTemplate:
    """A location that merely ends like a template file (``.../result.json``): render it as text."""

    def __init__(self, text: str, env: jinja2.Environment) -> None:
        self.text, self.env = text, env

    def resolve(self, context: Mapping[str, Any]) -> str:
        return self.env.from_string(self.text).render(context)


class FileTemplate(TextTemplate):
    """A template file named by an absolute or templated path (Jinja's loader finds relative ones only)."""

    def resolve(self, context: Mapping[str, Any]) -> str:
        path = self.env.from_string(self.text).render(context)
        try:
            content = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise FileNotFoundError(f"template file {path!r} cannot be read: {exc.strerror}") from None
        return self.env.from_string(content).render(context)


def as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off", "", "none"}:
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def needs_own_loader(value: str) -> bool:
    return value.startswith("/") or "{{" in value or "{%" in value
