"""API keys: minted at random, shown once, kept as a hash, checked in constant time.

A key reads ``icat_<id>_<secret>``: the id finds the row, the secret is compared with
``hmac.compare_digest`` against its SHA-256 (a 256-bit random secret needs no slow hash).
Verified keys are cached for ``key_cache_seconds`` so the suggestion path does not query per call;
a revocation in this process drops the cache entry at once, other workers see it within that time.
A key's last use is noted in memory and written in the background (``KeyRing.flush``): checking a key
only reads, so a request never waits for the write lock a long import holds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from service.auth import repository
from service.auth.principal import Principal, Role
from service.auth.schemas import KeyCreated, KeyIn, KeyOut, RotateIn
from service.db import brief_write
from service.errors import Conflict, FieldError, NotFound, ValidationFailed
from service.models import ApiKey
from service.versions.service import as_utc

TOKEN_PREFIX = "icat"
log = logging.getLogger("service.auth")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    if len(parts[1]) > 16 or len(parts[2]) > 128:
        return None
    return parts[1], parts[2]


def is_active(key: ApiKey, now: datetime) -> bool:
    return key.revoked_at is None and (key.expires_at is None or as_utc(key.expires_at) > now)


def view(key: ApiKey, now: datetime | None = None) -> KeyOut:
    return KeyOut(
        id=key.id,
        owner=key.owner,
        role=Role(key.role),
        departments=list(key.departments),
        note=key.note,
        created_at=as_utc(key.created_at),
        created_by=key.created_by,
        expires_at=as_utc(key.expires_at) if key.expires_at else None,
        revoked_at=as_utc(key.revoked_at) if key.revoked_at else None,
        revoked_by=key.revoked_by,
        rotated_from=key.rotated_from,
        last_used_at=as_utc(key.last_used_at) if key.last_used_at else None,
        active=is_active(key, now or datetime.now(UTC)),
    )


def _check_departments(session: Session, role: Role, departments: list[str]) -> list[str]:
    codes = sorted(set(departments))
    if role is Role.editor and not codes:
        raise ValidationFailed(
            "An editor key needs at least one department",
            errors=[FieldError("departments", "required for the editor role")],
        )
    if role is not Role.editor and codes:
        raise ValidationFailed(
            "Only editor keys are scoped to departments",
            errors=[FieldError("departments", f"must be empty for the {role.value} role")],
        )
    # Stored as the departments spell their codes, whatever spelling the caller used.
    found = {c: repository.department_code(session, c) for c in codes}
    unknown = [c for c, stored in found.items() if stored is None]
    if unknown:
        raise ValidationFailed(
            "Unknown department", errors=[FieldError("departments", f"no department {c}") for c in unknown]
        )
    return list(dict.fromkeys(stored for stored in found.values() if stored is not None))


def create_key(session: Session, data: KeyIn, *, created_by: str) -> KeyCreated:
    now = datetime.now(UTC)
    departments = _check_departments(session, data.role, data.departments)
    expires_at = data.expires_at
    if data.expires_in_days is not None:
        if expires_at is not None:
            raise ValidationFailed(
                "Give expires_at or expires_in_days, not both",
                errors=[FieldError("expires_in_days", "conflicts with expires_at")],
            )
        expires_at = now + timedelta(days=data.expires_in_days)
    if expires_at is not None and as_utc(expires_at) <= now:
        raise ValidationFailed(
            "The expiry is in the past", errors=[FieldError("expires_at", "must be later")]
        )
    return _mint(session, data.owner, data.role, departments, expires_at, data.note, created_by, None)


def _mint(
    session: Session,
    owner: str,
    role: Role,
    departments: list[str],
    expires_at: datetime | None,
    note: str | None,
    created_by: str,
    rotated_from: str | None,
) -> KeyCreated:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=key_id,
        secret_hash=_hash(secret),
        owner=owner,
        role=role.value,
        departments=departments,
        note=note,
        created_by=created_by,
        expires_at=as_utc(expires_at) if expires_at else None,
        rotated_from=rotated_from,
    )
    session.add(key)
    session.flush()
    return KeyCreated(**view(key).model_dump(), token=f"{TOKEN_PREFIX}_{key_id}_{secret}")


def _require(session: Session, key_id: str) -> ApiKey:
    key = repository.get(session, key_id)
    if key is None:
        raise NotFound(f"No API key {key_id}")
    return key


def list_keys(session: Session, *, include_revoked: bool = False) -> list[KeyOut]:
    now = datetime.now(UTC)
    return [view(k, now) for k in repository.list_keys(session, include_revoked=include_revoked)]


def get_key(session: Session, key_id: str) -> KeyOut:
    return view(_require(session, key_id))


def revoke(session: Session, key_id: str, *, by: str) -> KeyOut:
    key = _require(session, key_id)
    now = datetime.now(UTC)
    if key.revoked_at is not None:
        return view(key, now)  # revoking twice changes nothing
    if key.role == Role.admin and is_active(key, now) and repository.count_admins(session, now) <= 1:
        raise Conflict("This is the last active admin key; create another admin key first")
    key.revoked_at = now
    key.revoked_by = by
    session.add(key)
    session.flush()
    return view(key, now)


def rotate(session: Session, key_id: str, data: RotateIn, *, by: str) -> KeyCreated:
    """A new key for the same owner and rights; the old one stops now or after a grace period."""
    old = _require(session, key_id)
    now = datetime.now(UTC)
    if not is_active(old, now):
        raise Conflict(f"API key {key_id} is revoked or expired; create a new key instead")
    new = _mint(
        session, old.owner, Role(old.role), list(old.departments), old.expires_at, old.note, by, old.id
    )
    if data.grace_seconds:
        ends = now + timedelta(seconds=data.grace_seconds)
        old.expires_at = min(as_utc(old.expires_at), ends) if old.expires_at else ends
    else:
        old.revoked_at = now
        old.revoked_by = by
    session.add(old)
    session.flush()
    return new


@dataclass(frozen=True)
class _Cached:
    secret_hash: str | None  # None: no such key
    principal: Principal | None
    expires_at: datetime | None
    revoked: bool
    fetched: float


class KeyRing:
    """Authenticates bearer tokens against the key table, through a short cache."""

    MAX_CACHED = 10_000

    # How long a flush may wait for the database's write lock before it gives up until the next round.
    FLUSH_WAIT_SECONDS = 0.1

    def __init__(self, engine: Engine, ttl_seconds: float) -> None:
        self._engine = engine
        self._ttl = ttl_seconds
        self._cache: dict[str, _Cached] = {}
        self._used: dict[str, datetime] = {}  # key id -> last use not yet written
        self._lock = threading.Lock()

    async def authenticate(self, token: str) -> Principal | None:
        parsed = parse_token(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        entry = self._cache.get(key_id)
        if entry is None or time.monotonic() - entry.fetched > self._ttl:
            entry = await run_in_threadpool(self._load, key_id)
        # Always hash and compare, known key or not, so timing tells nothing about which ids exist.
        matches = hmac.compare_digest(_hash(secret), entry.secret_hash or "0" * 64)
        if not matches or entry.secret_hash is None or entry.revoked:
            return None
        now = datetime.now(UTC)
        if entry.expires_at is not None and entry.expires_at <= now:
            return None
        with self._lock:
            self._used[key_id] = now
        return entry.principal

    def flush(self) -> int:
        """Write the last uses noted since the previous flush; how many keys were written.

        Waits at most ``FLUSH_WAIT_SECONDS`` for the write lock; when a long write holds it, the uses
        are kept for the next round. Each worker flushes its own; a time never moves backwards.
        """
        with self._lock:
            uses, self._used = self._used, {}
        if not uses:
            return 0
        try:
            with brief_write(self._engine, wait_seconds=self.FLUSH_WAIT_SECONDS) as session:
                repository.record_uses(session, uses)
        except OperationalError as exc:
            with self._lock:
                for key_id, at in uses.items():  # newer uses noted meanwhile win
                    self._used[key_id] = max(at, self._used.get(key_id, at))
            log.info("last key use not written yet (the database is busy): %s", exc.orig)
            return 0
        return len(uses)

    async def flush_every(self, seconds: float) -> None:
        """Flush in the thread pool every ``seconds`` until cancelled (the app's lifespan runs this)."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await run_in_threadpool(self.flush)
            except Exception:
                log.exception("writing the keys' last use failed; retrying next round")

    def forget(self, key_id: str) -> None:
        with self._lock:
            self._cache.pop(key_id, None)

    def _load(self, key_id: str) -> _Cached:
        with Session(self._engine) as session:
            key = repository.get(session, key_id)
            if key is None:
                entry = _Cached(None, None, None, True, time.monotonic())
            else:
                entry = _Cached(
                    key.secret_hash,
                    Principal(
                        actor=key.owner,
                        role=Role(key.role),
                        key_id=key.id,
                        departments=frozenset(key.departments),
                    ),
                    as_utc(key.expires_at) if key.expires_at else None,
                    key.revoked_at is not None,
                    time.monotonic(),
                )
        with self._lock:
            if len(self._cache) >= self.MAX_CACHED:
                self._cache.clear()  # bounded: a flood of made-up ids cannot grow memory
            self._cache[key_id] = entry
        return entry
