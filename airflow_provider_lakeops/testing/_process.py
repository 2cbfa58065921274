"""Child processes of the local stack: start, probe until ready, stop (the whole process group).

Every server runs in its own process group, started with ``PR_SET_PDEATHSIG`` on Linux so that it
dies with its parent: nothing is left running even when the parent is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["Child", "StackError", "free_port", "http_ok", "port_is_free", "wait_until"]


class StackError(RuntimeError):
    """A local-stack server could not be started; the message says which one and why."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _die_with_parent(user: tuple[int, int] | None = None) -> None:  # pragma: no cover - in the child
    """Ask the kernel to SIGTERM this child when its parent dies (Linux only); switch user first.

    The death signal is cleared by a change of credentials, so it is set after ``setuid``.
    """
    os.setsid()
    prctl = None
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):  # loaded before setuid: the new user may not read our files
            import ctypes

            prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    if user is not None:
        os.setgid(user[1])
        os.setuid(user[0])
    if prctl is not None:
        with contextlib.suppress(Exception):
            prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Child:
    """One server process with its log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        *,
        user: tuple[int, int] | None = None,
        stop_signal: int = signal.SIGTERM,
    ):
        self.name = name
        self.user = user
        self.stop_signal = stop_signal
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                preexec_fn=_die_with_parent if self.user is None else _as_user(*self.user),
            )
        except OSError as exc:
            self._log.close()
            raise StackError(f"{self.name}: could not run {self.argv[0]!r}: {exc}") from exc

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, self.stop_signal)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        elif proc is not None:
            # the leader exited: make sure nothing of its group survives (the JVM forks)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


def wait_until(
    child: Child, probe: Callable[[], bool], what: str, timeout: float, interval: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if not child.alive():
            raise StackError(
                f"{child.name} exited during start-up (log: {child.log_path}):\n{child.log_tail()}"
            )
        try:
            if probe():
                return
        except Exception as exc:  # the probe fails until the server answers
            last_error = repr(exc)
        time.sleep(interval)
    raise StackError(
        f"{child.name} did not answer {what} within {timeout:.0f} s (last error: {last_error}); "
        f"log: {child.log_path}\n{child.log_tail()}"
    )


def http_ok(url: str, context: Any = None) -> bool:
    with urllib.request.urlopen(url, timeout=2, context=context) as resp:
        return bool(200 <= resp.status < 500)


def _as_user(uid: int, gid: int) -> Callable[[], None]:
    def preexec() -> None:  # pragma: no cover - runs in the child between fork and exec
        _die_with_parent((uid, gid))

    return preexec
