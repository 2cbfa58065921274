"""Helpers shared by the test suite only (not shipped in the wheel)."""

from __future__ import annotations
