"""Reach the machine's own database servers from tests, with a visible skip (or a failure on CI)."""

from __future__ import annotations

import contextlib
import os
import socket

__all__ = ["on_ci", "require_tcp"]


def on_ci() -> bool:
    """True under ``CI=true``, where a missing service is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tcp(host: str, port: int, name: str, timeout: float = 2.0) -> None:
    """Skip the calling test when ``name`` does not answer on ``host:port`` (fail instead on CI)."""
    import pytest

    try:
        with contextlib.closing(socket.create_connection((host, port), timeout=timeout)):
            return
    except OSError as exc:
        message = f"{name} is not reachable at {host}:{port} ({exc})"
        if on_ci():
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)
