"""When a graph read asks for the past: ``?as_of=`` or ``?release=`` as the instant the stores take."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from service.versions.service import check_one_of, end_of, parse_as_of, require_release


def as_of_instant(session: Session, *, as_of: str | None, release: str | None) -> datetime | None:
    """The instant a graph query is answered at (None: now).

    ``as_of`` is a date, read as the end of that day (``end_of``); a release stands for its
    ``effective_on`` date. Both at once is a 422, an unknown release a 404.
    """
    check_one_of(release, as_of)
    if release is not None:
        return end_of(require_release(session, release).effective_on)
    day = parse_as_of(as_of)
    return None if day is None else end_of(day)
