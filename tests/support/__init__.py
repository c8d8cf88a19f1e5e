"""Helpers that start real, throwaway servers for the test session.

* :mod:`tests.support.postgres` -- a private PostgreSQL cluster (``start_postgres``).
* :mod:`tests.support.neo4j` -- a real Neo4j 5.26 Community server from Maven Central jars
  (``start_neo4j``; fetch the jars with ``scripts/neo4j-fetch``).

Policy when a server cannot be had (one place, :func:`require_or_skip`): the tests that need it are
SKIPPED with a loud reason, unless ``REQUIRE_POSTGRES=1`` / ``REQUIRE_NEO4J=1`` is set (CI sets
both), in which case they FAIL.

Typical session fixtures (conftest)::

    @pytest.fixture(scope="session")
    def postgres_server(tmp_path_factory):
        server = start_postgres_or_skip(tmp_path_factory.mktemp("postgres"))
        yield server
        server.close()
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

__all__ = [
    "REPO_ROOT",
    "ServerStartError",
    "free_port",
    "require_env_name",
    "require_or_skip",
    "required",
    "tail",
]

#: The repository root (``tests/support/__init__.py`` -> parents[2]).
REPO_ROOT = Path(__file__).resolve().parents[2]


class ServerStartError(RuntimeError):
    """A server's binaries were found but it did not start (the message carries its log tail)."""


def require_env_name(kind: str) -> str:
    """``"postgres"`` -> ``"REQUIRE_POSTGRES"``."""
    return "REQUIRE_" + kind.upper().replace("-", "_")


def required(kind: str) -> bool:
    """True when the environment demands this server (``REQUIRE_<KIND>=1``)."""
    return os.environ.get(require_env_name(kind), "").strip() == "1"


def require_or_skip(kind: str, reason: str | None) -> None:
    """The one skip-or-fail policy for tests that need a real server.

    ``reason`` is why the server of ``kind`` ("postgres", "neo4j") cannot be used, or ``None`` when
    it can (then this returns and does nothing). Otherwise the current test (or fixture) is
    skipped with a loud reason, or fails when ``REQUIRE_<KIND>=1``.
    """
    if reason is None:
        return
    env = require_env_name(kind)
    if required(kind):
        pytest.fail(f"{kind.upper()} REQUIRED ({env}=1) BUT NOT AVAILABLE: {reason}", pytrace=False)
    pytest.skip(
        f"NO {kind.upper()} SERVER -- {kind} tests skipped: {reason} (set {env}=1 to make this a failure)"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the caller retries on the rare race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a text file, or a note that it is missing."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<{path}: {exc.strerror}>"
    return "\n".join(text.splitlines()[-lines:])
