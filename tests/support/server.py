"""The real service in a subprocess (uvicorn, one worker) for tests that need HTTP over a socket,
a second process, or a process to kill."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import REPO_ROOT, ServerStartError, free_port

LOGS = REPO_ROOT / "test-artifacts" / "web"


@dataclass
class Running:
    base: str
    proc: subprocess.Popen[bytes]
    log: Path


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise ServerStartError(f"the service did not start; see {log}")
        time.sleep(0.3)


@contextmanager
def running(database_url: str, *, extra_env: dict[str, str] | None = None, port: int | None = None) -> Iterator[Running]:
    """Start the service on ``port`` (a free one by default) and stop it afterwards (if still alive)."""
    port = port or free_port()
    env = {**os.environ, "CATALOG_DATABASE_URL": database_url, "CATALOG_SEED": "true", **(extra_env or {})}
    log = LOGS / f"server-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service.asgi:app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base, proc, log)
            yield Running(base, proc, log)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
