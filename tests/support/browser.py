"""A real browser for the end-to-end tests: Debian's Chromium driven by Playwright (no browser download).

Policy as for the servers (:func:`tests.support.require_or_skip`): without ``/usr/bin/chromium`` (or the
``playwright`` package) the browser tests skip loudly, unless ``REQUIRE_BROWSER=1`` (CI sets it after
``apt-get install chromium fonts-noto-cjk``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import REPO_ROOT
from tests.support.server import running

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
    with running(database_url, extra_env=extra_env) as server:
        yield server.base
