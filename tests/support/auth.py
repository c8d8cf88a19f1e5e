"""API keys for tests: minted straight into a test database, like `indicator-catalog keys create`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from service.auth.principal import Role
from service.auth.schemas import KeyIn
from service.auth.service import create_key
from service.db import make_engine


def mint_key(url: str, role: Role | str, *, owner: str | None = None, departments: Sequence[str] = ()) -> str:
    """A fresh key in ``role``; returns the bearer token."""
    role = Role(role)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            created = create_key(
                session,
                KeyIn(owner=owner or f"test-{role.value}", role=role, departments=list(departments)),
                created_by="tests",
            )
            session.commit()
            return created.token
    finally:
        engine.dispose()


def make_department(url: str, code: str, name: str) -> None:
    """A department straight into a test database (an editor key must name existing ones)."""
    from service.duties.schemas import DepartmentIn
    from service.duties.service import create_department

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            create_department(session, DepartmentIn(code=code, name=name))
            session.commit()
    finally:
        engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
