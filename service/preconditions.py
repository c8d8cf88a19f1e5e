"""Optimistic locking: the one reading of an ``If-Match`` header, for every guarded write.

A writer sends the ETag it read; a stale one is 412, none (where one is required) 428. The wildcard
``*`` is refused (428) even though HTTP allows it: it matches every version, so a writer sending it
would overwrite whatever changed since it read, which is exactly what the lock is there to prevent.
A weak tag (``W/"…"``) never matches: RFC 9110 compares If-Match strongly, and a weak validator does not
promise the writer read this exact version (ours are all strong, so only a forged or mangled tag is weak).
"""

from __future__ import annotations

from service.errors import PreconditionFailed, PreconditionRequired


def if_match_tags(if_match: str) -> set[str]:
    """The entity tags listed in an If-Match header, as sent (a weak one keeps its ``W/``, so it can
    never equal one of our strong tags)."""
    return {t.strip() for t in if_match.split(",")}


def require_if_match(current: str, if_match: str | None, *, what: str, required: bool, stale: str) -> None:
    """Refuse the write unless ``if_match`` names ``current`` (``stale``: the 412's detail)."""
    if if_match is None:
        if required:
            raise PreconditionRequired(f"This request needs an If-Match header with the {what}'s ETag")
        return
    tags = if_match_tags(if_match)
    if tags & {"*", "W/*"}:
        raise PreconditionRequired(
            f"If-Match: * matches any version of the {what} and would overwrite changes made meanwhile; "
            "send the ETag you read — If-Match 不接受 *,请发送读取时得到的 ETag"
        )
    if current not in tags:
        raise PreconditionFailed(stale, extra={"current_etag": current})
