"""When a graph read asks for the past: ``?as_of=`` or ``?release=`` as the instant the stores take."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from graph.model import NodeLabel, node_id
from service.indicators import repository as indicator_repo
from service.taxonomy.service import Refs
from service.versions.service import Past, end_of, require_release

_LABELS = {label.value.casefold(): label for label in NodeLabel}


def as_of_instant(session: Session, past: Past) -> datetime | None:
    """The instant a graph query is answered at (None: now).

    ``as_of`` is a date, read as the end of that day (``end_of``); a release stands for its
    ``effective_on`` date. ``PastDep`` has refused both at once (422); an unknown release is a 404.
    """
    if past.release is not None:
        return end_of(require_release(session, past.release).effective_on)
    return None if past.as_of is None else end_of(past.as_of)


def indicator_code(session: Session, code: str) -> str:
    """The stored code of the indicator ``code`` names in any case or width (``zz-00012`` → ZZ-00012).

    Graph nodes are keyed by the stored code (in the embedded store and in Neo4j alike), so every
    code from a path or a node id goes through here first; an unknown code is passed on unchanged
    and the graph answers 404 for it.
    """
    found = indicator_repo.get_by_code(session, code)
    return found.code if found is not None else code


def department_code(session: Session, code: str) -> str:
    """The stored code of the department ``code`` names in any spelling (or ``code`` when none does)."""
    refs = Refs(session)
    found = refs.department_id(code, create=False)
    return refs.departments[found].code if found is not None else code


def graph_node(session: Session, node: str) -> str:
    """A ``<Label>:<key>`` node id with its key as the graph stores it: codes of indicators, departments
    and sectors resolved by key (service/codes.py), the label matched regardless of case."""
    label_text, sep, key = node.partition(":")
    label = _LABELS.get(label_text.strip().casefold())
    if not sep or label is None:
        return node
    key = key.strip()
    if label is NodeLabel.Indicator:
        key = indicator_code(session, key)
    elif label is NodeLabel.Department:
        key = department_code(session, key)
    elif label is NodeLabel.Sector:
        refs = Refs(session)
        found = refs.sector_id(key, create=False)
        key = refs.sectors[found].code if found is not None else key
    return node_id(label, key)
