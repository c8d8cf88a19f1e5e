"""The caller of a request: the owner of an API key in one role, or the anonymous public."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    admin = "admin"  # keys, everything
    steward = "steward"  # finance: the catalogue, policy changes, releases, assigning reviewers
    editor = "editor"  # a department's staff: proposals, duties, goals and targets of its departments
    reviewer = "reviewer"  # third-party consultant: the proposals assigned to them
    platform = "platform"  # the integrated finance platform (machine): read, suggest, targets


@dataclass(frozen=True)
class Principal:
    """``actor`` is the key's owner (a person or a system); keys rotate, the actor stays."""

    actor: str
    role: Role | None  # None: anonymous public read
    key_id: str | None = None
    departments: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_anonymous(self) -> bool:
        return self.role is None

    @property
    def role_name(self) -> str:
        return self.role.value if self.role else "public"

    def is_finance(self) -> bool:
        return self.role in (Role.admin, Role.steward)

    def covers_department(self, code: str | None) -> bool:
        """May this caller act for that department? Finance acts for all; an editor for its own."""
        if self.is_finance():
            return True
        if self.role is not Role.editor or code is None:
            return False
        # Compared by key (service/codes.py): a key scoped to "jyt" covers the department JYT.
        from service.codes import code_key

        return code_key(code) in {code_key(d) for d in self.departments}


ANONYMOUS = Principal(actor="anonymous", role=None)
SYSTEM = Principal(actor="system", role=Role.admin)  # start-up work and command-line tools
