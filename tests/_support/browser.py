"""Render a local HTML page in headless Chromium and return its DOM (for tests of generated pages).

Chromium comes from Debian's ``chromium`` package (``make system-deps`` installs it; ``.ci/run``
calls that target). Without it a test skips with the reason, or fails under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

from airflow_provider_lakeops.testing.services import on_ci

__all__ = ["chromium_path", "dom_text", "render_dom", "require_chromium"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    """``$LAKEOPS_CHROMIUM``, else the first Chromium-like browser on PATH."""
    explicit = os.environ.get("LAKEOPS_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The browser's path; skip the calling test without one (fail instead under ``CI=true``)."""
    import pytest

    path = chromium_path()
    if path is None:
        message = "Chromium is not installed (run `make system-deps`: Debian's chromium package)"
        if on_ci():
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)
    return path


def render_dom(page: str | os.PathLike[str], *, browser: str | None = None, timeout: float = 120) -> str:
    """Load ``page`` (a local file) in headless Chromium; return the DOM it built, serialised.

    :raises RuntimeError: when Chromium exits with an error or prints no document.
    """
    exe = browser or chromium_path()
    if exe is None:
        raise RuntimeError("Chromium is not installed")
    url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="lakeops-chromium-") as profile:
        result = subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-extensions",
                f"--user-data-dir={profile}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0 or "<html" not in result.stdout:
        raise RuntimeError(
            f"Chromium could not render {url} (exit {result.returncode}): {result.stderr[-2000:]}"
        )
    return result.stdout


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.chunks.append(data.strip())


def dom_text(dom: str) -> str:
    """The text nodes of a serialised DOM, one per line (what a reader of the page can see)."""
    parser = _Text()
    parser.feed(dom)
    return "\n".join(parser.chunks)
