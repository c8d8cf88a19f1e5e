"""Legal bases (法律法规, 三定, 规划, 政策文件, 国家/行业标准) and their editions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session

from loaders.text import normalize_text
from service.domain import BasisKind, BasisStatus
from service.errors import Conflict, NotFound, ValidationFailed
from service.legal_bases import repository as repo
from service.legal_bases.schemas import LegalBasisIn, LegalBasisOut
from service.models import LegalBasis, utcnow
from service.outbox.service import Entity, record

_FULL_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_STANDARD_NO = re.compile(r"\b(GB/T|GB|HJ|CJ/T|CJ|JGJ|SL|NY/T|WS/T|DB\d*/T?)\s?(\d+(?:\.\d+)?)-(\d{2,4})\b")
_TITLE_IN_BOOK_MARKS = re.compile(r"《([^》]{2,100})》")
_ANNOTATION = re.compile(r"\s*\[[^\]]*\]\s*")


def parse_dates(text: str | None) -> tuple[date | None, date | None]:
    """(issued_on, effective_on) from texts like "2022-03-15发布;2023-04-01实施"; partial dates stay None."""
    if not text:
        return None, None
    issued = effective = None
    for part in re.split(r"[;；]", text):
        m = _FULL_DATE.search(part)
        if not m:
            continue
        try:
            d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
        if "实施" in part or "施行" in part:
            effective = effective or d
        else:
            issued = issued or d
    return issued, effective


def infer_kind(doc_no: str, title: str) -> BasisKind:
    if re.match(r"^(GB|GB/T)\s?\d", doc_no):
        return BasisKind.national_standard
    if re.match(r"^(HJ|CJ|JGJ|SL|NY|WS|DB)", doc_no) or "标准" in title and "修改单" not in title:
        return BasisKind.industry_standard if not doc_no.startswith("GB") else BasisKind.national_standard
    if re.search(r"法$", title) or title.startswith("中华人民共和国"):
        return BasisKind.law
    if "条例" in title:
        return BasisKind.regulation
    if "三定" in title or "职能配置" in title:
        return BasisKind.duty_mandate
    if "规划" in title or re.search(r"计划\(\d{4}", title):
        return BasisKind.plan
    return BasisKind.policy


def clean_doc_no(doc_no: str) -> str:
    return _ANNOTATION.sub("", doc_no).strip()


@dataclass(frozen=True)
class BasisMatcher:
    """Finds the known documents that a free-text basis names (by number or title)."""

    patterns: tuple[tuple[str, int], ...]
    by_number: frozenset[str] = frozenset()
    title_of: dict[int, str] = field(default_factory=dict)

    @classmethod
    def build(cls, bases: Iterable[LegalBasis]) -> BasisMatcher:
        keys: dict[str, int] = {}
        numbers: set[str] = set()
        titles: dict[int, str] = {}
        # Editions share a title: the one in force (then the newest) is what a bare title means.
        ordered = sorted(
            bases,
            key=lambda b: (
                b.status != BasisStatus.in_force,
                -(b.effective_on or date.min).toordinal(),
                -(b.id or 0),
            ),
        )
        for b in ordered:
            assert b.id is not None
            doc_no = clean_doc_no(b.doc_no)
            # Document numbers are only usable when they look like one (文号 or a standard number).
            if re.search(r"〔\d{4}〕|\d+-\d{2,4}|令第?\d+号", doc_no):
                # Case-folded, as every text it is looked for in: "gb 5749-2022" names GB 5749-2022.
                key = normalize_text(doc_no).casefold()
                keys.setdefault(key, b.id)
                numbers.add(key)
            title = normalize_text(_ANNOTATION.sub("", b.title)).casefold()
            titles[b.id] = title
            if len(title) >= 6:
                keys.setdefault(title, b.id)
        # Longest keys first so a title wins over a shorter one it contains.
        return cls(tuple(sorted(keys.items(), key=lambda kv: -len(kv[0]))), frozenset(numbers), titles)

    def match(self, text: str | None) -> list[int]:
        if not text:
            return []
        norm = normalize_text(text).casefold()
        hits = [(key, basis_id) for key, basis_id in self.patterns if key in norm]
        # A text naming an edition by number ("GB 5749-2006《生活饮用水卫生标准》") means that edition,
        # not also the one in force that the bare title would pick.
        named = {self.title_of.get(b) for k, b in hits if k in self.by_number}
        found: list[int] = []
        for key, basis_id in hits:
            if key not in self.by_number and key in named:
                continue
            if basis_id not in found:
                found.append(basis_id)
        return found


def to_out(
    basis: LegalBasis, links: Mapping[str, Mapping[int, list[int]]], counts: Mapping[int, int]
) -> LegalBasisOut:
    assert basis.id is not None
    bid = basis.id
    return LegalBasisOut(
        id=bid,
        doc_no=basis.doc_no,
        title=basis.title,
        kind=BasisKind(basis.kind),
        issuer=basis.issuer,
        issued_on=basis.issued_on,
        effective_on=basis.effective_on,
        date_text=basis.date_text,
        status=BasisStatus(basis.status),
        supersedes=links["supersedes"].get(bid, []),
        superseded_by=links["superseded_by"].get(bid, []),
        amends=links["amends"].get(bid, []),
        amended_by=links["amended_by"].get(bid, []),
        supersedes_text=basis.supersedes_text,
        sectors=list(basis.sectors or []),
        source=basis.source,
        note=basis.note,
        indicator_count=counts.get(bid, 0),
    )


def _link_maps(session: Session) -> dict[str, dict[int, list[int]]]:
    maps: dict[str, dict[int, list[int]]] = {
        "supersedes": {},
        "superseded_by": {},
        "amends": {},
        "amended_by": {},
    }
    for link in repo.all_links(session):
        forward, backward = (
            ("supersedes", "superseded_by") if link.relation == "supersedes" else ("amends", "amended_by")
        )
        maps[forward].setdefault(link.basis_id, []).append(link.target_id)
        maps[backward].setdefault(link.target_id, []).append(link.basis_id)
    return maps


def list_bases(session: Session, *, q: str | None = None, status: str | None = None) -> list[LegalBasisOut]:
    links, counts = _link_maps(session), repo.indicator_counts(session)
    out = []
    needle = normalize_text(q) if q else None
    for b in repo.all_bases(session):
        if status and b.status != status:
            continue
        if needle and needle not in b.title and needle not in b.doc_no:
            continue
        out.append(to_out(b, links, counts))
    return out


def get_basis(session: Session, basis_id: int) -> LegalBasisOut:
    basis = repo.get(session, basis_id)
    if basis is None:
        raise NotFound(f"Legal basis {basis_id} does not exist")
    return to_out(basis, _link_maps(session), repo.indicator_counts(session))


def create_basis(session: Session, data: LegalBasisIn) -> LegalBasisOut:
    """Record a document; editions it supersedes are marked superseded."""
    if repo.find(session, data.doc_no, data.title) is not None:
        raise Conflict(f"Legal basis {data.doc_no} 《{data.title}》 already exists")
    for target in [*data.supersedes, *data.amends]:
        if repo.get(session, target) is None:
            raise ValidationFailed(
                "Unknown legal basis referenced",
                errors=[_field_error("supersedes", f"legal basis {target} does not exist")],
            )
    basis = repo.add(
        session,
        LegalBasis(
            doc_no=data.doc_no,
            title=data.title,
            kind=(data.kind or infer_kind(data.doc_no, data.title)).value,
            issuer=data.issuer,
            issued_on=data.issued_on,
            effective_on=data.effective_on,
            status=data.status.value,
            sectors=data.sectors,
            source=data.source,
            note=data.note,
        ),
    )
    assert basis.id is not None
    for target in data.supersedes:
        repo.add_link(session, basis_id=basis.id, target_id=target, relation="supersedes")
        old = repo.get(session, target)
        if old is not None and old.status == BasisStatus.in_force:
            old.status = BasisStatus.superseded.value
            old.updated_at = utcnow()
            old.version += 1
    for target in data.amends:
        repo.add_link(session, basis_id=basis.id, target_id=target, relation="amends")
    session.flush()
    record(session, Entity.legal_basis, [basis.id, *data.supersedes, *data.amends])
    from service.versions.service import Provenance, record_bases

    record_bases(session, [basis.id, *data.supersedes, *data.amends], Provenance(reason="recorded"))
    return get_basis(session, basis.id)


def _field_error(field: str, message: str) -> Any:
    from service.errors import FieldError

    return FieldError(field=field, message=message)


def load_seed_bases(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """Load legal_bases.jsonl rows (idempotent); named earlier editions become superseded records."""
    created = 0
    for row in rows:
        doc_no = normalize_text(str(row.get("doc_no") or "")) or "(文号未见)"
        title = normalize_text(str(row["title"]))
        if repo.find(session, doc_no, title) is not None:
            continue
        issued, effective = parse_dates(row.get("date"))
        basis = repo.add(
            session,
            LegalBasis(
                doc_no=doc_no,
                title=title,
                kind=infer_kind(doc_no, title).value,
                issuer=row.get("issuer") or None,
                issued_on=issued,
                effective_on=effective,
                date_text=row.get("date") or None,
                supersedes_text=row.get("supersedes") or None,
                sectors=list(row.get("sectors") or []),
                source=row.get("source") or None,
                note=row.get("note") or None,
            ),
        )
        created += 1
        created += _link_named_editions(session, basis)
    return created


def _link_named_editions(session: Session, basis: LegalBasis) -> int:
    """Create records for the older standards a seed row says it replaces, and link them."""
    text = basis.supersedes_text
    if not text or basis.id is None:
        return 0
    created = 0
    amendment = "修改单" in basis.title
    for m in _STANDARD_NO.finditer(text):
        doc_no = f"{m.group(1)} {m.group(2)}-{m.group(3)}"
        tail = text[m.end() : m.end() + 80]
        t = _TITLE_IN_BOOK_MARKS.match(tail.strip())
        title = t.group(1) if t else basis.title
        target = next(
            (
                b
                for b in repo.all_bases(session)
                if clean_doc_no(b.doc_no).replace(" ", "") == doc_no.replace(" ", "")
            ),
            None,
        )
        if target is None:
            target = repo.add(
                session,
                LegalBasis(
                    doc_no=doc_no,
                    title=normalize_text(title),
                    kind=infer_kind(doc_no, title).value,
                    status=(BasisStatus.in_force if amendment else BasisStatus.superseded).value,
                    note=f"由 {basis.doc_no} 的替代说明生成",
                ),
            )
            created += 1
        assert target.id is not None
        repo.add_link(
            session, basis_id=basis.id, target_id=target.id, relation="amends" if amendment else "supersedes"
        )
        if not amendment and target.status == BasisStatus.in_force:
            target.status = BasisStatus.superseded.value
    return created
