"""Admin PATCH latency while one client uploads at one byte per second (issue 14, finding 3).

``python -m bench.slow_client [--repo PATH] [--trickle-seconds 15] [--body-read-seconds N]``

Starts ``uvicorn service.asgi:app`` (one worker) from ``--repo`` (default: this checkout; give another
worktree, e.g. ``/work/main``, to measure its code with this virtualenv) over a fresh seeded SQLite file,
mints an admin key, then opens a raw socket that announces ``Content-Length: 100000`` to
``POST /v1/imports?dry_run=true`` and sends one byte a second for ``--trickle-seconds`` before hanging up.
Two seconds into the trickle it times one admin ``PATCH /v1/indicators/{code}``; it also reports what the
slow client was answered, and when. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the service did not start")


def _slow_upload(port: int, token: str, seconds: float, out: dict[str, object]) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=seconds + 30)
    head = (
        "POST /v1/imports?dry_run=true HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\n"
    )
    sock.sendall(head.encode("ascii"))
    started = time.monotonic()
    sock.settimeout(1.0)
    answer = b""
    while time.monotonic() - started < seconds:
        try:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
            out.setdefault("slow_answered_after_s", round(time.monotonic() - started, 2))
        except TimeoutError:
            pass
        try:
            sock.sendall(b"a")
        except OSError:
            break
    sock.close()
    out["slow_status_line"] = answer.split(b"\r\n", 1)[0].decode("latin-1") or "(none: hung up by the client)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", type=Path, default=HERE)
    parser.add_argument("--trickle-seconds", type=float, default=15.0)
    parser.add_argument("--body-read-seconds", type=float, default=None, help="CATALOG_BODY_READ_SECONDS")
    args = parser.parse_args()
    repo = args.repo.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CATALOG_DATABASE_URL": f"sqlite:///{tmp}/catalog.db", "CATALOG_SEED": "true",
               "PYTHONPATH": str(repo)}  # fmt: skip
        if args.body_read_seconds is not None:
            env["CATALOG_BODY_READ_SECONDS"] = str(args.body_read_seconds)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service.asgi:app", "--port", str(port), "--log-level", "warning"],
            cwd=repo, env=env,
        )  # fmt: skip
        try:
            _wait_healthy(base, proc)
            token = subprocess.run(
                [sys.executable, "-m", "service.cli", "keys", "create", "--owner", "bench", "--role", "admin"],
                cwd=repo, env=env, check=True, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            out: dict[str, object] = {"repo": str(repo), "trickle_seconds": args.trickle_seconds}
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
                code = client.get("/v1/indicators", params={"limit": 1}).json()["items"][0]["code"]
                tag = client.get(f"/v1/indicators/{code}").headers["ETag"]
                slow = threading.Thread(target=_slow_upload, args=(port, token, args.trickle_seconds, out))
                slow.start()
                time.sleep(2.0)
                began = time.monotonic()
                r = client.patch(f"/v1/indicators/{code}", json={"value": 7}, headers={"If-Match": tag})
                out["patch_status"] = r.status_code
                out["patch_latency_s"] = round(time.monotonic() - began, 3)
                slow.join()
            print(json.dumps(out, ensure_ascii=False))
        finally:
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()
