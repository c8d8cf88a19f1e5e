"""A real Neo4j 5.26 Community server for the test session, without Docker.

The jars come from Maven Central (``scripts/neo4j-fetch`` -> ``.cache/neo4j/lib``, or
``$CATALOG_NEO4J_LIB``); ``start_neo4j(workdir)`` writes a minimal ``conf/neo4j.conf`` (bolt on a free
127.0.0.1 port, no auth, no HTTP, small page cache), launches
``java ... org.neo4j.server.CommunityEntryPoint`` and waits until Bolt answers. See
``scripts/neo4j/README.md`` for what was measured.

``CATALOG_TEST_NEO4J_URI`` makes it use that server instead (``managed`` False; optional
``CATALOG_TEST_NEO4J_AUTH=user:password``).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import REPO_ROOT, ServerStartError, free_port, require_or_skip, required, tail

__all__ = [
    "Neo4jServer",
    "find_java",
    "lib_dir",
    "neo4j_available",
    "start_neo4j",
    "start_neo4j_or_skip",
    "wipe_neo4j",
]

ENV_URI = "CATALOG_TEST_NEO4J_URI"
ENV_AUTH = "CATALOG_TEST_NEO4J_AUTH"
ENV_LIB = "CATALOG_NEO4J_LIB"
ENV_JAVA = "CATALOG_NEO4J_JAVA"
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
SUPPORTED_JAVA = (17, 21)  # Neo4j 5.26 runs on Java 17 and 21 only

JVM_FLAGS = [
    "-Xms512m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Dfile.encoding=UTF-8",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
]


def _conf(port: int) -> str:
    return f"""\
# Written by tests/support/neo4j.py for a throwaway test server. Neo4j 5 rejects unknown keys.
server.default_listen_address=127.0.0.1
server.bolt.listen_address=127.0.0.1:{port}
server.bolt.tls_level=DISABLED
server.http.enabled=false
server.https.enabled=false
dbms.security.auth_enabled=false
server.directories.data=data
server.directories.logs=logs
server.directories.run=run
server.memory.pagecache.size=128m
# no phone-home (this machine reaches no such host anyway)
dbms.usage_report.enabled=false
# do not preallocate 256 MB transaction log files per database
db.tx_log.preallocate=false
# Bolt's netty shutdown waits 5 s quiet period + up to 15 s by default: SIGTERM took ~11 s
internal.dbms.bolt.netty_server_shutdown_quiet_period=0
internal.dbms.bolt.netty_server_shutdown_timeout=2
"""


def lib_dir() -> Path:
    """Where the Neo4j jars are: ``$CATALOG_NEO4J_LIB`` or ``<repo>/.cache/neo4j/lib``."""
    env = os.environ.get(ENV_LIB)
    return Path(env) if env else REPO_ROOT / ".cache" / "neo4j" / "lib"


def _java_major(java: str) -> int | None:
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_java() -> tuple[str | None, str | None]:
    """(java executable, None) for a Java that runs Neo4j 5.26, or (None, why not)."""
    candidates: list[str] = []
    if os.environ.get(ENV_JAVA):
        candidates.append(os.environ[ENV_JAVA])
    else:
        for major in SUPPORTED_JAVA:
            candidates += sorted(
                str(p) for p in Path("/usr/lib/jvm").glob(f"java-{major}-openjdk-*/bin/java")
            )
        if os.environ.get("JAVA_HOME"):
            candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
        which = shutil.which("java")
        if which:
            candidates.append(which)
    seen: list[str] = []
    for java in candidates:
        if not Path(java).is_file() or not os.access(java, os.X_OK):
            continue
        version = _java_major(java)
        if version in SUPPORTED_JAVA:
            return java, None
        seen.append(f"{java} is Java {version}")
    if not seen:
        return None, "no Java runtime found (apt-get install openjdk-17-jre-headless)"
    return None, f"no Java 17/21 for Neo4j 5.26 ({'; '.join(seen)}); set {ENV_JAVA}"


def neo4j_available() -> str | None:
    """None when a Neo4j server can be had for tests, else why not."""
    if os.environ.get(ENV_URI):
        return None
    java, why = find_java()
    if java is None:
        return why
    lib = lib_dir()
    if not (lib / ".neo4j-version").is_file() or not any(lib.glob("neo4j-5*.jar")):
        return f"Neo4j jars not found in {lib} (run scripts/neo4j-fetch: needs Maven and Maven Central)"
    return None


def _auth_from_env() -> tuple[str, str] | None:
    raw = os.environ.get(ENV_AUTH)
    if not raw:
        return None
    user, _, password = raw.partition(":")
    return user, password


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: have the kernel SIGKILL the server if the test process dies without cleaning up."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


@dataclass
class Neo4jServer:
    """A Neo4j server we run (``managed``) or were pointed at; see the module docstring."""

    uri: str
    managed: bool
    auth: tuple[str, str] | None = None
    home: Path | None = None
    port: int = 0
    java: str | None = None
    lib: Path | None = None
    heap: str = "512m"
    die_with_parent: bool = True
    startup_seconds: float | None = None  # how long the last start() took until Bolt answered
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    @property
    def log_file(self) -> Path:
        assert self.home is not None
        return self.home / "logs" / "neo4j.log"

    @property
    def console_file(self) -> Path:
        assert self.home is not None
        return self.home / "logs" / "console.log"

    def driver(self, **kwargs: Any) -> Any:
        """A new ``neo4j.Driver`` for this server (close it: ``with server.driver() as d: ...``)."""
        import neo4j

        return neo4j.GraphDatabase.driver(self.uri, auth=self.auth, **kwargs)

    def _command(self) -> list[str]:
        assert self.java is not None
        assert self.lib is not None
        assert self.home is not None
        flags = [f if not f.startswith(("-Xms", "-Xmx")) else f[:4] + self.heap for f in JVM_FLAGS]
        return [
            self.java,
            "-cp",
            f"{self.lib}/*",
            *flags,
            ENTRY_POINT,
            f"--home-dir={self.home}",
            f"--config-dir={self.home / 'conf'}",
        ]

    def _logs(self) -> str:
        return (
            f"--- tail of {self.log_file} ---\n{tail(self.log_file)}\n"
            f"--- tail of {self.console_file} ---\n{tail(self.console_file)}"
        )

    def start(self, timeout: float = 120) -> None:
        """Start the server on this home's store (same port) and wait until Bolt answers."""
        self._require_managed("start")
        if self.running:
            return
        assert self.home is not None
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        with self.console_file.open("ab") as console:
            self._process = subprocess.Popen(
                self._command(),
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if self.die_with_parent and os.name == "posix" else None,
            )
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.kill()
            raise
        self.startup_seconds = time.monotonic() - began

    def wait_ready(self, timeout: float = 120) -> None:
        import neo4j
        from neo4j.exceptions import DriverError, Neo4jError

        deadline = time.monotonic() + timeout
        with neo4j.GraphDatabase.driver(self.uri, auth=self.auth, connection_timeout=5) as drv:
            while True:
                if self._process is not None and self._process.poll() is not None:
                    raise ServerStartError(
                        f"Neo4j exited with code {self._process.returncode} during start-up\n{self._logs()}"
                    )
                try:
                    drv.verify_connectivity()
                    return
                except (DriverError, Neo4jError, OSError) as exc:
                    if time.monotonic() > deadline:
                        raise ServerStartError(
                            f"Neo4j at {self.uri} not ready after {timeout:.0f}s ({exc!r})\n{self._logs()}"
                        ) from exc
                time.sleep(0.25)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM (clean shutdown, checkpoint), wait, SIGKILL if it hangs. No-op when not running."""
        proc = self._process
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)

    def kill(self) -> None:
        """SIGKILL, as a crash would; ``start()`` then recovers the store."""
        proc = self._process
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait(30)

    def restart(self, timeout: float = 120) -> None:
        self._require_managed("restart")
        self.stop()
        self.start(timeout)

    def close(self) -> None:
        """Stop the server (the store stays in ``home`` for inspection)."""
        self.stop()

    def wipe(self, database: str | None = None) -> None:
        """Delete every node and relationship, and drop every constraint and (non-lookup) index."""
        wipe_neo4j(self.uri, self.auth, database=database)

    def _require_managed(self, what: str) -> None:
        if not self.managed:
            raise RuntimeError(f"cannot {what} an external Neo4j server ({ENV_URI} is set)")


def wipe_neo4j(uri: str, auth: tuple[str, str] | None = None, *, database: str | None = None) -> None:
    """Empty a Neo4j database: nodes and relationships, constraints, indexes (not the lookup ones)."""
    import neo4j

    with neo4j.GraphDatabase.driver(uri, auth=auth) as drv, drv.session(database=database) as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()
        for record in list(session.run("SHOW CONSTRAINTS YIELD name RETURN name")):
            session.run("DROP CONSTRAINT $name IF EXISTS", name=record["name"]).consume()
        for record in list(session.run("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name")):
            session.run("DROP INDEX $name IF EXISTS", name=record["name"]).consume()


def start_neo4j(
    workdir: Path, *, timeout: float = 120, heap: str = "512m", die_with_parent: bool = True
) -> Neo4jServer:
    """Start a Neo4j server with its home in ``workdir`` (or use ``$CATALOG_TEST_NEO4J_URI``)."""
    if os.environ.get(ENV_URI):
        return Neo4jServer(uri=os.environ[ENV_URI], managed=False, auth=_auth_from_env())
    reason = neo4j_available()
    if reason is not None:
        raise ServerStartError(reason)
    java, _ = find_java()
    home = Path(workdir).resolve()
    (home / "conf").mkdir(parents=True, exist_ok=True)
    server = Neo4jServer(
        uri="",
        managed=True,
        home=home,
        java=java,
        lib=lib_dir().resolve(),
        heap=heap,
        die_with_parent=die_with_parent,
    )
    atexit.register(server.stop)
    last_error: ServerStartError | None = None
    for _attempt in range(3):  # retry on the rare race for the free port
        server.port = free_port()
        server.uri = f"bolt://127.0.0.1:{server.port}"
        (home / "conf" / "neo4j.conf").write_text(_conf(server.port), encoding="utf-8")
        try:
            server.start(timeout)
            return server
        except ServerStartError as exc:
            last_error = exc
            if "Address already in use" not in str(exc):
                raise
    assert last_error is not None
    raise last_error


def start_neo4j_or_skip(workdir: Path, **kwargs: Any) -> Neo4jServer:
    """``start_neo4j`` with the skip-or-fail policy of :func:`tests.support.require_or_skip`."""
    require_or_skip("neo4j", neo4j_available())
    try:
        return start_neo4j(workdir, **kwargs)
    except ServerStartError as exc:
        if required("neo4j"):
            raise
        require_or_skip("neo4j", f"jars and Java found but the server did not start: {exc}")
        raise  # unreachable: require_or_skip raised
