"""lakeops hooks: one module per external system lakeops talks to itself (import the module you need)."""

from __future__ import annotations
