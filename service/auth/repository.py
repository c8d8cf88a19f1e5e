"""SQL for API keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from service.models import ApiKey, Department


def get(session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_keys(session: Session, *, include_revoked: bool) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(col(ApiKey.created_at), col(ApiKey.id))
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return session.exec(query).all()


def record_uses(session: Session, uses: Mapping[str, datetime]) -> None:
    """Set each key's ``last_used_at``, never backwards (several workers flush their own records)."""
    for key_id, at in sorted(uses.items()):  # a fixed order: two flushers never wait on each other in a cycle
        session.execute(
            update(ApiKey)
            .where(col(ApiKey.id) == key_id)
            .where(or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < at))
            .values(last_used_at=at)
        )


def count_admins(session: Session, now: datetime) -> int:
    rows = session.exec(
        select(ApiKey).where(col(ApiKey.role) == "admin", col(ApiKey.revoked_at).is_(None))
    ).all()
    return sum(1 for k in rows if k.expires_at is None or _aware(k.expires_at) > now)


def _aware(at: datetime) -> datetime:
    from service.versions.service import as_utc

    return as_utc(at)


def department_code(session: Session, code: str) -> str | None:
    """The stored code of the department ``code`` names in any spelling (service/codes.py), or None."""
    from service.codes import code_key

    found = session.exec(select(Department.code).where(col(Department.code) == code)).first()
    if found is None:
        found = session.exec(
            select(Department.code).where(col(Department.code_key) == code_key(code))
        ).first()
    return found


def active_owners(session: Session, role: str, now: datetime) -> set[str]:
    """Owners (actors) holding at least one active key in ``role``."""
    rows = session.exec(
        select(ApiKey).where(col(ApiKey.role) == role, col(ApiKey.revoked_at).is_(None))
    ).all()
    # Expiry is compared in Python: SQLite keeps naive timestamps (see count_admins).
    return {k.owner for k in rows if k.expires_at is None or _aware(k.expires_at) > now}
