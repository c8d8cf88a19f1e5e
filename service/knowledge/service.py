"""When a graph read asks for the past: ``?as_of=`` or ``?release=`` as the instant the stores take."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from service.versions.service import Past, end_of, require_release


def as_of_instant(session: Session, past: Past) -> datetime | None:
    """The instant a graph query is answered at (None: now).

    ``as_of`` is a date, read as the end of that day (``end_of``); a release stands for its
    ``effective_on`` date. ``PastDep`` has refused both at once (422); an unknown release is a 404.
    """
    if past.release is not None:
        return end_of(require_release(session, past.release).effective_on)
    return None if past.as_of is None else end_of(past.as_of)
