"""A real browser for the end-to-end tests: Debian's Chromium driven by Playwright (no browser download).

Policy as for the servers (:func:`tests.support.require_or_skip`): without ``/usr/bin/chromium`` (or the
``playwright`` package) the browser tests skip loudly, unless ``REQUIRE_BROWSER=1`` (CI sets it after
``apt-get install chromium fonts-noto-cjk``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import REPO_ROOT, ServerStartError, free_port

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "web"


def browser_available() -> str | None:
    """None when a browser test can run, else why not."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} not found (apt-get install chromium fonts-noto-cjk)"
    return None


@contextmanager
def serve(database_url: str, *, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """The real service (uvicorn, one worker) on a free loopback port; yields its base URL."""
    port = free_port()
    env = {**os.environ, "CATALOG_DATABASE_URL": database_url, "CATALOG_SEED": "true", **(extra_env or {})}
    log = ARTIFACTS / f"server-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service.asgi:app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise ServerStartError(f"the service did not start; see {log}")
                time.sleep(0.3)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
