"""lakeops triggers: async waits for deferrable operators (import the module you need)."""

from __future__ import annotations
