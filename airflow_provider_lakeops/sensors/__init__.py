"""Sensors: waits that run on a worker (deferrable ones hand off to ../triggers)."""

from __future__ import annotations
