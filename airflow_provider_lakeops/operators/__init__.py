"""lakeops operators: one module per capability (import the module you need)."""

from __future__ import annotations
