"""Suggestion use cases: keep the engine fresh, gather context signals, shape the answer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import Session

from loaders.text import format_number
from service.domain import COMPARATOR_SYMBOLS, Comparator, Kind
from service.errors import FieldError, ValidationFailed
from service.search.text import Analyzer
from service.suggest import repository as repo
from service.suggest.catalogue import SuggestDoc, field_of
from service.suggest.drafts import Draft
from service.suggest.engine import SuggestEngine
from service.suggest.extract import Extraction
from service.suggest.fields import FieldGuess
from service.suggest.ranking import Coverage, Signal, Suggestion, SuggestQuery, SuggestResult
from service.suggest.schemas import (
    CoverageOut,
    DeadlineOut,
    DraftFields,
    DraftOut,
    DraftProposalItem,
    FieldOut,
    Filler,
    ParsedOut,
    ProposedValue,
    QuantityOut,
    SuggestBatchRequest,
    SuggestBatchResponse,
    SuggestedIndicator,
    SuggestionItem,
    SuggestRequest,
    SuggestResponse,
)
from service.suggest.signals import RelationalSignals, SignalProvider, UsageSignals
from service.taxonomy.service import Refs

# --- keeping the engine fresh ------------------------------------------------------------------------


def docs_from_rows(rows: Iterable[Any], refs: Refs) -> list[SuggestDoc]:
    """Engine documents for ``repo.doc_rows`` rows (levels, sector and department resolved by ``refs``)."""
    levels = {cid: (node.level1, node.level2) for cid, node in refs.categories.items()}
    sectors: dict[int, tuple[str | None, str | None, str | None]] = {}
    for sid, sector in refs.sectors.items():
        top = sector
        while top.parent_id is not None and top.parent_id in refs.sectors:
            top = refs.sectors[top.parent_id]
        sectors[sid] = (sector.name, sector.code, top.name)
    departments: dict[int, tuple[str | None, str | None]] = {
        did: (d.name, d.code) for did, d in refs.departments.items()
    }
    no_sector: tuple[str | None, str | None, str | None] = (None, None, None)
    no_department: tuple[str | None, str | None] = (None, None)
    docs = []
    # Positional unpacking (``repo.DOC_COLUMNS`` order): attribute access per row costs a 100k rebuild ~1 s.
    for (
        _id, code, name, kind, status, category_id, sector_id, department_id, raw_level2, unit, comparator,
        value, value_num, raw_value, keywords, definition,
    ) in rows:  # fmt: skip
        level1, level2 = levels[category_id]
        sector_name, sector_code, root = sectors.get(sector_id, no_sector) if sector_id else no_sector
        dept_name, dept_code = (
            departments.get(department_id, no_department) if department_id else no_department
        )
        docs.append(
            SuggestDoc(
                code=code,
                name=name,
                kind=kind,
                status=status,
                level1=level1,
                level2=level2,
                raw_level2=raw_level2,
                sector=sector_name,
                sector_code=sector_code,
                sector_root=root,
                department=dept_name,
                department_code=dept_code,
                unit=unit,
                comparator=comparator,
                value=value_num if value_num is not None else value,
                raw_value=raw_value,
                keywords=tuple(keywords or ()),
                definition=definition or "",
            )
        )
    return docs


def refresh_engine(session: Session, engine: SuggestEngine) -> int:
    """Bring the engine up to the database's change counter (one cheap query when current).

    Returns the outbox position read alongside, which keys the link-signal cache.
    """
    seq, position = repo.freshness(session)
    if seq > engine.version:
        rows = repo.doc_rows(session, since_seq=engine.version)
        engine.upsert(docs_from_rows(rows, Refs(session)), version=seq)
    return position


def rebuild_engine(session: Session, engine: SuggestEngine) -> None:
    """Full rebuild from the database, swapped in atomically (the engine answers meanwhile)."""
    seq, _ = repo.freshness(session)
    engine.replace_all(docs_from_rows(repo.doc_rows(session), Refs(session)), version=seq)


def build_engine(session: Session, analyzer: Analyzer) -> SuggestEngine:
    """The engine for the app's lifespan, sharing the search index's analyzer."""
    engine = SuggestEngine(analyzer)
    rebuild_engine(session, engine)
    return engine


# --- answering ------------------------------------------------------------------------------------


def _query(req: SuggestRequest) -> SuggestQuery:
    return SuggestQuery(
        text=req.text,
        department=req.department,
        sector=req.sector,
        kind=req.kind.value if req.kind else None,
        fiscal_year=req.fiscal_year,
        limit=req.limit,
    )


def _default_providers(session: Session, engine: SuggestEngine, position: int) -> tuple[SignalProvider, ...]:
    engine.usage.refresh(session, position)
    return (
        RelationalSignals(session, cache=engine.link_cache, outbox_position=position),
        UsageSignals(engine.usage),
    )


def check_sector(session: Session, engine: SuggestEngine, sector: str | None, field: str = "sector") -> None:
    """A sector the catalogue does not know is a mistake the caller should hear about (422)."""
    if not sector:
        return
    vocab = engine.snapshot.vocab
    if vocab.sectors.get(sector) >= 0 or sector in vocab.sector_codes or vocab.fields.get(field_of(sector)) >= 0:
        return
    if repo.sector_known(session, sector):
        return
    raise ValidationFailed(
        "Unknown sector",
        errors=[FieldError(field=field, message=f"行业领域“{sector}”不在目录中:请用目录中的行业名称或代码,或留空由系统推断")],
    )


def _signals(providers: Sequence[SignalProvider], query: SuggestQuery) -> dict[str, Signal]:
    merged: dict[str, Signal] = {}
    for provider in providers:
        for code, sig in provider.signals(query).items():
            if code not in merged or merged[code].weight < sig.weight:
                merged[code] = sig
    return merged


def suggest(
    session: Session,
    engine: SuggestEngine,
    request: SuggestRequest,
    *,
    providers: Sequence[SignalProvider] | None = None,
) -> SuggestResponse:
    """Suggestions for one target text (the engine is refreshed from the change counter first).

    ``providers`` default to the relational links of the department (duties, goals, past targets).
    """
    position = refresh_engine(session, engine)
    check_sector(session, engine, request.sector)
    chosen = _default_providers(session, engine, position) if providers is None else providers
    query = _query(request)
    return response_of(engine.suggest(query, signals=_signals(chosen, query)), department=request.department)


def suggest_batch(
    session: Session,
    engine: SuggestEngine,
    request: SuggestBatchRequest,
    *,
    providers: Sequence[SignalProvider] | None = None,
) -> SuggestBatchResponse:
    """Suggestions for up to 100 texts, in order, against one snapshot of the catalogue."""
    position = refresh_engine(session, engine)
    for n, item in enumerate(request.items):
        check_sector(session, engine, item.sector, field=f"items.{n}.sector")
    chosen = _default_providers(session, engine, position) if providers is None else providers
    results = []
    for item in request.items:
        query = _query(item)
        results.append(
            response_of(engine.suggest(query, signals=_signals(chosen, query)), department=item.department)
        )
    return SuggestBatchResponse(results=results)


# --- shaping -------------------------------------------------------------------------------------


def _symbol(cmp: Comparator | None) -> str | None:
    return COMPARATOR_SYMBOLS[cmp] if cmp is not None else None


def indicator_out(doc: SuggestDoc) -> SuggestedIndicator:
    cmp = Comparator(doc.comparator) if doc.comparator else None
    return SuggestedIndicator(
        code=doc.code,
        name=doc.name,
        kind=Kind(doc.kind),
        status=doc.status,
        level1=doc.level1,
        level2=doc.level2,
        unit=doc.unit,
        comparator=cmp,
        comparator_symbol=_symbol(cmp),
        value=doc.value,
        raw_value=doc.raw_value,
        sector=doc.sector,
        sector_code=doc.sector_code,
        department=doc.department,
        department_code=doc.department_code,
    )


def _item(s: Suggestion) -> SuggestionItem:
    p = s.proposed
    proposed = None
    if p is not None:
        proposed = ProposedValue(
            comparator=p.comparator,
            comparator_symbol=COMPARATOR_SYMBOLS[p.comparator],
            value=p.value,
            value_max=p.value_max,
            unit=p.unit,
            span=list(p.span),
            text=p.source,
        )
    return SuggestionItem(
        indicator=indicator_out(s.doc),
        score=s.score,
        dimension=s.dimension.label,
        reasons=list(s.reasons),
        matched_terms=list(s.matched_terms),
        proposed=proposed,
        confidence=s.confidence,
        probability=s.probability,
        generic_sectors=s.generic_sectors,
    )


def _raw_value(d: Draft) -> str | None:
    if d.value is None:
        return None
    value = format_number(d.value) if isinstance(d.value, float) else str(d.value)
    if d.value_max is not None:
        value += "-" + format_number(d.value_max)
    return f"{COMPARATOR_SYMBOLS[d.comparator]}{value}{d.unit or ''}"


def draft_out(d: Draft, guess: FieldGuess, department: str | None) -> DraftOut:
    level1, level2 = d.levels
    raw = _raw_value(d)
    fields = DraftFields(
        name=d.name,
        level1=level1,
        level2=level2,
        unit=d.unit,
        comparator=d.comparator if d.value is not None or d.comparator is Comparator.qualitative else None,
        value=d.value,
        raw_value=raw,
        sector=guess.sector,
        department=department,
        definition=f"按绩效目标起草:{d.source}" if d.source else None,
    )
    return DraftOut(
        name=d.name,
        level1=level1,
        level2=level2,
        dimension=d.dimension.label,
        unit=d.unit,
        comparator=d.comparator,
        comparator_symbol=COMPARATOR_SYMBOLS[d.comparator],
        value=d.value,
        value_max=d.value_max,
        span=list(d.span) if d.span else None,
        text=d.source,
        reason=d.reason,
        proposal_item=DraftProposalItem(fields=fields, reason=d.reason),
    )


def _field(g: FieldGuess) -> FieldOut:
    return FieldOut(
        name=g.name,
        sector=g.sector,
        confidence=g.confidence,
        label=g.label if g.name else "低",
        source=g.source,
        evidence=list(g.evidence),
    )


def _coverage(c: Coverage) -> CoverageOut:
    return CoverageOut(
        present=[d.label for d in c.present],
        missing=[d.label for d in c.missing],
        fillers=[
            Filler(
                dimension=f.dimension.label,
                indicator=indicator_out(f.doc),
                score=f.score,
                reasons=list(f.reasons),
            )
            for f in c.fillers
        ],
    )


def _parsed(e: Extraction, field: FieldGuess) -> ParsedOut:
    return ParsedOut(
        quantities=[
            QuantityOut(
                text=q.text,
                span=list(q.span),
                value=q.value,
                value_max=q.value_max,
                unit=q.unit,
                comparator=q.comparator,
                comparator_symbol=_symbol(q.comparator),
                change=q.change,
                context=q.context,
                object=q.object,
            )
            for q in e.quantities
        ],
        deadlines=[DeadlineOut(text=d.text, span=list(d.span), date=d.date) for d in e.deadlines],
        field=_field(field),
    )


def response_of(result: SuggestResult, *, department: str | None = None) -> SuggestResponse:
    """The API answer; ``department`` (as the caller gave it) goes into the drafts' proposal items."""
    return SuggestResponse(
        items=[_item(s) for s in result.items],
        drafts=[draft_out(d, result.field, department) for d in result.drafts],
        coverage=_coverage(result.coverage),
        parsed=_parsed(result.extraction, result.field),
    )
