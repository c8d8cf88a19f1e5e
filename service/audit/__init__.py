"""The audit trail: every write recorded append-only and hash-chained; read, exported and verified, never changed.

Importing this package installs the recorder on every SQLAlchemy session (``service.audit.recorder``).
"""

from service.audit.recorder import Action, record, set_reason

__all__ = ["Action", "record", "set_reason"]
